//! The console's files, embedded in the binary, and the headers every one is served with.

use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderName, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::response::{IntoResponse, Response};

pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const SCRIPT: &str = "text/javascript; charset=utf-8";
const STYLE: &str = "text/css; charset=utf-8";

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_str!(concat!("assets/", $name)),
        }
    };
}

/// Every file the console has; nothing else under `/console/` is served.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("console.css", STYLE),
    asset!("app.js", SCRIPT),
    asset!("api.js", SCRIPT),
    asset!("dom.js", SCRIPT),
    asset!("chart.js", SCRIPT),
    asset!("signin.js", SCRIPT),
    asset!("resources.js", SCRIPT),
    asset!("runs.js", SCRIPT),
    asset!("serving.js", SCRIPT),
    asset!("secrets.js", SCRIPT),
    asset!("activity.js", SCRIPT),
];

/// No inline script or style, nothing from another origin, never framed.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";

pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

/// The headers every page the console's browser loads carries: the policy, no framing, no
/// sniffing, no referrer.
pub fn page_security_headers() -> [(HeaderName, HeaderValue); 4] {
    [
        (
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
        ),
        (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    ]
}

impl IntoResponse for &'static Asset {
    fn into_response(self) -> Response {
        let headers: [(HeaderName, HeaderValue); 2] = [
            (CONTENT_TYPE, HeaderValue::from_static(self.content_type)),
            // The files change with the binary; a browser must not keep an old script.
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ];
        (page_security_headers(), headers, self.body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_console_file_carries_inline_script_or_style() {
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".html")) {
            assert!(!asset.body.contains("<script>"), "{}", asset.name);
            assert!(!asset.body.contains("style="), "{}", asset.name);
            assert!(!asset.body.contains("<style"), "{}", asset.name);
            assert!(!asset.body.contains("onclick"), "{}", asset.name);
        }
    }

    #[test]
    fn scripts_never_touch_web_storage_or_write_html() {
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            for forbidden in ["localStorage", "sessionStorage", "innerHTML", "eval("] {
                assert!(
                    !asset.body.contains(forbidden),
                    "{} uses {forbidden}",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn every_module_a_script_imports_is_served() {
        let mut imports = 0;
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            for rest in asset.body.split("from \"./").skip(1) {
                let target = rest.split('"').next().unwrap_or_default();
                assert!(find(target).is_some(), "{} imports {target}", asset.name);
                imports += 1;
            }
        }
        assert!(imports > 10, "the imports were not found at all");
    }
}
