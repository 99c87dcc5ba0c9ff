//! Request guards against a web page in the user's browser (issue 17 item 11), an app-wide
//! `from_fn` middleware run after the JWT guard (src/web/auth.rs):
//!
//! - every `POST` must say `Content-Type: application/json` or `application/fhir+json`
//!   (parameters such as `charset` allowed), else `415`: a page can send `text/plain` without
//!   a CORS preflight, but not JSON;
//! - in local mode (no issuer configured, no `auth.allow_unauthenticated`) the `Host` must be loopback (`localhost`, `127.x.y.z`,
//!   `[::1]`, with or without a port), else `403`: a DNS-rebound name reaching this port is not.
//!   `/healthz` and `/readyz` are exempt (they say nothing, src/web/routes.rs).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

use super::error::ApiError;
use super::AppState;

/// Whether a `Content-Type` value is JSON as this service reads it.
pub fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.eq_ignore_ascii_case("application/fhir+json")
}

/// Whether a `Host` value (`name`, `name:port`, `[v6]:port`) names this machine's loopback.
pub fn is_loopback_host(value: &str) -> bool {
    let value = value.trim();
    let host = if let Some(rest) = value.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, port)) if port.is_empty() || port.strip_prefix(':').is_some_and(is_port) => h,
            _ => return false,
        }
    } else {
        match value.rsplit_once(':') {
            Some((h, port)) if is_port(port) => h,
            Some(_) => return false,
            None => value,
        }
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u16>().is_ok()
}

/// The middleware (`actix_web::middleware::from_fn(check_headers)`).
pub async fn check_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Local mode: no issuer, loopback bind. A closed test bench (`auth.allow_unauthenticated`,
    // src/config.rs) is reached by its own host name, so only the Content-Type check applies.
    let local = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.auth.is_none() && !s.settings.allow_unauthenticated);
    let probe = matches!(req.path(), "/healthz" | "/readyz");
    if local && !probe {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| req.uri().authority().map(|a| a.to_string()));
        if !host.as_deref().is_some_and(is_loopback_host) {
            let shown: String = host
                .unwrap_or_default()
                .chars()
                .take(100)
                .flat_map(char::escape_default)
                .collect();
            let e = ApiError::NotLoopbackHost(shown);
            return Ok(req.into_response(e.error_response()));
        }
    }
    if req.method() == Method::POST {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("\u{fffd}"));
        if !content_type.is_some_and(is_json_media_type) {
            let shown: String = content_type
                .unwrap_or("(none)")
                .chars()
                .take(100)
                .flat_map(char::escape_default)
                .collect();
            let e = ApiError::UnsupportedMediaType(shown);
            return Ok(req.into_response(e.error_response()));
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types_with_parameters_are_json() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            "application/fhir+json",
            "application/fhir+json; fhirVersion=4.0",
        ] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in [
            "",
            "text/plain",
            "text/plain; application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/jsonx",
        ] {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn loopback_hosts_with_or_without_port_are_loopback() {
        for ok in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.1.2.3:1",
            "[::1]",
            "[::1]:8080",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "10.0.0.1:8080",
            "[::2]:8080",
            "[::1]x",
            "[::1]8080",
            "localhost:",
            "localhost:99999",
            "0.0.0.0:8080",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
