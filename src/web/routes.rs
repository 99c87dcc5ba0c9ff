//! Thin handlers: read the body, run the pipeline, answer.

use std::time::Instant;

use actix_web::{web, HttpResponse};
use futures::StreamExt;

use super::error::ApiError;
use super::AppState;
use crate::pipeline::{self, CallOutcome};
use crate::services::{self, discovery as discovery_document};

/// `GET /cds-services`: the templates built at start-up from the configured terminology.
pub async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(discovery_document(&state.settings.gather.templates))
}

/// Reads the body up to `limit` bytes (413 beyond), without trusting Content-Length alone.
pub(super) async fn read_body(
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => ApiError::TooLarge { limit },
            other => ApiError::Payload(other.to_string()),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `POST /cds-services/{id}`: reads the body, hands it to the pipeline on the compute pool,
/// records the metrics and the audit, answers.
pub async fn hook(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let id = path.into_inner();
    let Some(service) = services::service(&id) else {
        metrics::counter!("cds_hook_calls_total", "service" => "unknown", "outcome" => CallOutcome::NotFound.as_str())
            .increment(1);
        return Err(ApiError::UnknownService(id));
    };
    let call = run_on_pool(&state, service, &req, payload).await;
    if let Ok(call) = &call {
        if let Ok(outcome) = &call.result {
            for (topic, indicator) in outcome.card_labels() {
                metrics::counter!("cds_cards_total", "topic" => topic, "indicator" => indicator)
                    .increment(1);
            }
        }
        call.log_answered(started.elapsed());
    }
    let outcome = match &call {
        Ok(call) => call.outcome(),
        Err(e) => e.call_outcome(),
    };
    metrics::counter!("cds_hook_calls_total", "service" => service.id, "outcome" => outcome.as_str())
        .increment(1);
    metrics::histogram!("cds_hook_duration_seconds", "service" => service.id)
        .record(started.elapsed().as_secs_f64());
    let call = call?;
    // Issue 6 §2: every answered call is audited, off the answer path (a queue, never a wait).
    let profile = state.settings.rules.profile.as_str();
    if let Some(record) = call.audit_record(profile, started.elapsed()) {
        state.store.record_decision(record);
    }
    let outcome = call.result?;
    Ok(HttpResponse::Ok().json(outcome.response))
}

/// Reads the body (413 beyond `server.body_limit_bytes`) and runs the pipeline on the compute
/// pool, never on this worker (src/web/compute.rs): the request timeout fires on time and the
/// worker stays free.
async fn run_on_pool(
    state: &web::Data<AppState>,
    service: services::Service,
    req: &actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<pipeline::Call, ApiError> {
    let limit = state.settings.body_limit_bytes;
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge { limit });
    }
    let body = read_body(payload, limit).await?.freeze();
    let today = state
        .settings
        .fixed_today
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let compute = state.compute.clone();
    let state = state.clone();
    // serde_json stops at 128 levels of nesting: a deep body is an error, not a crash.
    let work = async move {
        pipeline::call(&body, service, &state.settings, state.fhir.as_ref(), today).await
    };
    compute.run(work).await.map_err(ApiError::Internal)
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: configuration loaded and the store open and writable. It needs no
/// authentication, so it says only ready or not and which component is not: the SQLite path or
/// the PostgreSQL user, host and database are in the log, never in the answer (issue 17 item 9).
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.readiness().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        Err(e) => {
            tracing::warn!(component = "store", error = %e, "not ready: store unavailable");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({
                "status": "unavailable",
                "component": "store",
            }))
        }
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    match &state.metrics {
        Some(handle) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(handle.render()),
        None => HttpResponse::ServiceUnavailable().body("metrics recorder not installed"),
    }
}
