//! The database behind the store: a SQLite file (WAL, `synchronous=FULL`) or PostgreSQL, through
//! sqlx runtime queries (no database at build time). Both run the same embedded migrations and the
//! same SQL: `$n` placeholders, numbered in order of first use, which SQLite also understands.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

use super::config::{Backend, StoreSettings};
use super::model::{
    CardRecord, DecisionRecord, Feedback, FeedbackFlag, FeedbackOutcome, FeedbackRecord, ReasonCode,
};

/// A store error. Messages name the SQLite file or the PostgreSQL server (never a password).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store ({target}): {message}")]
    Open { target: String, message: String },
    #[error("the store ({target}) failed: {source}")]
    Database {
        target: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("the store is not available: {0}")]
    Unavailable(String),
}

/// The schema, embedded in the binary at build time from `migrations/` (every `NNNN_name.sql`
/// file, in version order; build.rs rebuilds when a file is added). sqlx records each applied
/// version with the SHA-384 of its SQL in `_sqlx_migrations`: the files are embedded byte for
/// byte, so databases migrated before this macro was used (same files, same checksums) open as
/// they are.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool: the same SQL for both backends.
macro_rules! on_pool {
    ($self:expr, $pool:ident => $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

/// An open, migrated store. Cheap to clone (a connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    target: Arc<str>,
    kind: &'static str,
    /// A random id for this process's readiness probe row.
    instance: Arc<str>,
    /// When expired `jti`s were last purged (Unix ms).
    last_jti_purge: Arc<AtomicI64>,
    /// Set by any database error: from then on a SQLite connection returned to the pool is
    /// rolled back (see [`Store::open`]).
    failed: Arc<AtomicBool>,
    /// SQLite only: taken around every write. SQLite lets one connection write at a time; the
    /// others get `SQLITE_BUSY` and retry from its busy handler, which sleeps 1, 2, 5, 10, 15,
    /// 20, 25 ms… between tries instead of waking when the lock is released. A feedback post
    /// that met the audit writer's commit waited up to the next step of that ladder: at the
    /// soak's half load its p99 was 26 ms against 2.4 ms for the hook calls, 52 ms at overload
    /// (docs/soak/). This lock queues the service's writers in order and wakes the next as
    /// soon as the last commits; the busy handler remains for writers outside this process
    /// (or another `Store` opened on the same file).
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// Rows per multi-row INSERT of the decision audit: 14 parameters a row stays far under
/// SQLite's 32 766 and PostgreSQL's 65 535 bound parameters per statement.
const AUDIT_ROWS_PER_STATEMENT: usize = 200;

/// `PRAGMA cache_size` of each SQLite connection: negative is KiB, so 512 KiB (128 pages of
/// 4 KiB) instead of SQLite's 2 MiB default (see where the pool is opened).
const SQLITE_CACHE_SIZE: &str = "-512";

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".to_owned())
}

fn from_json<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_str(s).unwrap_or_default()
}

/// Creates the SQLite file readable and writable by the service's user only (`0600` on unix)
/// when it does not exist; an existing file is left as it is. SQLite gives the `-wal` and `-shm`
/// files the database file's permissions. The store holds patient ids and prescribers'
/// comments: with the usual umask 022 SQLite would create it world-readable (issue 17 item 14).
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// A feedback joined with the card it names, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRow {
    pub record: FeedbackRecord,
    /// The card, when this service issued it (and its audit is still kept).
    pub card: Option<IssuedCard>,
}

/// A card as issued, with the decision it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedCard {
    pub card: CardRecord,
    pub hook_instance: String,
    pub service: String,
    pub issued_at: DateTime<Utc>,
    /// The decision's `context.patientId`; read by [`Store::cards_between`] only (the report
    /// tells draft orders apart by patient and order: the CDS Hooks Sandbox names every draft
    /// `MedicationRequest/request-123`).
    pub patient_id: Option<String>,
    /// The rule profile (`rules.profile`) the decision that issued the card was made under;
    /// read by [`Store::cards_between`] and [`Store::feedback_between`] (issue 15: the report
    /// filtered on a profile). `None` when the decision's record is missing.
    pub profile: Option<String>,
}

