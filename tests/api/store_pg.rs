//! The feedback and audit suite against a real PostgreSQL (issue 6), started here: `initdb` into
//! a temp dir, `postgres` on a free loopback port as an unprivileged user (PostgreSQL refuses to
//! run as root, and CI runs as root), one database per test, stopped when the test ends.
//!
//! `scripts/test` installs Debian's `postgresql` when its binaries are missing. Without them these
//! tests fail, naming what is missing; `ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS=1` (build.rs) marks them
//! ignored instead, and the summary line counts them.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::feedback::{self, Backend};

/// A throw-away PostgreSQL server, killed on drop.
pub struct PgServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb` and `postgres`.
fn pg_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file())
                .then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin)
}

/// `(uid, gid)` of the unprivileged user to run PostgreSQL as when we are root.
fn unprivileged_user() -> Option<(u32, u32)> {
    for user in ["postgres", "nobody"] {
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, user]).output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        if let (Some(uid), Some(gid)) = (id("-u"), id("-g")) {
            return Some((uid, gid));
        }
    }
    None
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn as_user(cmd: &mut Command, user: Option<(u32, u32)>) -> &mut Command {
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn url(port: u16, db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/{db}")
}

/// Waits until PostgreSQL at `url` accepts a connection; an error once it has exited (its port
/// taken, say) or `timeout` has passed.
async fn wait_ready(child: &mut Child, url: &str, timeout: Duration) -> Result<(), String> {
    use sqlx::Connection;
    let started = Instant::now();
    loop {
        match sqlx::PgConnection::connect(url).await {
            Ok(c) => {
                let _ = c.close().await;
                return Ok(());
            }
            Err(e) => {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("postgres exited ({status}): {e}"));
                }
                if started.elapsed() > timeout {
                    return Err(e.to_string());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

impl PgServer {
    /// Starts a server; a missing PostgreSQL fails the test (never a silent `ok`).
    pub async fn start() -> PgServer {
        let Some(bin) = pg_bin_dir() else {
            panic!(
                "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin: run scripts/test \
                 (it installs Debian's `postgresql`), or set ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS=1 \
                 to mark the PostgreSQL tests ignored"
            );
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let user = if is_root() {
            let user = unprivileged_user().expect("a `postgres` or `nobody` user to run as");
            std::os::unix::fs::chown(dir.path(), Some(user.0), Some(user.1))
                .expect("give the temp dir to the PostgreSQL user");
            Some(user)
        } else {
            None
        };
        let data = dir.path().join("data");
        let out = as_user(&mut Command::new(bin.join("initdb")), user)
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .current_dir(dir.path())
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The port is free when picked but another process may bind it before PostgreSQL does
        // (the suite runs beside other servers): then PostgreSQL exits, and another port is tried.
        let log_path = dir.path().join("postgres.log");
        for attempt in 1..=5 {
            let port = free_port();
            let log = std::fs::File::create(&log_path).expect("log file");
            if let Some((uid, gid)) = user {
                std::os::unix::fs::chown(&log_path, Some(uid), Some(gid)).expect("chown log");
            }
            let mut child = as_user(&mut Command::new(bin.join("postgres")), user)
                .arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-k"])
                .arg(dir.path())
                .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("postgres starts");
            match wait_ready(&mut child, &url(port, "postgres"), Duration::from_secs(60)).await {
                Ok(()) => {
                    return PgServer {
                        child,
                        port,
                        _dir: dir,
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    if attempt == 5 || !log.contains("could not bind") {
                        panic!("PostgreSQL did not become ready: {e}\n{log}");
                    }
                }
            }
        }
        unreachable!("the fifth attempt returns or panics")
    }

    fn url(&self, db: &str) -> String {
        url(self.port, db)
    }

    /// A new empty database; its URL.
    pub async fn database(&self) -> String {
        use sqlx::Connection;
        let name = format!("cds_{}", uuid::Uuid::new_v4().simple());
        let mut c = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connect");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .expect("create database");
        let _ = c.close().await;
        self.url(&name)
    }

    pub fn dir(&self) -> &Path {
        self._dir.path()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's fast shutdown; SIGKILL if it lingers.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (bounded: 300 tries of 100 ms) until the card `uuid` is in the store's database.
async fn card_in_database(backend: &Backend, uuid: &str) {
    use sqlx::Connection;
    let Backend::Postgres(url) = backend else {
        panic!("a PostgreSQL backend")
    };
    let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
    for _ in 0..300 {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM decision_cards WHERE card_uuid = $1")
            .bind(uuid)
            .fetch_one(&mut c)
            .await
            .expect("query");
        if n == 1 {
            let _ = c.close().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("card {uuid} never reached the database");
}

async fn backend() -> (PgServer, Backend) {
    let pg = PgServer::start().await;
    let url = pg.database().await;
    assert!(pg.dir().exists());
    (pg, Backend::Postgres(url))
}

#[tokio::test]
#[cfg_attr(
    skip_real_servers,
    ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS: needs PostgreSQL"
)]
async fn postgres_feedback_round_trip_shows_in_the_report() {
    let (_pg, backend) = backend().await;
    feedback::suite_round_trip(&backend).await;
}

#[tokio::test]
#[cfg_attr(
    skip_real_servers,
    ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS: needs PostgreSQL"
)]
async fn postgres_the_same_feedback_posted_twice_is_stored_once() {
    let (_pg, backend) = backend().await;
    feedback::suite_feedback_is_idempotent(&backend).await;
}

/// Issue 17 item 7: the feedback table locked by another session, a feedback past the
/// request timeout is a 503 while the lock is held, not stored; its retry is stored once.
#[tokio::test]
#[cfg_attr(
    skip_real_servers,
    ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS: needs PostgreSQL"
)]
async fn postgres_a_feedback_cut_by_the_request_timeout_is_a_503_and_not_stored_and_its_retry_is_stored_once(
) {
    let (_pg, backend) = backend().await;
    feedback::suite_feedback_cut_by_the_timeout(&backend).await;
}

#[tokio::test]
#[cfg_attr(
    skip_real_servers,
    ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS: needs PostgreSQL"
)]
async fn postgres_malformed_feedback_is_a_400_naming_the_field() {
    let (_pg, backend) = backend().await;
    feedback::suite_malformed_feedback(&backend).await;
}

#[tokio::test]
#[cfg_attr(
    skip_real_servers,
    ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS: needs PostgreSQL"
)]
async fn postgres_readiness_says_ready_without_naming_the_store() {
    let (_pg, backend) = backend().await;
    feedback::suite_readiness(&backend).await;
}

#[tokio::test]
#[cfg_attr(
    skip_real_servers,
    ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS: needs PostgreSQL"
)]
async fn postgres_jti_replay_is_rejected_across_two_store_instances() {
    let (_pg, Backend::Postgres(url)) = backend().await else {
        unreachable!("backend() is PostgreSQL");
    };
    let raw = alemtuzumab_cds::store::config::RawStore {
        url,
        ..Default::default()
    };
    feedback::suite_jti_replay(&raw.validate().expect("valid")).await;
}

#[tokio::test]
#[cfg_attr(
    skip_real_servers,
    ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS: needs PostgreSQL"
)]
async fn two_replicas_share_cards_feedback_and_the_report() {
    // A card issued by one replica, overridden through the other (behind a load balancer).
    let (_pg, backend) = backend().await;
    let a = feedback::spawn(&backend).await;
    let b = feedback::spawn(&backend).await;
    let req = crate::helpers::fixture_hook("naive-one-dmt--order-sign.json");
    let body: serde_json::Value = a
        .post_hook("alemtuzumab-order-sign", &req)
        .await
        .json()
        .await
        .expect("JSON");
    let card = body["cards"][0].clone();
    // Replica a writes its audit in batches off the answer path: wait (bounded) until the card
    // is in the shared database, as replica b will look it up there.
    card_in_database(&backend, card["uuid"].as_str().expect("card uuid")).await;
    let reason = &card["overrideReasons"][0];
    let fb = serde_json::json!({"feedback": [{"card": card["uuid"], "outcome": "overridden",
        "outcomeTimestamp": "2026-11-25T10:00:00Z",
        "overrideReason": {"reason": {"system": reason["system"], "code": reason["code"]}}}]});
    assert_eq!(
        b.post_feedback("alemtuzumab-order-sign", &fb)
            .await
            .status(),
        200
    );
    let report = feedback::report_json(&backend.env(&b), &[]).await;
    let init = feedback::rule(&report, "initiation-eligibility");
    assert_eq!(init["overrides"], 1, "{report}");
    assert_eq!(init["overrideDecisions"][0]["flags"], serde_json::json!([]));
    assert_eq!(
        init["overrideDecisions"][0]["hookInstance"],
        req["hookInstance"]
    );
}

#[tokio::test]
#[cfg_attr(
    skip_real_servers,
    ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS: needs PostgreSQL"
)]
async fn a_jwt_replayed_on_another_replica_sharing_postgres_is_refused() {
    // Issue 5 §1 / issue 6 §3: the jti replay store is the shared store, so replicas agree.
    use crate::auth::{claims, ec_key, header, jwks, sign, JwksServer, ISS, PUBLIC_URL};
    let (_pg, Backend::Postgres(url)) = backend().await else {
        unreachable!("backend() is PostgreSQL");
    };
    let key = ec_key("replica-key");
    let server = JwksServer::start(jwks(&[&key])).await;
    let spawn = |url: String, jwks_url: String| {
        crate::helpers::spawn_app_with(move |raw| {
            raw.server.public_url = PUBLIC_URL.to_owned();
            raw.store.url = url;
            raw.auth.issuers = vec![alemtuzumab_cds::config::RawIssuer {
                iss: ISS.to_owned(),
                jwks_url,
                jwks_file: String::new(),
                jku_allow: vec![],
                audiences: vec![],
            }];
        })
    };
    let a = spawn(url.clone(), server.url()).await;
    let b = spawn(url, server.url()).await;
    let token = sign(&key, &header(&key), &claims("alemtuzumab-order-sign"));
    let first = a
        .post_hook_with_token("alemtuzumab-order-sign", Some(&token))
        .await;
    assert_eq!(
        first.status(),
        200,
        "{}",
        first.text().await.unwrap_or_default()
    );
    let replay = b
        .post_hook_with_token("alemtuzumab-order-sign", Some(&token))
        .await;
    assert_eq!(replay.status(), 401, "the replica must see the replay");
}

/// README §Endpoints: `/readyz` is `503` `{"status": "unavailable", "component": "store"}` when
/// the store cannot take a write: here PostgreSQL stopped under a running service. Feedback is
/// then refused `503` (not stored, the EHR may retry), while hook calls are still answered.
#[tokio::test]
#[cfg_attr(
    skip_real_servers,
    ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS: needs PostgreSQL"
)]
async fn postgres_down_fails_readiness_and_feedback_but_not_hooks() {
    let (pg, backend) = backend().await;
    let app = feedback::spawn(&backend).await;
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), 200);
    drop(pg); // fast shutdown, waited for
              // The readiness write probe is reused for up to 5 s: poll, bounded by a count of tries.
    let mut last = None;
    for _ in 0..60 {
        let r = app.get("/readyz").await;
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.expect("JSON");
        if status == 503 {
            last = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        last.expect("/readyz never answered 503 with PostgreSQL down"),
        serde_json::json!({"status": "unavailable", "component": "store"})
    );
    let fb = serde_json::json!({"feedback": [{"card": "c", "outcome": "overridden",
        "outcomeTimestamp": "2026-11-25T10:00:00Z", "overrideReason": {"userComment": "x"}}]});
    let r = app.post_feedback("alemtuzumab-order-sign", &fb).await;
    assert_eq!(r.status(), 503);
    let req = crate::helpers::fixture_hook("naive-one-dmt--order-sign.json");
    let r = app.post_hook("alemtuzumab-order-sign", &req).await;
    assert_eq!(r.status(), 200);
}
