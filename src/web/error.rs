//! **The only place an error becomes an HTTP response.** Every error body is a FHIR
//! `OperationOutcome` whose `issue[].diagnostics` names the offending field (docs/wire-contract.md).
//!
//! | Error | Status | `issue.code` |
//! |---|---|---|
//! | body not JSON, too deep, a field missing or malformed, wrong hook | 400 | `invalid` / `required` |
//! | unknown service id | 404 | `not-found` |
//! | FHIR data unobtainable and no alemtuzumab order (or `strict_412`) | 412 | `incomplete` |
//! | body over `server.body_limit_bytes` | 413 | `too-long` |
//! | `POST` whose `Content-Type` is not JSON (src/web/guard.rs) | 415 | `not-supported` |
//! | local mode, `Host` not loopback (src/web/guard.rs) | 403 | `forbidden` |
//! | feedback store not open or not writable | 503 | `transient` |
//! | the call's work failed inside the service (a panic, caught) | 500 | `exception` |
//!
//! A rule that could not check is never an error: it is a `data-unavailable` card.
//!
//! [`operation_outcome`] builds every OperationOutcome the service answers, these and the others:
//! `401` (src/web/auth.rs, src/web/admin.rs), `503` of the limits (src/web/limits.rs), the admin
//! report's `400`/`404` (src/web/admin.rs) and the `404` of an unknown path (src/startup.rs).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::pipeline::{CallOutcome, PipelineError};
use crate::wire::request::FieldError;

/// The one OperationOutcome builder: a `status` answer of `application/fhir+json` with one
/// `error` issue of `code`, its `diagnostics` and, when the fault is in one place, its
/// `expression`. Callers add their headers (`Retry-After`, `WWW-Authenticate`, ...).
pub fn operation_outcome(
    status: StatusCode,
    code: &str,
    expression: Option<&str>,
    diagnostics: &str,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/fhir+json")
        .json(outcome_body(code, expression, diagnostics))
}

/// The OperationOutcome resource of [`operation_outcome`].
fn outcome_body(code: &str, expression: Option<&str>, diagnostics: &str) -> serde_json::Value {
    let mut issue = json!({
        "severity": "error",
        "code": code,
        "diagnostics": diagnostics,
    });
    if let Some(e) = expression {
        issue["expression"] = json!([e]);
    }
    json!({"resourceType": "OperationOutcome", "issue": [issue]})
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request body is not valid JSON: {0}")]
    NotJson(String),
    #[error("{0}")]
    Field(#[from] FieldError),
    #[error("no CDS service `{0}` here; GET /cds-services lists them")]
    UnknownService(String),
    #[error("the FHIR data needed could not be obtained: {0}")]
    PreconditionFailed(String),
    #[error("request body is larger than the configured limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("reading the request body failed: {0}")]
    Payload(String),
    /// The feedback could not be stored durably: the client should retry (issue 6 §5).
    #[error("the feedback store is unavailable, nothing was stored; retry later ({0})")]
    StoreUnavailable(String),
    /// Issue 17 item 11: a page can POST `text/plain` without a CORS preflight.
    #[error("Content-Type `{0}` is not accepted: send application/json or application/fhir+json")]
    UnsupportedMediaType(String),
    /// The call's work failed inside the service (a panic caught on the compute pool).
    #[error("the call could not be completed: {0}")]
    Internal(String),
    /// Issue 17 item 11: in local mode only a loopback `Host` is served (DNS rebinding).
    #[error("Host `{0}` is not loopback: without authentication configured, only localhost, 127.0.0.1 or [::1] is served")]
    NotLoopbackHost(String),
}

impl ApiError {
    fn code_and_expression(&self) -> (&'static str, Option<&str>) {
        match self {
            ApiError::NotJson(_) | ApiError::Payload(_) => ("invalid", Some("(body)")),
            ApiError::Field(f) if f.message == "is required" => ("required", Some(&f.field)),
            ApiError::Field(f) => ("invalid", Some(&f.field)),
            ApiError::UnknownService(_) => ("not-found", None),
            ApiError::PreconditionFailed(_) => ("incomplete", Some("prefetch")),
            ApiError::TooLarge { .. } => ("too-long", Some("(body)")),
            ApiError::StoreUnavailable(_) => ("transient", None),
            ApiError::UnsupportedMediaType(_) => ("not-supported", Some("Content-Type")),
            ApiError::NotLoopbackHost(_) => ("forbidden", Some("Host")),
            ApiError::Internal(_) => ("exception", None),
        }
    }

    /// The OperationOutcome body.
    pub fn outcome(&self) -> serde_json::Value {
        let (code, expression) = self.code_and_expression();
        outcome_body(code, expression, &self.to_string())
    }

    /// How a hook call refused with this error ended (the `outcome` label of
    /// `cds_hook_calls_total`).
    pub fn call_outcome(&self) -> CallOutcome {
        match self {
            ApiError::PreconditionFailed(_) => CallOutcome::PreconditionFailed,
            ApiError::TooLarge { .. } => CallOutcome::TooLarge,
            ApiError::UnknownService(_) => CallOutcome::NotFound,
            ApiError::Internal(_) => CallOutcome::Error,
            ApiError::NotJson(_)
            | ApiError::Field(_)
            | ApiError::Payload(_)
            | ApiError::StoreUnavailable(_)
            | ApiError::UnsupportedMediaType(_)
            | ApiError::NotLoopbackHost(_) => CallOutcome::BadRequest,
        }
    }
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::NotJson(m) => ApiError::NotJson(m),
            PipelineError::Field(f) => ApiError::Field(f),
            PipelineError::Precondition(m) => ApiError::PreconditionFailed(m),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotJson(_) | ApiError::Field(_) | ApiError::Payload(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::UnknownService(_) => StatusCode::NOT_FOUND,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotLoopbackHost(_) => StatusCode::FORBIDDEN,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        tracing::info!(status = self.status_code().as_u16(), error = %self, "hook call refused");
        let (code, expression) = self.code_and_expression();
        let mut response =
            operation_outcome(self.status_code(), code, expression, &self.to_string());
        if let ApiError::StoreUnavailable(_) = self {
            // The EHR should retry a feedback that was not stored (RFC 9110 §10.2.3).
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_error_names_the_field_in_diagnostics_and_expression() {
        let e = ApiError::from(FieldError::missing("context.draftOrders"));
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
        let oo = e.outcome();
        assert_eq!(oo["resourceType"], "OperationOutcome");
        assert_eq!(oo["issue"][0]["expression"][0], "context.draftOrders");
        assert!(oo["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("context.draftOrders"));
    }
}
