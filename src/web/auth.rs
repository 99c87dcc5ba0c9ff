//! The JWT guard: an app-wide `from_fn` middleware. Default deny: with issuers configured every
//! request needs a valid JWT except CORS preflights, `/healthz`, `/readyz` and `/metrics`;
//! discovery (`GET /cds-services`) needs one only with `auth.discovery_requires_auth`, but a
//! token sent there anyway is verified.
//!
//! The `aud` accepted is the URL called (CDS Hooks 2.0: `public_url` + path): discovery
//! `{public_url}/cds-services`, a hook `{public_url}/cds-services/{id}`, feedback
//! `{public_url}/cds-services/{id}/feedback` and, for compatibility with clients that sign feedback
//! with the hook's URL, `{public_url}/cds-services/{id}`. An issuer's configured `audiences` are
//! accepted too (`crate::auth::jwt`).
//!
//! `GET /admin/report` is left to its own credential (`[admin] tokens`, src/web/admin.rs).
//!
//! A refusal is `401` with `WWW-Authenticate: Bearer` and an OperationOutcome that says
//! "unauthorized" and nothing more; the reason goes to the log (never the token).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use super::error::operation_outcome;
use super::AppState;

/// The `iss` of the JWT a request was verified with, in the request's extensions for the
/// handlers (feedback stores it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIssuer(pub String);

/// What a request must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The `aud` values accepted for this endpoint (the first is the URL called).
    pub audiences: Vec<String>,
    /// `false`: a call without `Authorization` passes, one with it is verified.
    pub token_required: bool,
}

/// What a request must carry, or `None` when no JWT is looked at.
pub fn requirement(
    method: &Method,
    path: &str,
    public_url: &str,
    discovery_requires_auth: bool,
) -> Option<Requirement> {
    if method == Method::OPTIONS {
        return None;
    }
    if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return None;
    }
    // The committee's report has its own bearer token, never an EHR JWT (src/web/admin.rs).
    if path == "/admin/report" {
        return None;
    }
    let required = |audiences: Vec<String>| {
        Some(Requirement {
            audiences,
            token_required: true,
        })
    };
    if path == "/cds-services" || path == "/cds-services/" {
        let mut audiences = vec![format!("{public_url}/cds-services")];
        if path.ends_with('/') {
            audiences.push(format!("{public_url}{path}"));
        }
        return Some(Requirement {
            audiences,
            token_required: discovery_requires_auth,
        });
    }
    if let Some(rest) = path.strip_prefix("/cds-services/") {
        let mut parts = rest.splitn(2, '/');
        let id = parts.next().unwrap_or("");
        if parts.next() == Some("feedback") {
            return required(vec![
                format!("{public_url}/cds-services/{id}/feedback"),
                format!("{public_url}/cds-services/{id}"),
            ]);
        }
    }
    required(vec![format!("{public_url}{path}")])
}

/// The 401 answer.
pub fn unauthorized() -> HttpResponse {
    let mut response = operation_outcome(StatusCode::UNAUTHORIZED, "login", None, "unauthorized");
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
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
    let Some(requirement) = requirement(
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
    let present = req.headers().get(header::AUTHORIZATION);
    if present.is_none() && !requirement.token_required {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    // A header that is not visible ASCII counts as malformed, not as absent.
    let authorization = present.map(|v| v.to_str().unwrap_or("\u{fffd}"));
    match auth
        .verify(authorization, &requirement.audiences, state.replay.as_ref())
        .await
    {
        Ok(v) => {
            tracing::debug!(iss = %v.iss, sub = ?v.sub, tenant = ?v.tenant, "JWT accepted");
            actix_web::HttpMessage::extensions_mut(&req).insert(VerifiedIssuer(v.iss.clone()));
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

    fn auds(r: Option<Requirement>) -> Vec<String> {
        r.map(|r| r.audiences).unwrap_or_default()
    }

    #[test]
    fn audiences_are_the_url_called_and_probes_are_open() {
        let p = "https://cds.example";
        let post = Method::POST;
        assert_eq!(
            auds(requirement(
                &post,
                "/cds-services/alemtuzumab-order-sign",
                p,
                false
            )),
            vec!["https://cds.example/cds-services/alemtuzumab-order-sign"]
        );
        // Feedback: the URL called, and the hook's URL for compatibility.
        assert_eq!(
            auds(requirement(&post, "/cds-services/x/feedback", p, false)),
            vec![
                "https://cds.example/cds-services/x/feedback",
                "https://cds.example/cds-services/x"
            ]
        );
        let discovery = requirement(&Method::GET, "/cds-services", p, false);
        assert_eq!(
            discovery,
            Some(Requirement {
                audiences: vec!["https://cds.example/cds-services".to_owned()],
                token_required: false,
            })
        );
        assert!(
            requirement(&Method::GET, "/cds-services", p, true).is_some_and(|r| r.token_required)
        );
        for probe in ["/healthz", "/readyz", "/metrics", "/admin/report"] {
            assert_eq!(requirement(&Method::GET, probe, p, true), None);
        }
        assert_eq!(
            requirement(&Method::OPTIONS, "/cds-services/x", p, true),
            None
        );
        let other = requirement(&Method::GET, "/anything", p, false);
        assert!(other.as_ref().is_some_and(|r| r.token_required));
        assert_eq!(auds(other), vec!["https://cds.example/anything"]);
        assert_eq!(
            auds(requirement(&post, "/cds-services/x/other", p, false)),
            vec!["https://cds.example/cds-services/x/other"]
        );
    }
}
