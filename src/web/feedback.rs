//! `POST /cds-services/{id}/feedback` (CDS Hooks 2.0 §Feedback): validates, flags what does not
//! match an issued card, stores, and answers 200 only once the store has committed (issue 6 §1).
//!
//! `server.request_timeout_ms` is applied here, not in src/web/limits.rs: past it, before the
//! rows are written, the transaction is rolled back and the answer is 503 (nothing stored);
//! once the commit has started it is waited for and the answer is 200 (issue 17 item 7).
//! Storing is idempotent: an item already stored is not stored again, so a retry answers 200.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use chrono::Utc;

use super::error::ApiError;
use super::routes::read_body;
use super::AppState;
use crate::services;
use crate::store::model::FeedbackRecord;
use crate::wire::feedback::parse_feedback;

/// How long a feedback waits for the audit of the call it answers to be written: the EHR may
/// send the feedback within milliseconds of the hook answer, before the batch writer ran.
const AUDIT_FLUSH_WAIT: Duration = Duration::from_secs(2);

pub async fn feedback(
    state: web::Data<AppState>,
    request: actix_web::HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let issuer = actix_web::HttpMessage::extensions(&request)
        .get::<super::auth::VerifiedIssuer>()
        .map(|i| i.0.clone());
    let deadline = tokio::time::Instant::now() + state.settings.request_timeout;
    let id = path.into_inner();
    let Some(service) = services::service(&id) else {
        return Err(ApiError::UnknownService(id));
    };
    let body = tokio::time::timeout_at(
        deadline,
        read_body(payload, state.settings.body_limit_bytes),
    )
    .await
    .map_err(|_| timed_out())??;
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::NotJson(e.to_string()))?;
    let items = parse_feedback(value)?;
    let store = &state.store;
    let flush_by = deadline.min(tokio::time::Instant::now() + AUDIT_FLUSH_WAIT);
    let flush_wait = flush_by.saturating_duration_since(tokio::time::Instant::now());
    if !store.flush_audit(flush_wait).await {
        tracing::debug!("audit not flushed before feedback; flags may say unknown-card");
    }
    let service_id = service.id.to_owned();
    let n = items.len();
    // Not cut off by the deadline: the write is rolled back inside if late, so the answer
    // below says what the store holds. Opening the store waits a few seconds at most.
    let stored = store
        .with_store(move |store| async move {
            let received_at = Utc::now();
            let mut records = Vec::with_capacity(items.len());
            for feedback in items {
                let card = store.issued_card(&feedback.card).await?;
                let issued = card.as_ref().map(|c| (&c.card, c.service.as_str()));
                let flags = feedback.flags(issued, &service_id);
                records.push(FeedbackRecord {
                    id: uuid::Uuid::new_v4().to_string(),
                    received_at,
                    service: service_id.clone(),
                    issuer: issuer.clone(),
                    feedback,
                    flags,
                });
            }
            let new = store
                .insert_feedback_before(&records, Some(deadline))
                .await?;
            Ok(records
                .into_iter()
                .zip(new)
                .filter_map(|(r, new)| new.then_some(r))
                .collect::<Vec<_>>())
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "feedback not stored");
            ApiError::StoreUnavailable(e.to_string())
        })?;
    for r in &stored {
        let flagged = if r.flags.is_empty() { "no" } else { "yes" };
        metrics::counter!("cds_feedback_total", "outcome" => r.feedback.outcome.as_str(), "flagged" => flagged)
            .increment(1);
        if !r.flags.is_empty() {
            let flags: Vec<&str> = r.flags.iter().map(|f| f.as_str()).collect();
            tracing::warn!(card = %r.feedback.card, flags = ?flags, "feedback stored with flags");
        }
    }
    tracing::info!(
        service = service.id,
        items = n,
        new = stored.len(),
        "feedback stored (items already stored are not stored again)"
    );
    // CDS Hooks 2.0.1: `200` with no body (an empty `{}` is an empty element, issue 17).
    Ok(HttpResponse::Ok().finish())
}

/// The 503 of a feedback call past `server.request_timeout_ms` before anything was stored.
fn timed_out() -> ApiError {
    metrics::counter!("cds_hook_rejected_total", "reason" => "timeout").increment(1);
    ApiError::StoreUnavailable(
        "feedback not stored: the call took longer than the configured timeout".to_owned(),
    )
}
