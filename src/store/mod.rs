//! The feedback and audit store (issue 6): CDS Hooks feedback, the audit of every decision, and
//! JWT `jti`s for replay detection, in SQLite by default or PostgreSQL for replicas.
//!
//! [`StoreService`] is what the web layer holds. It opens the store in the background, so the
//! service starts even when the database is late; `/readyz` answers 503 (the log names the
//! SQLite file or the server) until the store is open and takes writes; that write is made at
//! most once per [`READINESS_TTL`], not per probe. Feedback waits for the store and is
//! answered only once committed; the decision audit goes through a bounded queue
//! ([`audit::AuditQueue`]) and never waits. All database work runs on the runtime that started
//! the service, not on the HTTP workers' runtimes, so pooled connections stay on one reactor.

pub mod audit;
pub mod config;
pub mod db;
pub mod model;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;

pub use db::{Store, StoreError};

use audit::{AuditQueue, Enqueued};
use config::StoreSettings;
use model::DecisionRecord;

#[derive(Clone)]
enum Status {
    Opening,
    Ready(Store),
    Failed(String),
}

struct Inner {
    status: watch::Receiver<Status>,
    audit: AuditQueue,
    runtime: tokio::runtime::Handle,
    target: String,
    /// The last readiness write probe and when it ran: `/readyz` needs no authentication, so
    /// it must not cost a database write per call (issue 17 item 9).
    readiness: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
    readiness_ttl: Duration,
}

/// The store as the running service sees it. Cheap to clone.
#[derive(Clone)]
pub struct StoreService {
    inner: Arc<Inner>,
}

/// How long a caller waits for a store that is still opening before giving up.
const OPENING_WAIT: Duration = Duration::from_secs(3);

/// How long a readiness write probe's result is reused.
pub const READINESS_TTL: Duration = Duration::from_secs(5);

impl StoreService {
    /// Starts opening the store on the current tokio runtime, with the audit writer and the
    /// retention task behind it. Fails only when called outside a runtime.
    pub fn start(settings: &StoreSettings) -> std::io::Result<Self> {
        Self::start_with(settings, READINESS_TTL)
    }

    fn start_with(settings: &StoreSettings, readiness_ttl: Duration) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
        let (status_tx, status) = watch::channel(Status::Opening);
        let (queue, rx) = AuditQueue::new(settings.audit_queue_capacity);
        let target = settings.backend.describe();
        let s = settings.clone();
        let mut ready = status.clone();
        runtime.spawn(async move {
            let mut backoff = Duration::from_millis(500);
            loop {
                match Store::open(&s).await {
                    Ok(store) => {
                        tracing::info!(store = %store.target(), "store open");
                        let _ = status_tx.send(Status::Ready(store));
                        return;
                    }
                    Err(e) => {
                        tracing::error!(
                            error = %e,
                            retry_in_ms = backoff.as_millis() as u64,
                            "store unavailable: /readyz fails and feedback gets 503 until it opens"
                        );
                        let _ = status_tx.send(Status::Failed(e.to_string()));
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        });
        let (batch_max, interval, retention) = (
            settings.audit_batch_max,
            settings.audit_flush_interval,
            settings.audit_retention,
        );
        runtime.spawn(async move {
            let Some(store) = wait_ready(&mut ready).await else {
                return;
            };
            tokio::spawn(retention_task(store.clone(), retention, RETENTION_INTERVAL));
            audit::run_writer(rx, store, batch_max, interval).await;
        });
        Ok(Self {
            inner: Arc::new(Inner {
                status,
                audit: queue,
                runtime,
                target,
                readiness: tokio::sync::Mutex::new(None),
                readiness_ttl,
            }),
        })
    }

    /// Hands a decision to the audit queue without waiting.
    pub fn record_decision(&self, record: DecisionRecord) -> Enqueued {
        self.inner.audit.record(record)
    }

    /// Waits (briefly) until the audit records queued so far are written.
    pub async fn flush_audit(&self, timeout: Duration) -> bool {
        self.inner.audit.flush(timeout).await
    }

    /// Whether the store has opened (its audit writer is running).
    pub fn is_open(&self) -> bool {
        matches!(&*self.inner.status.borrow(), Status::Ready(_))
    }

    /// Audit records waiting in the queue (for the shutdown log).
    pub fn audit_pending(&self) -> usize {
        self.inner.audit.pending()
    }

    /// Closes the store's connections (SQLite checkpoints its WAL into the file) at shutdown,
    /// waiting at most `timeout`. A store that never opened has nothing to close.
    pub async fn close(&self, timeout: Duration) {
        let current = self.inner.status.borrow().clone();
        if let Status::Ready(store) = current {
            let closing = self.inner.runtime.spawn(async move { store.close().await });
            if tokio::time::timeout(timeout, closing).await.is_err() {
                tracing::warn!(store = %self.inner.target, "store not closed within the grace period");
            }
        }
    }

    /// The open store, waiting up to a few seconds while it is still opening.
    pub async fn store(&self) -> Result<Store, StoreError> {
        let mut status = self.inner.status.clone();
        let waited = tokio::time::timeout(OPENING_WAIT, async {
            loop {
                let current = status.borrow_and_update().clone();
                match current {
                    Status::Opening => {
                        if status.changed().await.is_err() {
                            return Status::Opening;
                        }
                    }
                    other => return other,
                }
            }
        })
        .await
        .unwrap_or(Status::Opening);
        match waited {
            Status::Ready(store) => Ok(store),
            Status::Failed(message) => Err(StoreError::Unavailable(message)),
            Status::Opening => Err(StoreError::Unavailable(format!(
                "{} is still opening",
                self.inner.target
            ))),
        }
    }

    /// Runs `f` with the open store on the store's runtime and returns its result.
    pub async fn with_store<F, Fut, T>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Store) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.store().await?;
        self.inner
            .runtime
            .spawn(f(store))
            .await
            .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }

