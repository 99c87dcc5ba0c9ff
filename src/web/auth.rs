//! The JWT guard: an app-wide `from_fn` middleware. Default deny: with issuers configured every
//! request needs a valid JWT except CORS preflights, `/healthz`, `/readyz`, `/metrics` and (unless
//! `auth.discovery_requires_auth`) `GET /cds-services`. The audience of `/cds-services/{id}` and
//! `/cds-services/{id}/feedback` is `server.public_url` + `/cds-services/{id}`.
//!
//! A refusal is `401` with `WWW-Authenticate: Bearer` and an OperationOutcome that says
//! "unauthorized" and nothing more; the reason goes to the log (never the token).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use super::AppState;

/// The audience a request must carry, or `None` when it needs no JWT.
pub fn required_audience(
    method: &Method,
    path: &str,
    public_url: &str,
    discovery_requires_auth: bool,
) -> Option<String> {
    if method == Method::OPTIONS {
        return None;
    }
    if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return None;
    }
    if path == "/cds-services" || path == "/cds-services/" {
        return discovery_requires_auth.then(|| format!("{public_url}/cds-services"));
    }
    if let Some(rest) = path.strip_prefix("/cds-services/") {
        let id = rest.split('/').next().unwrap_or("");
        return Some(format!("{public_url}/cds-services/{id}"));
    }
    Some(format!("{public_url}{path}"))
}

/// The 401 answer.
pub fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
        .content_type("application/fhir+json")
        .json(serde_json::json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "login", "diagnostics": "unauthorized"}]
        }))
}

/// The middleware (`actix_web::middleware::from_fn(require_jwt)`).
pub async fn require_jwt(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let Some((state, auth)) = state.and_then(|s| s.auth.clone().map(|a| (s, a))) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let settings = &state.settings;
    let Some(audience) = required_audience(
        req.method(),
        req.path(),
        &settings.public_url,
        settings.auth.discovery_requires_auth,
    ) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match auth
        .verify(authorization, &audience, state.replay.as_ref())
        .await
    {
        Ok(v) => {
            tracing::debug!(iss = %v.iss, sub = ?v.sub, tenant = ?v.tenant, "JWT accepted");
            next.call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body)
        }
        Err(e) => {
            let path: String = req.path().chars().take(200).collect();
            tracing::warn!(reason = %e, %path, "unauthorized call refused");
            metrics::counter!("cds_auth_refused_total", "reason" => e.label()).increment(1);
            Ok(req.into_response(unauthorized()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_name_the_service_called_and_probes_are_open() {
        let p = "https://cds.example";
        let post = Method::POST;
        assert_eq!(
            required_audience(&post, "/cds-services/alemtuzumab-order-sign", p, false).as_deref(),
            Some("https://cds.example/cds-services/alemtuzumab-order-sign")
        );
        assert_eq!(
            required_audience(&post, "/cds-services/x/feedback", p, false).as_deref(),
            Some("https://cds.example/cds-services/x")
        );
        assert_eq!(
            required_audience(&Method::GET, "/cds-services", p, false),
            None
        );
        assert!(required_audience(&Method::GET, "/cds-services", p, true).is_some());
        for probe in ["/healthz", "/readyz", "/metrics"] {
            assert_eq!(required_audience(&Method::GET, probe, p, true), None);
        }
        assert_eq!(
            required_audience(&Method::OPTIONS, "/cds-services/x", p, true),
            None
        );
        assert!(required_audience(&Method::GET, "/anything", p, false).is_some());
    }
}
