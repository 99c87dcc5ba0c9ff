//! Start-up as library code: binds (port 0 picks a free port), mounts the routes, returns the
//! running server, so tests and `main` start the service the same way.

use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix_web::{middleware, App, HttpServer};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::config::Settings;
use crate::fhir::client::FhirClient;
use crate::web::{self, AppState};

pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    /// Flushed and closed once the server has stopped.
    store: crate::store::StoreService,
    /// `server.shutdown_timeout_secs`: from the signal to the exit.
    grace: Duration,
    /// When SIGTERM or SIGINT arrived.
    stop_requested: Arc<OnceLock<Instant>>,
}

/// Waits for SIGTERM or SIGINT (both graceful: a Kubernetes stop and an operator's Ctrl-C lose
/// nothing either), then notes when, for the exit deadline.
async fn stop_signal(stop_requested: Arc<OnceLock<Instant>>, grace: Duration) {
    #[cfg(unix)]
    let name = {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM/SIGINT: no graceful stop");
                std::future::pending::<()>().await;
                return;
            }
        }
    };
    #[cfg(not(unix))]
    let name = {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        "Ctrl-C"
    };
    let _ = stop_requested.set(Instant::now());
    tracing::info!(
        signal = name,
        grace_secs = grace.as_secs(),
        "stopping: no new connections; calls in flight are answered, then the audit queue is \
         written to the store"
    );
}