impl Store {
    /// Opens (creating the SQLite file and its directory when missing), checks the file is a
    /// sound SQLite database, and migrates. Errors name the file or server.
    pub async fn open(settings: &StoreSettings) -> Result<Store, StoreError> {
        let target = settings.backend.describe();
        let open_err = |message: String| StoreError::Open {
            target: target.clone(),
            message,
        };
        let failed = Arc::new(AtomicBool::new(false));
        let write_lock = match settings.backend {
            Backend::Sqlite { .. } => Some(Arc::new(tokio::sync::Mutex::new(()))),
            Backend::Postgres { .. } => None,
        };
        let pool = match &settings.backend {
            Backend::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        open_err(format!("cannot create directory `{}`: {e}", dir.display()))
                    })?;
                }
                create_private(path)
                    .map_err(|e| open_err(format!("cannot create `{}`: {e}", path.display())))?;
                // WAL lets the hook path read while the audit writer writes; FULL syncs the WAL
                // at each commit, so a feedback answered 200 survives a crash (issue 6 §5).
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(settings.connect_timeout)
                    .foreign_keys(true)
                    // SQLite's default page cache is 2 MiB per connection, and the pool hands
                    // its idle connections out in turn, so over months each fills its own
                    // (10 MiB at the default 5 connections). The store appends audit rows and
                    // reads counts; 128 pages hold its B-trees' upper levels.
                    .pragma("cache_size", SQLITE_CACHE_SIZE);
                // After an I/O error in COMMIT (a full disk, a file made read-only), SQLite may
                // leave the connection inside its transaction, holding the write lock: every
                // other connection then gets "database is locked" long after the disk is back,
                // and a readiness probe on that connection "succeeds" without committing (found
                // by tests/api/reliability_store.rs). SQLite's advice is an explicit ROLLBACK:
                // once any error has been seen, each connection returned to the pool gets one
                // (a no-op outside a transaction).
                let after_error = failed.clone();
                let pool = SqlitePoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(settings.connect_timeout)
                    // SQLite opens a file it may not write read-only instead of failing: a
                    // connection opened while the file was read-only (an outage) stayed in the
                    // pool once the file was writable again, and the feedback that drew it got
                    // 503 (tests/api/reliability_store.rs, about one run in ten). Such a
                    // connection is refused: the acquire fails (503 during the outage, as
                    // documented) and the next one, opened later, can write.
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            let mut handle = conn.lock_handle().await?;
                            let db = handle.as_raw_handle().as_ptr();
                            // SAFETY: `db` is this live connection, locked for the call; the
                            // name is a NUL-terminated string that outlives it.
                            let read_only = unsafe {
                                libsqlite3_sys::sqlite3_db_readonly(db, c"main".as_ptr())
                            };
                            if read_only != 0 {
                                return Err(sqlx::Error::Io(std::io::Error::new(
                                    std::io::ErrorKind::PermissionDenied,
                                    "the SQLite file opened read-only (not writable now)",
                                )));
                            }
                            Ok(())
                        })
                    })
                    .after_release(move |conn, _| {
                        let rollback = after_error.load(Ordering::Acquire);
                        Box::pin(async move {
                            if rollback {
                                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                            }
                            Ok(true)
                        })
                    })
                    .connect_with(options)
                    .await
                    .map_err(|e| open_err(e.to_string()))?;
                // A damaged file can open and fail later: check it now, not on a feedback.
                let check: Vec<String> = sqlx::query_scalar("PRAGMA quick_check")
                    .fetch_all(&pool)
                    .await
                    .map_err(|e| open_err(e.to_string()))?;
                if check.first().map(String::as_str) != Some("ok") {
                    return Err(open_err(format!(
                        "integrity check failed: {}",
                        check.join("; ")
                    )));
                }
                Pool::Sqlite(pool)
            }
            Backend::Postgres { url } => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| open_err(format!("bad URL: {e}")))?
                    .application_name("alemtuzumab-cds");
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(settings.connect_timeout)
                    .connect_with(options)
                    .await
                    .map_err(|e| open_err(e.to_string()))?;
                Pool::Postgres(pool)
            }
        };
        let store = Store {
            pool,
            target: Arc::from(target.as_str()),
            kind: settings.backend.kind(),
            instance: Arc::from(uuid::Uuid::new_v4().to_string().as_str()),
            last_jti_purge: Arc::new(AtomicI64::new(0)),
            failed,
            write_lock,
        };
        // The migrator takes a lock (PostgreSQL advisory lock), so replicas starting together
        // migrate once.
        on_pool!(store, pool => MIGRATOR.run(pool).await)
            .map_err(|e| open_err(format!("migrations: {e}")))?;
        Ok(store)
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The SQLite file or PostgreSQL server, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn db(&self, source: sqlx::Error) -> StoreError {
        self.failed.store(true, Ordering::Release);
        StoreError::Database {
            target: self.target.to_string(),
            source,
        }
    }

    /// Waits for this process's turn to write (SQLite; nothing to wait for with PostgreSQL):
    /// see [`Store::write_lock`]. Held until the write's transaction has committed or rolled
    /// back.
    async fn writing(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.write_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        }
    }

    /// Readiness: the store answers and takes a write.
    pub async fn probe(&self) -> Result<(), StoreError> {
        let sql = "INSERT INTO store_probe (instance, checked_at) VALUES ($1, $2) \
                   ON CONFLICT (instance) DO UPDATE SET checked_at = excluded.checked_at";
        let _writing = self.writing().await;
        on_pool!(self, pool => sqlx::query(sql)
            .bind(self.instance.as_ref())
            .bind(ms(Utc::now()))
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(|e| self.db(e))
    }

    /// When this process's readiness probe last wrote (Unix ms), if it ever did.
    #[cfg(test)]
    pub(crate) async fn probe_checked_at(&self) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT checked_at FROM store_probe WHERE instance = $1";
        on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql)
            .bind(self.instance.as_ref())
            .fetch_optional(pool)
            .await)
        .map_err(|e| self.db(e))
    }

    /// Writes a batch of decisions and their cards in one transaction. Idempotent: a batch
    /// retried after a failed commit does not duplicate rows.
    ///
    /// Multi-row INSERTs, [`AUDIT_ROWS_PER_STATEMENT`] rows each: one statement per row cost a
    /// round trip to SQLite's worker thread per row, ~19 % of the service's CPU at saturation on
    /// a 39 KB order-sign (README §Performance). They are not kept prepared
    /// (`persistent(false)`): each batch size is a different statement, and sqlx's cache of 100
    /// statements per connection held up to 100 of them on each connection (~12 MiB of the
    /// service's memory at saturation, README §Performance); preparing one per batch costs
    /// little beside the commit's sync.
    pub async fn write_decisions(&self, batch: &[DecisionRecord]) -> Result<(), StoreError> {
        let cards: Vec<(&DecisionRecord, &CardRecord)> = batch
            .iter()
            .flat_map(|d| d.cards.iter().map(move |c| (d, c)))
            .collect();
        let _writing = self.writing().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(|e| self.db(e))?;
            for chunk in batch.chunks(AUDIT_ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO decisions (id, recorded_at, hook_instance, service, hook, \
                     patient_id, status, profile, draft_orders, findings, from_prefetch, from_fhir, \
                     gaps, latency_us) ",
                );
                q.push_values(chunk, |mut row, d| {
                    row.push_bind(d.id.as_str())
                        .push_bind(ms(d.recorded_at))
                        .push_bind(d.hook_instance.as_str())
                        .push_bind(d.service.as_str())
                        .push_bind(d.hook.as_str())
                        .push_bind(d.patient_id.as_deref())
                        .push_bind(i64::from(d.status))
                        .push_bind(d.profile.as_str())
                        .push_bind(to_json(&d.draft_orders))
                        .push_bind(to_json(&d.findings))
                        .push_bind(to_json(&d.from_prefetch))
                        .push_bind(to_json(&d.from_fhir))
                        .push_bind(to_json(&d.gaps))
                        .push_bind(d.latency_us);
                });
                q.push(" ON CONFLICT (id) DO NOTHING");
                q.build()
                    .persistent(false)
                    .execute(&mut *tx).await.map_err(|e| self.db(e))?;
            }
            for chunk in cards.chunks(AUDIT_ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO decision_cards (card_uuid, decision_id, recorded_at, \
                     hook_instance, service, topic, indicator, order_ref, suggestion_uuids, \
                     override_reasons) ",
                );
                q.push_values(chunk, |mut row, (d, c)| {
                    row.push_bind(c.uuid.as_str())
                        .push_bind(d.id.as_str())
                        .push_bind(ms(d.recorded_at))
                        .push_bind(d.hook_instance.as_str())
                        .push_bind(d.service.as_str())
                        .push_bind(c.topic.as_str())
                        .push_bind(c.indicator.as_str())
                        .push_bind(c.order_ref.as_deref())
                        .push_bind(to_json(&c.suggestion_uuids))
                        .push_bind(to_json(&c.override_reasons));
                });
                q.push(" ON CONFLICT (card_uuid) DO NOTHING");
                q.build()
                    .persistent(false)
                    .execute(&mut *tx).await.map_err(|e| self.db(e))?;
            }
            tx.commit().await.map_err(|e| self.db(e))
        })
    }

    /// The card with this uuid, if this service issued it.
    pub async fn issued_card(&self, uuid: &str) -> Result<Option<IssuedCard>, StoreError> {
        let sql = "SELECT card_uuid, recorded_at, hook_instance, service, topic, indicator, \
                   order_ref, suggestion_uuids, override_reasons FROM decision_cards \
                   WHERE card_uuid = $1";
        on_pool!(self, pool => {
            let row = sqlx::query(sql)
                .bind(uuid)
                .fetch_optional(pool)
                .await
                .map_err(|e| self.db(e))?;
            row.map(|r| issued_card_from_row(&r)).transpose().map_err(|e| self.db(e))
        })
    }

    /// Stores validated feedback items in one transaction; returns once committed (durable:
    /// SQLite syncs the WAL at commit, PostgreSQL's commit is durable by default). Idempotent
    /// (issue 17 item 7): an item already stored (same [`Feedback::dedup_key`]) is not stored
    /// again; the answer says, item by item, whether it was stored now.
    pub async fn insert_feedback(
        &self,
        records: &[FeedbackRecord],
    ) -> Result<Vec<bool>, StoreError> {
        self.insert_feedback_before(records, None).await
    }

    /// [`Store::insert_feedback`], rolled back (nothing stored, an error returned) unless the
    /// rows are written before `deadline`. Once the commit starts it is waited for, so the
    /// caller can answer what was stored: committed, or rolled back (issue 17 item 7).
    pub async fn insert_feedback_before(
        &self,
        records: &[FeedbackRecord],
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Vec<bool>, StoreError> {
        let sql = "INSERT INTO feedback (id, received_at, service, card_uuid, outcome, \
                   accepted_suggestions, reason_system, reason_code, reason_display, \
                   user_comment, outcome_timestamp, flags, dedup_key, issuer) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                   ON CONFLICT (dedup_key) DO NOTHING";
        let late = || {
            StoreError::Unavailable(
                "feedback not stored (rolled back): the call took longer than the configured \
                 timeout"
                    .to_owned(),
            )
        };
        // Waiting for the turn to write counts against the deadline.
        let _writing = match deadline {
            Some(at) => tokio::time::timeout_at(at, self.writing())
                .await
                .map_err(|_| late())?,
            None => self.writing().await,
        };
        on_pool!(self, pool => {
            // Beginning counts against the deadline too (a pool whose connections are all busy).
            let begin = pool.begin();
            let mut tx = match deadline {
                Some(at) => tokio::time::timeout_at(at, begin).await.map_err(|_| late())?,
                None => begin.await,
            }
            .map_err(|e| self.db(e))?;
            let writes = async {
                let mut stored = Vec::with_capacity(records.len());
                for r in records {
                    let f = &r.feedback;
                    let flags: Vec<&str> = r.flags.iter().map(|f| f.as_str()).collect();
                    let n = sqlx::query(sql)
                        .bind(&r.id)
                        .bind(ms(r.received_at))
                        .bind(&r.service)
                        .bind(&f.card)
                        .bind(f.outcome.as_str())
                        .bind(to_json(&f.accepted_suggestions))
                        .bind(f.reason.as_ref().and_then(|c| c.system.clone()))
                        .bind(f.reason.as_ref().map(|c| c.code.clone()))
                        .bind(f.reason.as_ref().and_then(|c| c.display.clone()))
                        .bind(&f.user_comment)
                        .bind(f.outcome_timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                        .bind(to_json(&flags))
                        .bind(f.dedup_key())
                        .bind(&r.issuer)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.db(e))?
                        .rows_affected();
                    stored.push(n == 1);
                }
                Ok::<_, StoreError>(stored)
            };
            let (written, cut) = match deadline {
                Some(at) => match tokio::time::timeout_at(at, writes).await {
                    Ok(written) => (written, false),
                    Err(_) => (Err(late()), true),
                },
                None => (writes.await, false),
            };
            let in_time = match deadline {
                Some(at) => tokio::time::Instant::now() < at,
                None => true,
            };
            match written {
                Ok(stored) if in_time => {
                    tx.commit().await.map_err(|e| self.db(e))?;
                    Ok(stored)
                }
                // Cut off mid-statement: the statement may still be running (SQLite waits for
                // the write lock in its worker thread, up to `store.connect_timeout_ms`;
                // PostgreSQL's answer is still due), and a ROLLBACK awaited here would queue
                // behind it, keeping the caller past its deadline (found by
                // tests/api/feedback.rs: the 503 came only once the lock was released). The
                // transaction is dropped instead: sqlx queues its ROLLBACK, which runs as soon
                // as the connection is free, before the connection is used again. It is never
                // committed, so the 503 tells the truth.
                Err(e) if cut => {
                    drop(tx);
                    Err(e)
                }
                other => {
                    if let Err(e) = tx.rollback().await {
                        tracing::warn!(error = %e, "feedback rollback failed; the transaction is dropped");
                    }
                    Err(other.err().unwrap_or_else(late))
                }
            }
        })
    }

    /// Records a JWT `jti` for replay detection across every instance sharing this store.
    ///
    /// Returns `true` when the `(iss, jti)` pair is new (or only known from an expired token: the
    /// row is renewed) and the call may proceed; `false` when it is a replay. `expires_at` is the
    /// token's `exp` (Unix seconds). Expired rows are purged at most once a minute.
    pub async fn check_and_record_jti(
        &self,
        iss: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let now = Utc::now().timestamp();
        // A single statement, so two replicas racing on one jti cannot both win: the primary
        // key decides, and the loser's INSERT affects no row.
        let sql = "INSERT INTO jti_seen (iss, jti, expires_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (iss, jti) DO UPDATE SET expires_at = excluded.expires_at \
                   WHERE jti_seen.expires_at < $4";
        let writing = self.writing().await;
        let affected = on_pool!(self, pool => sqlx::query(sql)
            .bind(iss)
            .bind(jti)
            .bind(expires_at)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| self.db(e))?;
        drop(writing);
        let last = self.last_jti_purge.load(Ordering::Relaxed);
        if now - last >= 60
            && self
                .last_jti_purge
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.purge_expired_jtis(now).await?;
        }
        Ok(affected == 1)
    }

    /// Deletes `jti`s whose token expired before `now` (Unix seconds).
    pub async fn purge_expired_jtis(&self, now: i64) -> Result<u64, StoreError> {
        let _writing = self.writing().await;
        on_pool!(self, pool => sqlx::query("DELETE FROM jti_seen WHERE expires_at < $1")
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| self.db(e))
    }

    /// Deletes decisions, cards and feedback recorded before `cutoff`; returns the rows deleted.
    pub async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let cutoff = ms(cutoff);
        let _writing = self.writing().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(|e| self.db(e))?;
            let mut n = 0;
            for sql in [
                "DELETE FROM decision_cards WHERE recorded_at < $1",
                "DELETE FROM decisions WHERE recorded_at < $1",
                "DELETE FROM feedback WHERE received_at < $1",
            ] {
                n += sqlx::query(sql)
                    .bind(cutoff)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.db(e))?
                    .rows_affected();
            }
            tx.commit().await.map_err(|e| self.db(e))?;
            Ok(n)
        })
    }

    /// Cards issued in `[since, until)`; with `profile`, only those of decisions made under
    /// that rule profile (a card belongs to the decision that issued it: `decision_id`).
    pub async fn cards_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        profile: Option<&str>,
    ) -> Result<Vec<IssuedCard>, StoreError> {
        let sql = format!(
            "SELECT c.card_uuid, c.recorded_at, c.hook_instance, c.service, c.topic, \
             c.indicator, c.order_ref, c.suggestion_uuids, c.override_reasons, d.patient_id, \
             d.profile FROM decision_cards c LEFT JOIN decisions d ON d.id = c.decision_id \
             WHERE c.recorded_at >= $1 AND c.recorded_at < $2{} \
             ORDER BY c.recorded_at, c.card_uuid",
            if profile.is_some() {
                " AND d.profile = $3"
            } else {
                ""
            }
        );
        on_pool!(self, pool => {
            let mut query = sqlx::query(&sql).bind(ms(since)).bind(ms(until));
            if let Some(p) = profile {
                query = query.bind(p);
            }
            let rows = query.fetch_all(pool).await.map_err(|e| self.db(e))?;
            rows.iter()
                .map(|r| -> Result<IssuedCard, sqlx::Error> {
                    let mut card = issued_card_from_row(r)?;
                    card.patient_id = r.try_get("patient_id")?;
                    card.profile = r.try_get("profile")?;
                    Ok(card)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.db(e))
        })
    }

    /// Feedback received in `[since, until)`, each with the card it names when known. With
    /// `profile`, only feedback about cards of decisions made under that rule profile: feedback
    /// about a card with no recorded decision belongs to no profile (see
    /// [`Store::feedback_without_decision_between`]).
    pub async fn feedback_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        profile: Option<&str>,
    ) -> Result<Vec<FeedbackRow>, StoreError> {
        let sql = format!(
            "SELECT f.id, f.received_at, f.service AS f_service, f.card_uuid AS f_card, \
             f.outcome, f.accepted_suggestions, f.reason_system, f.reason_code, \
             f.reason_display, f.user_comment, f.outcome_timestamp, f.flags, f.issuer, \
             c.card_uuid, c.recorded_at, c.hook_instance, c.service, c.topic, c.indicator, \
             c.order_ref, c.suggestion_uuids, c.override_reasons, d.profile \
             FROM feedback f LEFT JOIN decision_cards c ON c.card_uuid = f.card_uuid \
             LEFT JOIN decisions d ON d.id = c.decision_id \
             WHERE f.received_at >= $1 AND f.received_at < $2{} ORDER BY f.received_at, f.id",
            if profile.is_some() {
                " AND d.profile = $3"
            } else {
                ""
            }
        );
        on_pool!(self, pool => {
            let mut query = sqlx::query(&sql).bind(ms(since)).bind(ms(until));
            if let Some(p) = profile {
                query = query.bind(p);
            }
            let rows = query.fetch_all(pool).await.map_err(|e| self.db(e))?;
            rows.iter()
                .map(|r| -> Result<FeedbackRow, sqlx::Error> {
                    let card = match r.try_get::<Option<String>, _>("card_uuid")? {
                        Some(_) => {
                            let mut card = issued_card_from_row(r)?;
                            card.profile = r.try_get("profile")?;
                            Some(card)
                        }
                        None => None,
                    };
                    Ok(FeedbackRow { record: feedback_from_row(r)?, card })
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.db(e))
        })
    }

    /// How many feedback items received in `[since, until)` name a card with no recorded
    /// decision (never issued here, its audit record dropped, or purged): a report filtered on
    /// a rule profile cannot count them and says how many it left out.
    pub async fn feedback_without_decision_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let sql = "SELECT COUNT(*) FROM feedback f \
                   LEFT JOIN decision_cards c ON c.card_uuid = f.card_uuid \
                   LEFT JOIN decisions d ON d.id = c.decision_id \
                   WHERE f.received_at >= $1 AND f.received_at < $2 AND d.id IS NULL";
        let n = on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql)
            .bind(ms(since))
            .bind(ms(until))
            .fetch_one(pool)
            .await)
        .map_err(|e| self.db(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Closes the pool (the report command, tests).
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

fn issued_card_from_row<'r, R>(r: &'r R) -> Result<IssuedCard, sqlx::Error>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(IssuedCard {
        card: CardRecord {
            uuid: r.try_get("card_uuid")?,
            topic: r.try_get("topic")?,
            indicator: r.try_get("indicator")?,
            order_ref: r.try_get("order_ref")?,
            suggestion_uuids: from_json(&r.try_get::<String, _>("suggestion_uuids")?),
            override_reasons: from_json(&r.try_get::<String, _>("override_reasons")?),
        },
        hook_instance: r.try_get("hook_instance")?,
        service: r.try_get("service")?,
        issued_at: from_ms(r.try_get("recorded_at")?),
        patient_id: None,
        profile: None,
    })
}

