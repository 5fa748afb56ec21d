//! A refused single sign-on, as a browser sees it: the provider sent the user back here, so the
//! answer is a page (the same status and reason the JSON answer would give, and the console's
//! headers) with a way back to the sign-in page, not a JSON body.

use crate::console::assets::page_security_headers;
use crate::error::AnsweredError;
use axum::body::Body;
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

/// Whether the request came from a browser's navigation (it asks for HTML first).
pub fn wants_a_page(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

fn escaped(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            other => other.to_string(),
        })
        .collect()
}

/// The refusal `json` answered with, as a page: status, headers and the activity log's record
/// of the reason are kept.
pub fn as_page(json: Response) -> Response {
    let (mut parts, _) = json.into_parts();
    let reason = parts
        .extensions
        .get::<AnsweredError>()
        .map(|answered| answered.message.clone())
        .unwrap_or_default();
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Sign-in refused · casemate</title>\
         <link rel=\"stylesheet\" href=\"/console/console.css\"></head>\
         <body><main><h1>Single sign-on did not sign you in</h1>\
         <p class=\"error\">{}</p><p><a href=\"/\">Back to sign-in</a></p></main></body></html>\n",
        escaped(&reason)
    );
    parts.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts
        .headers
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in page_security_headers() {
        parts.headers.insert(name, value);
    }
    Response::from_parts(parts, Body::from(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_reason_is_shown_as_text() {
        assert_eq!(
            escaped("answered <script>\"x\"&'y'</script>"),
            "answered &lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn only_a_navigation_asking_for_html_gets_the_page() {
        let mut headers = HeaderMap::new();
        assert!(!wants_a_page(&headers));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_a_page(&headers));
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"),
        );
        assert!(wants_a_page(&headers));
    }
}