    /// Readiness: the store is open and takes a write. The error is for the log only (it names
    /// the SQLite file or the PostgreSQL server). An open store's write probe runs at most once
    /// per [`READINESS_TTL`]; concurrent callers wait for it and share its result. A store not
    /// open yet is reported at once, uncached, so readiness follows as soon as it opens.
    pub async fn readiness(&self) -> Result<(), String> {
        self.store().await.map_err(|e| e.to_string())?;
        let mut cached = self.inner.readiness.lock().await;
        if let Some((at, result)) = cached.as_ref() {
            if at.elapsed() < self.inner.readiness_ttl {
                return result.clone();
            }
        }
        let result = self
            .with_store(|store| async move {
                match tokio::time::timeout(Duration::from_secs(5), store.probe()).await {
                    Ok(r) => r,
                    Err(_) => Err(StoreError::Unavailable(format!(
                        "{} did not answer within 5 s",
                        store.target()
                    ))),
                }
            })
            .await
            .map_err(|e| e.to_string());
        *cached = Some((Instant::now(), result.clone()));
        result
    }

    /// The SQLite file or PostgreSQL server, for messages.
    pub fn target(&self) -> &str {
        &self.inner.target
    }
}

async fn wait_ready(status: &mut watch::Receiver<Status>) -> Option<Store> {
    loop {
        if let Status::Ready(store) = &*status.borrow_and_update() {
            return Some(store.clone());
        }
        if status.changed().await.is_err() {
            return match &*status.borrow() {
                Status::Ready(store) => Some(store.clone()),
                _ => None,
            };
        }
    }
}

/// How often the retention purge runs after the one at start.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// Purges decisions, cards and feedback past `store.audit_retention_days`, and expired `jti`s,
/// at start and then every `every` (hourly). Every replica may run it: the deletes are
/// idempotent.
async fn retention_task(store: Store, retention: Option<chrono::Duration>, every: Duration) {
    loop {
        let now = Utc::now();
        if let Some(keep) = retention {
            match store.purge_before(now - keep).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "audit retention: old records purged"),
                Err(e) => tracing::warn!(error = %e, "audit retention purge failed"),
            }
        }
        if let Err(e) = store.purge_expired_jtis(now.timestamp()).await {
            tracing::warn!(error = %e, "purge of expired jti failed");
        }
        tokio::time::sleep(every).await;
    }
}

