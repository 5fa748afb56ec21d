//! The web console's session cookies and their CSRF token.
//!
//! The access token rides in an HttpOnly, Secure, SameSite=Strict cookie the page's script
//! cannot read; the refresh token in a second one sent only to the refresh route. A request
//! authenticated by the cookie that may change state must also carry `x-csrf-token`: a digest of
//! the access token, which a page on another origin can neither read nor compute. SameSite=Strict
//! already keeps cross-site requests from carrying the cookie; the token is the second wall.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64::Engine;
use casemate_types::Sensitive;

/// `__Host-`: the browser accepts it only Secure, from this exact host, for path `/`.
pub const ACCESS_COOKIE: &str = "__Host-casemate-session";
/// `__Secure-` (a path other than `/` rules out `__Host-`).
pub const REFRESH_COOKIE: &str = "__Secure-casemate-refresh";
/// The only path the refresh cookie is sent to.
pub const REFRESH_PATH: &str = "/console/session/refresh";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Put on a request by the gate when it was signed in by the console's access cookie: the token
/// it authenticated, so a handler never pairs a header-authenticated caller with a cookie.
#[derive(Clone)]
pub struct CookieSession(pub Sensitive);

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<Sensitive> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| Sensitive::new(value))
}

/// The CSRF token that goes with an access token.
pub fn csrf_token(access_token: &Sensitive) -> String {
    let mut input = b"casemate console csrf\0".to_vec();
    input.extend_from_slice(access_token.expose().as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(casemate_crypto::sha256(&input))
}

/// Whether the request carries the CSRF token of `access_token`, compared in constant time.
pub fn carries_csrf_token(headers: &HeaderMap, access_token: &Sensitive) -> bool {
    headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|presented| {
            casemate_crypto::constant_time_eq(
                presented.as_bytes(),
                csrf_token(access_token).as_bytes(),
            )
        })
}

/// `Set-Cookie` values that store the two tokens for their lifetimes.
pub fn set_cookies(
    access_token: &Sensitive,
    access_seconds: i64,
    refresh_token: Option<&Sensitive>,
    refresh_seconds: i64,
) -> Vec<String> {
    let mut cookies = vec![format!(
        "{ACCESS_COOKIE}={}; Path=/; Max-Age={access_seconds}; Secure; HttpOnly; SameSite=Strict",
        access_token.expose()
    )];
    if let Some(refresh) = refresh_token {
        cookies.push(format!(
            "{REFRESH_COOKIE}={}; Path={REFRESH_PATH}; Max-Age={refresh_seconds}; Secure; HttpOnly; SameSite=Strict",
            refresh.expose()
        ));
    }
    cookies
}

/// Binds a single sign-on to the browser that began it. `__Host-` keeps it to this exact host;
/// SameSite=Lax, not Strict, because it must come back on the provider's redirect (a cross-site
/// top-level GET), and it lives only as long as a sign-in may take.
pub const SSO_BINDING_COOKIE: &str = "__Host-casemate-sso";

pub fn sso_binding_cookie(binding: &Sensitive, seconds: i64) -> String {
    format!(
        "{SSO_BINDING_COOKIE}={}; Path=/; Max-Age={seconds}; Secure; HttpOnly; SameSite=Lax",
        binding.expose()
    )
}

pub fn clear_sso_binding_cookie() -> String {
    format!("{SSO_BINDING_COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax")
}

/// `Set-Cookie` values that make the browser forget both tokens.
pub fn clear_cookies() -> Vec<String> {
    vec![
        format!("{ACCESS_COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict"),
        format!(
            "{REFRESH_COOKIE}=; Path={REFRESH_PATH}; Max-Age=0; Secure; HttpOnly; SameSite=Strict"
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_named_cookie_is_found_among_others_and_an_empty_one_is_absent() {
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_static("a=1; __Host-casemate-session=tok"),
        );
        headers.append(
            COOKIE,
            HeaderValue::from_static("__Secure-casemate-refresh="),
        );
        assert_eq!(
            cookie(&headers, ACCESS_COOKIE).map(|s| s.expose().to_owned()),
            Some("tok".to_owned())
        );
        assert!(cookie(&headers, REFRESH_COOKIE).is_none());
        assert!(cookie(&headers, "b").is_none());
    }

    #[test]
    fn the_csrf_token_is_bound_to_its_access_token() {
        let token = Sensitive::new("v4.public.one");
        let mut headers = HeaderMap::new();
        assert!(!carries_csrf_token(&headers, &token));
        let value = HeaderValue::from_str(&csrf_token(&token)).unwrap();
        headers.insert(CSRF_HEADER, value);
        assert!(carries_csrf_token(&headers, &token));
        assert!(!carries_csrf_token(
            &headers,
            &Sensitive::new("v4.public.two")
        ));
    }
}
