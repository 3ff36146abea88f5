//! The console's cookies: their names, and reading one from a request.

use axum::http::header::COOKIE;
use axum::http::HeaderMap;

/// The session cookie (HttpOnly: scripts never see it).
pub const SESSION_COOKIE: &str = "orgdrive_session";
/// The language the switch chose.
pub const LANG_COOKIE: &str = "orgdrive_lang";

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        let both = HeaderValue::from_static("x_orgdrive_session=evil; orgdrive_session=good");
        headers.insert(COOKIE, both);
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("good"));
        assert_eq!(cookie(&headers, "nothing"), None);
    }
}