/// The `jti` replay check on the shared store, so replicas behind a load balancer reject each
/// other's replays (issue 5 §1, issue 6 §3). Fails closed: a store error refuses the call.
impl crate::auth::replay::ReplayStore for StoreService {
    fn check_and_record<'a>(
        &'a self,
        iss: &'a str,
        jti: &'a str,
        expires_at: i64,
    ) -> futures::future::BoxFuture<'a, Result<bool, crate::auth::replay::ReplayError>> {
        let (iss, jti) = (iss.to_owned(), jti.to_owned());
        Box::pin(async move {
            self.with_store(move |store| async move {
                store.check_and_record_jti(&iss, &jti, expires_at).await
            })
            .await
            .map_err(|e| crate::auth::replay::ReplayError(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(dir: &std::path::Path) -> StoreSettings {
        config::RawStore {
            data_dir: dir.to_string_lossy().into_owned(),
            ..Default::default()
        }
        .validate()
        .unwrap()
    }

    /// Issue 17 item 9: an unauthenticated `/readyz` does not write to the database per call.
    #[tokio::test]
    async fn readiness_writes_at_most_once_per_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let service =
            StoreService::start_with(&sqlite(dir.path()), Duration::from_secs(3600)).unwrap();
        assert_eq!(service.readiness().await, Ok(()));
        let store = service.store().await.unwrap();
        let first = store.probe_checked_at().await.unwrap();
        assert!(first.is_some());
        for _ in 0..5 {
            // Past the millisecond the first probe wrote, so a second write would show.
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert_eq!(service.readiness().await, Ok(()));
        }
        assert_eq!(store.probe_checked_at().await.unwrap(), first);

        // Past the TTL, the probe runs again.
        let service = StoreService::start_with(&sqlite(dir.path()), Duration::ZERO).unwrap();
        assert_eq!(service.readiness().await, Ok(()));
        let store = service.store().await.unwrap();
        let before = store.probe_checked_at().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(service.readiness().await, Ok(()));
        assert_ne!(store.probe_checked_at().await.unwrap(), before);
    }

    /// One decision with one card, recorded `days_ago`, and one feedback received then.
    fn audit_at(days_ago: i64) -> (model::DecisionRecord, model::FeedbackRecord) {
        let at = Utc::now() - chrono::Duration::days(days_ago);
        let mut d = model::DecisionRecord::from_call(model::CallInfo {
            hook_instance: format!("hi-{days_ago}"),
            service: "alemtuzumab-order-sign".into(),
            hook: "order-sign".into(),
            patient_id: Some("p".into()),
            status: 200,
            profile: "ansm-2019".into(),
            latency: Duration::from_millis(1),
        });
        d.recorded_at = at;
        d.cards = vec![model::CardRecord {
            uuid: uuid::Uuid::new_v4().to_string(),
            topic: "initiation-eligibility".into(),
            indicator: "critical".into(),
            order_ref: None,
            suggestion_uuids: vec![],
            override_reasons: vec![],
        }];
        let f = model::FeedbackRecord {
            id: uuid::Uuid::new_v4().to_string(),
            received_at: at,
            service: "alemtuzumab-order-sign".into(),
            issuer: None,
            feedback: model::Feedback {
                card: d.cards[0].uuid.clone(),
                outcome: model::FeedbackOutcome::Accepted,
                accepted_suggestions: vec![],
                reason: None,
                user_comment: Some(format!("{days_ago} days ago")),
                outcome_timestamp: at,
            },
            flags: vec![],
        };
        (d, f)
    }

    async fn write(store: &Store, days_ago: i64) {
        let (d, f) = audit_at(days_ago);
        store.write_decisions(&[d]).await.unwrap();
        assert_eq!(store.insert_feedback(&[f]).await.unwrap(), [true]);
    }

    /// The `hookInstance`s of the decisions, cards and feedback (by comment) kept.
    async fn kept(
        store: &Store,
        file: &std::path::Path,
    ) -> (Vec<String>, Vec<String>, Vec<String>) {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect_with(
            &sqlx::sqlite::SqliteConnectOptions::new().filename(file),
        )
        .await
        .unwrap();
        let mut decisions: Vec<String> = sqlx::query_scalar("SELECT hook_instance FROM decisions")
            .fetch_all(&mut db)
            .await
            .unwrap();
        decisions.sort();
        let (from, to) = (
            chrono::DateTime::<Utc>::UNIX_EPOCH,
            Utc::now() + chrono::Duration::days(1),
        );
        let mut cards: Vec<String> = store
            .cards_between(from, to, None)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.hook_instance)
            .collect();
        cards.sort();
        let mut feedback: Vec<String> = store
            .feedback_between(from, to, None)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|r| r.record.feedback.user_comment)
            .collect();
        feedback.sort();
        (decisions, cards, feedback)
    }

    /// README §Retention: decisions, cards and feedback older than `store.audit_retention_days`
    /// are purged at start and then periodically (hourly; 50 ms here); younger ones are kept.
    #[tokio::test]
    async fn records_past_the_retention_are_purged_at_start_and_then_periodically() {
        let dir = tempfile::tempdir().unwrap();
        let settings = config::RawStore {
            data_dir: dir.path().to_string_lossy().into_owned(),
            audit_retention_days: 10,
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(settings.audit_retention, Some(chrono::Duration::days(10)));
        let file = dir.path().join("alemtuzumab-cds.db");
        let store = Store::open(&settings).await.unwrap();
        write(&store, 11).await;
        write(&store, 9).await;
        let all = |days: &[i64]| {
            let ids = days.iter().map(|d| format!("hi-{d}")).collect::<Vec<_>>();
            let comments = days.iter().map(|d| format!("{d} days ago")).collect();
            (ids.clone(), ids, comments)
        };
        assert_eq!(kept(&store, &file).await, all(&[11, 9]));

        let purge = tokio::spawn(retention_task(
            store.clone(),
            settings.audit_retention,
            Duration::from_millis(50),
        ));
        // At start: the 11-day-old records go, the 9-day-old ones stay (bounded poll).
        let mut now = kept(&store, &file).await;
        for _ in 0..200 {
            if now == all(&[9]) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
            now = kept(&store, &file).await;
        }
        assert_eq!(now, all(&[9]));
        // Records that age past the retention later are purged by a later run.
        write(&store, 12).await;
        for _ in 0..200 {
            now = kept(&store, &file).await;
            if now == all(&[9]) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(now, all(&[9]));
        purge.abort();
    }
}