/// The process-wide Prometheus recorder (a recorder can be installed once per process).
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .ok()?;
            match builder.install_recorder() {
                Ok(h) => {
                    spawn_metrics_upkeep(h.clone());
                    Some(h)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

/// How often the recorder's histogram samples are folded into its summaries.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// The recorder keeps every histogram sample (hook and FHIR durations) until upkeep folds them
/// in; `install_recorder` leaves upkeep to the caller, and `/metrics` runs it only when scraped.
/// Without this thread a service nobody scraped grew ~1.5 MB a minute at 700 calls/s
/// (scripts/bench, README §Performance).
fn spawn_metrics_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || loop {
            std::thread::sleep(METRICS_UPKEEP);
            handle.run_upkeep();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread not started: histograms grow until /metrics is scraped");
    }
}

impl Application {
    pub fn build(settings: Settings) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.bind)?;
        let addr = listener.local_addr()?;
        let port = addr.port();
        if settings.local_mode() {
            tracing::warn!(
                address = %addr,
                "local mode: no JWT authentication, FHIR servers on loopback only; \
                 not for production (see README §Security)"
            );
        }
        if settings.allow_unauthenticated {
            tracing::warn!("auth.allow_unauthenticated = true: unsigned calls accepted on {addr}");
        }
        if let Some(day) = settings.fixed_today {
            tracing::warn!(%day, "server.fixed_today is set: rules evaluate as of this date");
        }
        // Installed first, so what start-up records (the TLS certificate's expiry) is exported.
        let metrics = metrics_handle();
        // Read again here (validation checked the pair) so the files in force at start are served.
        let tls = match &settings.tls {
            Some(t) => Some(crate::tls::server_config(t).map_err(std::io::Error::other)?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let workers = settings.workers;
        let shutdown = settings.shutdown_timeout_secs;
        let fhir = FhirClient::new(&settings.fhir).map_err(|e| {
            std::io::Error::other(crate::net::client_build_error("FHIR servers", &e))
        })?;
        // Opens in the background: /readyz says when (and why not) the store is usable.
        let store = crate::store::StoreService::start(&settings.store)?;
        let auth = if settings.auth.enabled() {
            let issuers: Vec<&str> = settings
                .auth
                .issuers
                .iter()
                .map(|i| i.iss.as_str())
                .collect();
            tracing::info!(?issuers, public_url = %settings.public_url, "JWT authentication on");
            let a = crate::auth::jwt::Authenticator::new(&settings.auth)
                .map_err(|e| std::io::Error::other(crate::net::client_build_error("JWKS", &e)))?;
            Some(Arc::new(a))
        } else {
            None
        };
        // The `jti` replay check goes to the store (the `jti_seen` table) with SQLite as with
        // PostgreSQL: replicas agree, and a token refused as a replay is still refused after a
        // restart (issue 17 item 6; in memory it was forgotten). Fails closed: a store that
        // cannot answer refuses authenticated calls (`/readyz` says `store` then).
        let replay: Arc<dyn crate::auth::replay::ReplayStore> = Arc::new(store.clone());
        let stop_store = store.clone();
        let compute = Arc::new(web::compute::ComputePool::for_workers(workers)?);
        let state = AppState {
            hook_slots: web::limits::hook_slots(settings.max_concurrent_hooks),
            compute,
            settings: Arc::new(settings),
            metrics,
            fhir: Some(fhir),
            store,
            auth,
            replay,
        };
        let server = HttpServer::new(move || {
            let state = state.clone();
            App::new()
                // The last `wrap` runs first: CORS (so a 503 or 401 still carries its headers),
                // then the hook slots, then the JWT and the headers. A call refused at the slots
                // costs no signature check: at overload, verifying the JWT of every call refused
                // took the CPU the admitted calls needed (README §Operations).
                .wrap(middleware::from_fn(web::guard::check_headers))
                .wrap(middleware::from_fn(web::auth::require_jwt))
                .wrap(middleware::from_fn(web::limits::limit_hooks))
                .wrap(web::cors::cors(&state.settings))
                .wrap(middleware::Compress::default())
                .configure(move |cfg| web::configure(cfg, state))
                .default_service(actix_web::web::to(|| async {
                    web::error::operation_outcome(
                        actix_web::http::StatusCode::NOT_FOUND,
                        "not-found",
                        None,
                        "no such endpoint; GET /cds-services lists the services",
                    )
                }))
        });
        // A hook answer is small and written as it is rendered: with Nagle's algorithm on (the OS
        // default that actix keeps), its last segment can wait for the client's delayed ACK, ~40 ms
        // on half the calls of a kept-alive connection (measured with oha: README §Performance).
        let server = server.tcp_nodelay(true);
        // The calls in flight get the grace period less one second, kept for the audit flush,
        // so the process exits within `server.shutdown_timeout_secs` (README §Operations).
        let grace = Duration::from_secs(shutdown);
        let stop_requested = Arc::new(OnceLock::new());
        let server = match tls {
            Some(config) => server.listen_rustls_0_23(listener, config)?,
            None => server.listen(listener)?,
        }
        .shutdown_timeout(shutdown.saturating_sub(1).max(1))
        .shutdown_signal(stop_signal(stop_requested.clone(), grace));
        let server = if workers > 0 {
            server.workers(workers)
        } else {
            server
        };
        tracing::info!(address = %addr, port, scheme, "alemtuzumab-cds listening");
        Ok(Self {
            port,
            server: server.run(),
            store: stop_store,
            grace,
            stop_requested,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until SIGTERM / SIGINT, then stops gracefully (issue 14 item 4): no new connection
    /// is accepted, the calls in flight are answered, the audit records they queued are written
    /// to the store and the store is closed, all within `server.shutdown_timeout_secs` of the
    /// signal. Records still queued at that deadline are logged and counted as dropped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        let deadline = self
            .stop_requested
            .get()
            .copied()
            .unwrap_or_else(Instant::now)
            + self.grace;
        let left = deadline.saturating_duration_since(Instant::now());
        // A store that never opened has no writer: waiting for it would only delay the exit.
        let flushed = self.store.is_open() && self.store.flush_audit(left).await;
        let pending = self.store.audit_pending();
        if flushed {
            tracing::info!("calls in flight answered; audit queue written to the store");
        } else {
            metrics::counter!(crate::store::audit::DROPPED_METRIC).increment(pending as u64);
            tracing::error!(
                records = pending,
                "the audit queue could not be written before server.shutdown_timeout_secs: \
                 these decision records are lost"
            );
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.store.close(left).await;
        tracing::info!("stopped");
        served
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The thread names of this process.
    fn threads() -> Vec<String> {
        std::fs::read_dir("/proc/self/task")
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                    .map(|n| n.trim().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_installed_recorder_has_its_upkeep_thread() {
        let handle = metrics_handle().expect("the recorder installs");
        // A new thread carries its parent's name until it has set its own: poll, bounded.
        let named = (0..500).any(|_| {
            let found = threads().iter().any(|t| t == "metrics-upkeep");
            if !found {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            found
        });
        assert!(named, "no metrics-upkeep thread: {:?}", threads());
        // The handle still renders what was recorded.
        metrics::histogram!("cds_test_upkeep_seconds").record(0.01);
        handle.run_upkeep();
        assert!(handle.render().contains("cds_test_upkeep_seconds"));
    }
}
