//! The web layer, the only module that imports actix-web: routes, error responses, metrics.

pub mod admin;
pub mod auth;
pub mod compute;
pub mod cors;
pub mod error;
pub mod feedback;
pub mod guard;
pub mod limits;
pub mod routes;

use std::sync::Arc;

use actix_web::web;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Settings;
use crate::fhir::client::FhirClient;

/// Shared state of every worker.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub metrics: Option<PrometheusHandle>,
    /// The pooled outbound FHIR client.
    pub fhir: Option<FhirClient>,
    /// Feedback, decision audit, `jti` replay store (issue 6).
    pub store: crate::store::StoreService,
    /// JWT verification; `None` in local mode.
    pub auth: Option<Arc<crate::auth::jwt::Authenticator>>,
    /// `jti` replay store: the feedback store (SQLite or PostgreSQL), so it survives restarts.
    pub replay: Arc<dyn crate::auth::replay::ReplayStore>,
    /// Slots of concurrent hook and feedback calls (`server.max_concurrent_hooks`).
    pub hook_slots: Arc<tokio::sync::Semaphore>,
    /// The threads hook calls are worked out on, off the actix workers (`compute`).
    pub compute: Arc<compute::ComputePool>,
}

/// Mounts every route; used by the server and by tests.
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    cfg.app_data(web::Data::new(state))
        .route("/cds-services", web::get().to(routes::discovery))
        .route("/cds-services/{id}", web::post().to(routes::hook))
        .route(
            "/cds-services/{id}/feedback",
            web::post().to(feedback::feedback),
        )
        .route("/healthz", web::get().to(routes::healthz))
        .route("/readyz", web::get().to(routes::readyz))
        .route("/metrics", web::get().to(routes::metrics))
        .route("/admin/report", web::get().to(admin::report));
}
