//! Limits on hook and feedback calls (`POST /cds-services/...`): at most
//! `server.max_concurrent_hooks` in progress (beyond: `503` at once, with `Retry-After`, rather
//! than an unbounded queue) and `server.request_timeout_ms` per call (beyond: `503`). The body
//! limit (413) and the JSON depth limit are in the handler.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use tokio::sync::Semaphore;

use super::error::operation_outcome;
use super::AppState;

/// The 503 answer, with `Retry-After`.
pub fn unavailable(diagnostics: &str) -> HttpResponse {
    let mut response = operation_outcome(
        StatusCode::SERVICE_UNAVAILABLE,
        "transient",
        None,
        diagnostics,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

/// A call that took longer than `server.request_timeout_ms`.
#[derive(Debug, thiserror::Error)]
#[error("the call took longer than the configured timeout")]
pub struct TimedOut;

impl actix_web::ResponseError for TimedOut {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> HttpResponse {
        unavailable(&self.to_string())
    }
}

/// The slots of concurrent hook calls.
pub fn hook_slots(max: usize) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(max.clamp(1, Semaphore::MAX_PERMITS)))
}

/// The middleware (`actix_web::middleware::from_fn(limit_hooks)`).
pub async fn limit_hooks(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limited = req.method() == Method::POST && req.path().starts_with("/cds-services/");
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let Some(state) = state.filter(|_| limited) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let Ok(_permit) = state.hook_slots.clone().try_acquire_owned() else {
        tracing::warn!(
            max = state.settings.max_concurrent_hooks,
            "too many hook calls in progress; 503"
        );
        metrics::counter!("cds_hook_rejected_total", "reason" => "concurrency").increment(1);
        return Ok(req.into_response(unavailable("too many calls in progress; retry shortly")));
    };
    let timeout = state.settings.request_timeout;
    let is_feedback = req
        .path()
        .strip_prefix("/cds-services/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, tail)| tail == "feedback");
    if is_feedback {
        // Feedback applies the timeout itself (src/web/feedback.rs): cut off here, a write
        // already handed to the store would commit behind a 503, and the EHR's retry would
        // count the override twice (issue 17 item 7).
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    match tokio::time::timeout(timeout, next.call(req)).await {
        Ok(res) => res.map(ServiceResponse::map_into_boxed_body),
        Err(_) => {
            tracing::warn!(
                timeout_ms = timeout.as_millis() as u64,
                "hook call timed out; 503"
            );
            metrics::counter!("cds_hook_rejected_total", "reason" => "timeout").increment(1);
            // No HttpRequest is kept (the handler needs it unshared): the error renders the 503.
            Err(TimedOut.into())
        }
    }
}
