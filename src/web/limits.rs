//! Limits on hook and feedback calls (`POST /cds-services/...`): at most
//! `server.max_concurrent_hooks` in progress (beyond: `503` at once, with `Retry-After`, rather
//! than an unbounded queue) and `server.request_timeout_ms` per call (beyond: `503`). The body
//! limit (413) and the JSON depth limit are in the handler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use futures::StreamExt;
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

/// The calls refused at the slots, logged at most once a second: at overload a line per `503`
/// (thousands a second) cost the CPU the admitted calls needed and flooded the log; the exact
/// count is `cds_hook_rejected_total{reason="concurrency"}`.
static REFUSALS: RefusalLog = RefusalLog::new();

struct RefusalLog {
    /// The second (since start, from 1) of the last line written; 0 before the first.
    logged_at: AtomicU64,
    /// Refusals not yet reported in a line.
    pending: AtomicU64,
}

impl RefusalLog {
    const fn new() -> Self {
        Self {
            logged_at: AtomicU64::new(0),
            pending: AtomicU64::new(0),
        }
    }

    /// Counts one refusal at `second`; `Some(n)` when a line is due: the first refusal of a new
    /// second, reporting it and those not reported yet.
    fn refused(&self, second: u64) -> Option<u64> {
        self.pending.fetch_add(1, Ordering::Relaxed);
        let last = self.logged_at.load(Ordering::Relaxed);
        let due = second > last
            && self
                .logged_at
                .compare_exchange(last, second, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        due.then(|| self.pending.swap(0, Ordering::Relaxed))
    }
}

/// Whole seconds since the first call of this function, from 1 (monotonic).
fn seconds_since_start() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs() + 1
}

/// A refused call's body is read and dropped when it is at most this long, so the connection
/// stays open for the client's next call.
const DRAIN_REFUSED_BODY_MAX: u64 = 256 * 1024;

/// How long reading a refused call's body may take.
const DRAIN_REFUSED_BODY_TIME: Duration = Duration::from_secs(1);

/// Reads and drops the body of a call about to be refused, when its `Content-Length` is at most
/// [`DRAIN_REFUSED_BODY_MAX`] and it arrives within [`DRAIN_REFUSED_BODY_TIME`]. actix-web closes
/// a connection whose request body was left unread: at overload every `503` then cost the EHR a
/// new connection (a TLS handshake in production) and the service an accept, exactly when it has
/// no CPU to spare (README §Operations). A larger or slower body keeps that behaviour: reading
/// it would cost more than the connection.
async fn drain_small_body(req: &mut ServiceRequest) {
    let small = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > 0 && n <= DRAIN_REFUSED_BODY_MAX);
    if !small {
        return;
    }
    let mut payload = req.take_payload();
    let drain = async {
        let mut read = 0u64;
        while let Some(Ok(chunk)) = payload.next().await {
            read += chunk.len() as u64;
            if read > DRAIN_REFUSED_BODY_MAX {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_REFUSED_BODY_TIME, drain).await;
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
        metrics::counter!("cds_hook_rejected_total", "reason" => "concurrency").increment(1);
        if let Some(refused) = REFUSALS.refused(seconds_since_start()) {
            tracing::warn!(
                max = state.settings.max_concurrent_hooks,
                refused,
                "too many hook calls in progress; 503 (logged at most once a second: `refused` \
                 counts the calls refused since the last such line)"
            );
        }
        let mut req = req;
        drain_small_body(&mut req).await;
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

#[cfg(test)]
mod tests {
    use super::RefusalLog;

    #[test]
    fn refusals_are_logged_once_a_second_with_the_count_since_the_last_line() {
        let log = RefusalLog::new();
        assert_eq!(log.refused(1), Some(1), "the first refusal is logged");
        assert_eq!(log.refused(1), None);
        assert_eq!(log.refused(1), None);
        assert_eq!(log.refused(2), Some(3), "the two not logged and this one");
        assert_eq!(log.refused(2), None);
        assert_eq!(log.refused(7), Some(2));
        assert_eq!(log.refused(7), None);
    }
}
