//! CORS for browser-based EHRs and the CDS Hooks Sandbox: preflights answered, `Authorization`
//! and `Content-Type` allowed. Origins: `auth.allowed_origins` exactly; in local mode also any
//! loopback origin (`http(s)://localhost|127.0.0.0/8|[::1]`, any port).

use actix_cors::Cors;
use actix_web::http::{header, Method};

use crate::config::Settings;

/// Whether `origin` (as sent in the `Origin` header) is a loopback origin.
pub fn is_loopback_origin(origin: &str) -> bool {
    url::Url::parse(origin)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && crate::net::is_loopback_host(&u))
}

/// The CORS middleware for these settings.
pub fn cors(settings: &Settings) -> Cors {
    let allowed = settings.auth.allowed_origins.clone();
    let local = settings.local_mode();
    Cors::default()
        .allowed_origin_fn(move |origin, _req| {
            let Ok(origin) = origin.to_str() else {
                return false;
            };
            allowed.iter().any(|a| a == origin) || (local && is_loopback_origin(origin))
        })
        .allowed_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins_are_recognised() {
        assert!(is_loopback_origin("http://127.0.0.1:8080"));
        assert!(is_loopback_origin("http://localhost:3000"));
        assert!(is_loopback_origin("http://[::1]:3000"));
        assert!(!is_loopback_origin("http://127.0.0.1.evil.example"));
        assert!(!is_loopback_origin("https://sandbox.cds-hooks.org"));
        assert!(!is_loopback_origin("null"));
    }
}