fn feedback_from_row<'r, R>(r: &'r R) -> Result<FeedbackRecord, sqlx::Error>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let outcome: String = r.try_get("outcome")?;
    let reason = match r.try_get::<Option<String>, _>("reason_code")? {
        Some(code) => Some(ReasonCode {
            system: r.try_get("reason_system")?,
            code,
            display: r.try_get("reason_display")?,
        }),
        None => None,
    };
    let flags: Vec<String> = from_json(&r.try_get::<String, _>("flags")?);
    let ts: String = r.try_get("outcome_timestamp")?;
    Ok(FeedbackRecord {
        id: r.try_get("id")?,
        received_at: from_ms(r.try_get("received_at")?),
        service: r.try_get("f_service")?,
        issuer: r.try_get("issuer")?,
        feedback: Feedback {
            card: r.try_get("f_card")?,
            outcome: FeedbackOutcome::parse(&outcome).unwrap_or(FeedbackOutcome::Overridden),
            accepted_suggestions: from_json(&r.try_get::<String, _>("accepted_suggestions")?),
            reason,
            user_comment: r.try_get("user_comment")?,
            outcome_timestamp: DateTime::parse_from_rfc3339(&ts)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        },
        flags: flags
            .iter()
            .filter_map(|f| FeedbackFlag::parse(f))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::config::RawStore;

    /// `sqlx::migrate!` embeds every `migrations/*.sql`, in version order, byte for byte: a
    /// migration missing from the binary, or SQL that differs from the file, fails here.
    #[test]
    fn the_migrator_embeds_every_migration_file_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .map(|n| {
                let (version, name) = n.split_once('_').unwrap();
                let description = name.trim_end_matches(".sql").replace('_', " ");
                let sql = std::fs::read_to_string(dir.join(&n)).unwrap();
                (version.parse::<i64>().unwrap(), description, sql)
            })
            .collect();
        files.sort();
        assert!(!files.is_empty());
        let embedded: Vec<(i64, String, String)> = MIGRATOR
            .iter()
            .map(|m| (m.version, m.description.to_string(), m.sql.to_string()))
            .collect();
        assert_eq!(embedded, files);
    }

    /// A store migrated by the hand-registered list this binary used before `sqlx::migrate!`
    /// (the same files, versions and descriptions, checksummed by sqlx from the SQL) opens with
    /// its rows: sqlx finds every applied version with the checksum it recorded.
    #[tokio::test]
    async fn a_store_migrated_by_the_former_hand_list_opens_as_it_is() {
        use sqlx::migrate::{Migration, MigrationType};
        use std::borrow::Cow;
        let former = |version: i64, description: &'static str, sql: &'static str| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        };
        let hand_list = Migrator {
            migrations: Cow::Owned(vec![
                former(1, "store", include_str!("../../migrations/0001_store.sql")),
                former(
                    2,
                    "feedback dedup",
                    include_str!("../../migrations/0002_feedback_dedup.sql"),
                ),
                former(
                    3,
                    "feedback issuer",
                    include_str!("../../migrations/0003_feedback_issuer.sql"),
                ),
            ]),
            ..Migrator::DEFAULT
        };
        // The database the former binary left: its three migrations applied and recorded.
        let dir = tempfile::tempdir().unwrap();
        let settings = RawStore {
            data_dir: dir.path().to_string_lossy().into_owned(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let Backend::Sqlite { path } = &settings.backend else {
            panic!("a data_dir is a SQLite store");
        };
        let former_pool = SqlitePool::connect_with(
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true),
        )
        .await
        .unwrap();
        hand_list.run(&former_pool).await.unwrap();
        former_pool.close().await;
        // Opened by this binary: nothing to apply, every recorded checksum matches.
        let store = Store::open(&settings).await.unwrap();
        let stored = record("kept across the upgrade");
        store
            .insert_feedback(std::slice::from_ref(&stored))
            .await
            .unwrap();
        store.close().await;

        let reopened = sqlite(dir.path()).await;
        let (versions, checksums): (Vec<i64>, Vec<Vec<u8>>) = on_pool!(reopened, pool => {
            sqlx::query_as::<_, (i64, Vec<u8>)>(
                "SELECT version, checksum FROM _sqlx_migrations ORDER BY version",
            )
            .fetch_all(pool)
            .await
            .unwrap()
        })
        .into_iter()
        .unzip();
        assert_eq!(versions, [1, 2, 3]);
        let expected: Vec<Vec<u8>> = MIGRATOR.iter().map(|m| m.checksum.to_vec()).collect();
        assert_eq!(checksums, expected);
        let feedback = all_feedback(&reopened).await;
        assert!(feedback.iter().any(|f| f.record.id == stored.id));
        reopened.close().await;
    }

    async fn sqlite(dir: &std::path::Path) -> Store {
        let settings = RawStore {
            data_dir: dir.to_string_lossy().into_owned(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        Store::open(&settings).await.unwrap()
    }

    fn record(comment: &str) -> FeedbackRecord {
        FeedbackRecord {
            id: uuid::Uuid::new_v4().to_string(),
            received_at: Utc::now(),
            service: "alemtuzumab-order-sign".into(),
            issuer: None,
            feedback: Feedback {
                card: "c1".into(),
                outcome: FeedbackOutcome::Overridden,
                accepted_suggestions: vec![],
                reason: Some(ReasonCode {
                    system: None,
                    code: "committee-approved".into(),
                    display: None,
                }),
                user_comment: Some(comment.into()),
                outcome_timestamp: Utc.timestamp_millis_opt(1_700_000_000_000).unwrap(),
            },
            flags: vec![FeedbackFlag::UnknownCard],
        }
    }

    async fn all_feedback(store: &Store) -> Vec<FeedbackRow> {
        store
            .feedback_between(
                DateTime::<Utc>::UNIX_EPOCH,
                Utc::now() + chrono::Duration::days(1),
                None,
            )
            .await
            .unwrap()
    }

    /// A decision under `profile` with one card `card`, and a feedback overriding that card.
    fn decision_with_feedback(profile: &str, card: &str) -> (DecisionRecord, FeedbackRecord) {
        let mut d = DecisionRecord::from_call(crate::store::model::CallInfo {
            hook_instance: format!("hi-{card}"),
            service: "alemtuzumab-order-sign".into(),
            hook: "order-sign".into(),
            patient_id: Some("p".into()),
            status: 200,
            profile: profile.into(),
            latency: std::time::Duration::from_millis(1),
        });
        d.cards = vec![CardRecord {
            uuid: card.into(),
            topic: "initiation-eligibility".into(),
            indicator: "critical".into(),
            order_ref: Some("MedicationRequest/mr".into()),
            suggestion_uuids: vec![],
            override_reasons: vec![],
        }];
        let mut f = record(card);
        f.feedback.card = card.into();
        f.flags = vec![];
        (d, f)
    }

    /// The service's own writers take turns (`Store::writing`) rather than meeting in SQLite's
    /// busy handler: with that handler cut to 1 ms on every pooled connection, audit batches,
    /// feedback posts, `jti`s and readiness probes written at once all succeed. Without the
    /// turns, a writer that meets another's open transaction fails "database is locked" after
    /// 1 ms (and with the configured timeout, sleeps up SQLite's 1-2-5-10-15-20-25 ms ladder).
    #[tokio::test]
    async fn concurrent_writers_take_turns_instead_of_waiting_in_sqlites_busy_handler() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(dir.path()).await;
        let Pool::Sqlite(pool) = &store.pool else {
            panic!("a SQLite store")
        };
        // Every connection the pool will hand out, each with a 1 ms busy handler.
        let mut held = Vec::new();
        for _ in 0..5 {
            let mut conn = pool.acquire().await.unwrap();
            sqlx::query("PRAGMA busy_timeout = 1")
                .execute(&mut *conn)
                .await
                .unwrap();
            held.push(conn);
        }
        drop(held);

        let mut writers = tokio::task::JoinSet::new();
        for w in 0..2 {
            let store = store.clone();
            writers.spawn(async move {
                for i in 0..5 {
                    let batch: Vec<DecisionRecord> = (0..200)
                        .map(|n| decision_with_feedback("ansm-2019", &format!("w{w}-{i}-{n}")).0)
                        .collect();
                    store.write_decisions(&batch).await.map(|_| ())?;
                }
                Ok::<_, StoreError>(())
            });
        }
        for t in 0..6 {
            let store = store.clone();
            writers.spawn(async move {
                for i in 0..10 {
                    let mut post = record(&format!("writer {t}, post {i}"));
                    post.feedback.card = format!("c-{t}-{i}");
                    store.insert_feedback(&[post]).await?;
                    store
                        .check_and_record_jti("https://ehr.example", &format!("{t}-{i}"), i64::MAX)
                        .await?;
                    store.probe().await?;
                }
                Ok(())
            });
        }
        let mut failures = Vec::new();
        while let Some(done) = writers.join_next().await {
            if let Err(e) = done.unwrap() {
                failures.push(e.to_string());
            }
        }
        assert!(failures.is_empty(), "writes failed: {failures:?}");
        assert_eq!(all_feedback(&store).await.len(), 60);
        store.close().await;
    }

    /// `chattr` on the store's files (root and a file system with the immutable flag).
    fn chattr(dir: &std::path::Path, flag: &str) {
        for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with("alemtuzumab-cds.db") || name.ends_with("-shm") {
                continue;
            }
            let out = std::process::Command::new("chattr")
                .arg(flag)
                .arg(entry.path())
                .output()
                .expect("chattr runs (e2fsprogs)");
            assert!(
                out.status.success(),
                "chattr {flag}: {} (needs root and a file system with the immutable flag)",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// A connection opened while the file could not be written is refused, so once the file
    /// is writable again writes succeed (before, the pool kept SQLite's read-only connection
    /// and every write drawn on it failed: "attempt to write a readonly database").
    #[cfg_attr(skip_real_servers, ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS is set")]
    #[tokio::test]
    async fn a_connection_opened_while_the_file_was_read_only_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let settings = RawStore {
            data_dir: dir.path().to_string_lossy().into_owned(),
            max_connections: 1,
            connect_timeout_ms: 1000,
            ..Default::default()
        }
        .validate()
        .unwrap();
        let store = Store::open(&settings).await.unwrap();
        let Pool::Sqlite(pool) = &store.pool else {
            panic!("a SQLite store")
        };
        chattr(dir.path(), "+i");
        // The pool's only connection goes; the next one is opened while the file is immutable.
        pool.acquire().await.unwrap().close().await.unwrap();
        let during = pool.acquire().await;
        chattr(dir.path(), "-i");
        assert!(during.is_err(), "a read-only connection was handed out");
        store
            .insert_feedback(&[record("after the outage")])
            .await
            .expect("a write once the file is writable again");
    }

    /// A batch larger than one multi-row statement is written whole, each card with its
    /// decision's profile, and written again (a retried batch) it adds nothing.
    #[tokio::test]
    async fn a_batch_over_several_statements_is_written_whole_and_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(dir.path()).await;
        let n = AUDIT_ROWS_PER_STATEMENT * 2 + 7;
        let batch: Vec<DecisionRecord> = (0..n)
            .map(|i| {
                let (mut d, _) = decision_with_feedback(
                    if i % 2 == 0 { "ansm-2019" } else { "ema-2020" },
                    &format!("card-{i}-a"),
                );
                let mut second = d.cards[0].clone();
                second.uuid = format!("card-{i}-b");
                d.cards.push(second);
                d
            })
            .collect();
        store.write_decisions(&batch).await.unwrap();
        store.write_decisions(&batch).await.unwrap();
        let (from, to) = (
            DateTime::<Utc>::UNIX_EPOCH,
            Utc::now() + chrono::Duration::days(1),
        );
        let cards = store.cards_between(from, to, None).await.unwrap();
        assert_eq!(cards.len(), 2 * n);
        let ema = store
            .cards_between(from, to, Some("ema-2020"))
            .await
            .unwrap();
        assert_eq!(ema.len(), 2 * (n / 2));
        assert!(ema.iter().all(|c| c.profile.as_deref() == Some("ema-2020")));
    }

    /// Issue 15: cards and feedback belong to the rule profile of the decision that issued the
    /// card; a profile's figures count only those; feedback about a card with no recorded
    /// decision belongs to no profile and is counted apart.
    #[tokio::test]
    async fn cards_and_feedback_are_read_for_the_profile_of_their_decision() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(dir.path()).await;
        let mut feedback = Vec::new();
        for (profile, card) in [("ansm-2019", "a1"), ("ansm-2019", "a2"), ("ema-2020", "e1")] {
            let (d, f) = decision_with_feedback(profile, card);
            store.write_decisions(&[d]).await.unwrap();
            feedback.push(f);
        }
        feedback.push(record("no decision"));
        store.insert_feedback(&feedback).await.unwrap();
        let (from, to) = (
            DateTime::<Utc>::UNIX_EPOCH,
            Utc::now() + chrono::Duration::days(1),
        );
        let cards = |profile: Option<&'static str>| {
            let store = store.clone();
            async move {
                let mut v: Vec<(String, Option<String>)> = store
                    .cards_between(from, to, profile)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|c| (c.card.uuid, c.profile))
                    .collect();
                v.sort();
                v
            }
        };
        let fb = |profile: Option<&'static str>| {
            let store = store.clone();
            async move {
                let mut v: Vec<(String, Option<String>)> = store
                    .feedback_between(from, to, profile)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.record.feedback.card, r.card.and_then(|c| c.profile)))
                    .collect();
                v.sort();
                v
            }
        };
        let ansm = |c: &str| (c.to_owned(), Some("ansm-2019".to_owned()));
        let ema = |c: &str| (c.to_owned(), Some("ema-2020".to_owned()));
        assert_eq!(cards(None).await, [ansm("a1"), ansm("a2"), ema("e1")]);
        assert_eq!(cards(Some("ansm-2019")).await, [ansm("a1"), ansm("a2")]);
        assert_eq!(cards(Some("ema-2020")).await, [ema("e1")]);
        assert_eq!(
            fb(None).await,
            [ansm("a1"), ansm("a2"), ("c1".to_owned(), None), ema("e1")]
        );
        assert_eq!(fb(Some("ansm-2019")).await, [ansm("a1"), ansm("a2")]);
        assert_eq!(fb(Some("ema-2020")).await, [ema("e1")]);
        assert_eq!(
            store
                .feedback_without_decision_between(from, to)
                .await
                .unwrap(),
            1
        );
    }

    /// Issue 17 item 7: the same item sent again (an EHR's retry) is stored once.
    #[tokio::test]
    async fn the_same_feedback_item_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(dir.path()).await;
        assert_eq!(
            store.insert_feedback(&[record("first")]).await.unwrap(),
            [true]
        );
        // A retry, and the same item twice in one call: nothing new.
        assert_eq!(
            store.insert_feedback(&[record("retry")]).await.unwrap(),
            [false]
        );
        let mut other = record("another decision");
        other.feedback.outcome_timestamp += chrono::Duration::seconds(1);
        assert_eq!(
            store
                .insert_feedback(&[other.clone(), other])
                .await
                .unwrap(),
            [true, false]
        );
        let rows = all_feedback(&store).await;
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows.iter()
                .filter(|r| r.record.feedback.user_comment.as_deref() == Some("first"))
                .count(),
            1
        );
    }

    /// Issue 17 item 7: a write past its deadline is rolled back, so its 503 tells the truth.
    #[tokio::test]
    async fn feedback_past_its_deadline_is_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(dir.path()).await;
        let past = tokio::time::Instant::now();
        let err = store
            .insert_feedback_before(&[record("late")], Some(past))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not stored"), "{err}");
        assert!(all_feedback(&store).await.is_empty());
        // Not kept as already stored either: the retry is stored.
        assert_eq!(
            store.insert_feedback(&[record("retry")]).await.unwrap(),
            [true]
        );
        assert_eq!(all_feedback(&store).await.len(), 1);
    }
}
