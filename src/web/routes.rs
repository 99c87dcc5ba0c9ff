//! Thin handlers: read the body, run the pipeline, answer.

use std::time::Instant;

use actix_web::{web, HttpResponse};
use futures::StreamExt;
use tracing::field::Empty;
use tracing::Instrument;

use super::error::ApiError;
use super::AppState;
use crate::pipeline::{self, PipelineError};
use crate::services::{self, discovery as discovery_document};
use crate::wire::request::{HookRequest, ReadError};

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

/// `POST /cds-services/{id}`.
pub async fn hook(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let id = path.into_inner();
    let settings = &state.settings;
    let Some(service) = services::service(&id) else {
        metrics::counter!("cds_hook_calls_total", "service" => "unknown", "outcome" => "not_found")
            .increment(1);
        return Err(ApiError::UnknownService(id));
    };
    let limit = settings.body_limit_bytes;
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // (hookInstance, patientId) once the request is read, for the decision audit.
    let mut audit_ids: Option<(String, String)> = None;
    let result = async {
        if declared.is_some_and(|n| n > limit) {
            return Err(ApiError::TooLarge { limit });
        }
        let body = read_body(payload, limit).await?.freeze();
        let today = settings
            .fixed_today
            .unwrap_or_else(|| chrono::Local::now().date_naive());
        // Parsing, gathering and the rules run on the compute pool, never on this worker
        // (src/web/compute.rs): the request timeout fires on time and the worker stays free.
        let work_state = state.clone();
        let work = async move {
            let state = work_state;
            // Read once, the prefetch kept as text borrowed from `body` (issue 13 §2).
            // serde_json stops at 128 levels of nesting: a deep body is an error, not a crash.
            let request = HookRequest::from_slice(&body).map_err(|e| match e {
                ReadError::NotJson(m) => ApiError::NotJson(m),
                ReadError::Field(f) => ApiError::Field(f),
            })?;
            let ids = (
                request.hook_instance.clone(),
                request.context.patient_id().to_owned(),
            );
            let span = tracing::info_span!(
                "hook",
                service = service.id,
                hook_instance = %request.hook_instance,
                cards = Empty,
                duration_ms = Empty,
            );
            // The span is attached to the future (`Instrument`), never entered across an
            // `.await`: an entered guard stays on the thread's span stack when the future
            // yields, and spans pile up on every later log line of that thread.
            let outcome = pipeline::run(
                request,
                service,
                &state.settings,
                state.fhir.as_ref(),
                today,
            )
            .instrument(span.clone())
            .await;
            Ok::<_, ApiError>((ids, span, outcome))
        };
        let (ids, span, outcome) = state
            .compute
            .run(work)
            .await
            .map_err(ApiError::Internal)??;
        audit_ids = Some(ids);
        let outcome = outcome.map_err(|e| match e {
            PipelineError::Field(f) => ApiError::Field(f),
            PipelineError::Precondition(m) => ApiError::PreconditionFailed(m),
        })?;
        for card in &outcome.response.cards {
            let topic = card
                .source
                .topic
                .as_ref()
                .map(|t| t.code.clone())
                .unwrap_or_default();
            let indicator = card.indicator.as_str();
            metrics::counter!("cds_cards_total", "topic" => topic, "indicator" => indicator)
                .increment(1);
        }
        let elapsed = started.elapsed();
        span.record("cards", outcome.response.cards.len());
        span.record("duration_ms", elapsed.as_secs_f64() * 1000.0);
        span.in_scope(|| {
            tracing::info!(
                orders = outcome.data.draft_orders.len(),
                alemtuzumab_orders = outcome.data.orders.len(),
                gaps = outcome.data.facts.gaps.len(),
                "hook answered"
            )
        });
        Ok(outcome)
    }
    .await;
    let outcome_label = match &result {
        Ok(_) => "ok",
        Err(e) => match e {
            ApiError::PreconditionFailed(_) => "precondition_failed",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::Internal(_) => "error",
            _ => "bad_request",
        },
    };
    metrics::counter!("cds_hook_calls_total", "service" => service.id, "outcome" => outcome_label)
        .increment(1);
    metrics::histogram!("cds_hook_duration_seconds", "service" => service.id)
        .record(started.elapsed().as_secs_f64());
    // Issue 6 §2: every answered call is audited, off the answer path (a queue, never a wait).
    let status = match &result {
        Ok(_) => Some(200),
        Err(ApiError::PreconditionFailed(_)) => Some(412),
        Err(_) => None,
    };
    if let (Some(status), Some((hook_instance, patient_id))) = (status, audit_ids) {
        let call = pipeline::CallInfo {
            hook_instance,
            service: service.id.to_owned(),
            hook: services::hook_name(service.hook).to_owned(),
            patient_id: Some(patient_id),
            status,
            profile: settings.rules.profile.as_str().to_owned(),
            latency: started.elapsed(),
        };
        let record = pipeline::audit_record(call, result.as_ref().ok());
        state.store.record_decision(record);
    }
    let outcome = result?;
    Ok(HttpResponse::Ok().json(outcome.response))
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
