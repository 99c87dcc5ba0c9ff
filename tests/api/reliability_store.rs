//! Issue 14 item 3: the store goes away under a stream of hook and feedback calls, then comes
//! back. While it is away hooks are still answered (their audit records are dropped and
//! counted), feedback gets `503`, `/readyz` `503` naming the store; once it is back, readiness
//! returns without restarting the service, and every feedback that got a `200` is in the store
//! (`report --format json`). PostgreSQL is stopped and started again with `pg_ctl` on the same
//! data directory and port; a SQLite file is made read-only (`chattr +i`, which also stops
//! writes through descriptors already open) and restored.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::feedback::report_json;
use crate::helpers::{fixture_hook, spawn_app_with, TestApp};

/// A PostgreSQL cluster driven by `pg_ctl`, so it can be stopped and started again on the same
/// data directory and port. Stopped (immediate) on drop.
struct PgCtl {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    user: Option<(u32, u32)>,
    dir: tempfile::TempDir,
}

fn pg_bin_dir() -> PathBuf {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "PostgreSQL binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin: run \
             scripts/test (it installs Debian's `postgresql`), or set \
             ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS=1 to mark the PostgreSQL tests ignored"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// PostgreSQL refuses to run as root: `(uid, gid)` of `postgres` or `nobody` then.
fn unprivileged_user() -> Option<(u32, u32)> {
    if !is_root() {
        return None;
    }
    for user in ["postgres", "nobody"] {
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, user]).output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        if let (Some(uid), Some(gid)) = (id("-u"), id("-g")) {
            return Some((uid, gid));
        }
    }
    panic!("running as root, and no `postgres` or `nobody` user to run PostgreSQL as")
}

impl PgCtl {
    async fn start() -> PgCtl {
        let bin = pg_bin_dir();
        let user = unprivileged_user();
        let dir = tempfile::tempdir().unwrap();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let data = dir.path().join("data");
        let out = Command::new(bin.join("initdb"))
            .as_user(user)
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .current_dir(dir.path())
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let pg = PgCtl {
            bin,
            data,
            port,
            user,
            dir,
        };
        pg.pg_ctl_start().await;
        pg
    }

    fn ctl(&self) -> Command {
        let mut c = Command::new(self.bin.join("pg_ctl"));
        c.as_user(self.user)
            .arg("-D")
            .arg(&self.data)
            .current_dir(self.dir.path());
        c
    }

    /// `pg_ctl start` on the same port and data directory; waits until it takes connections.
    async fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let mut c = self.ctl();
        c.arg("-l")
            .arg(self.dir.path().join("postgres.log"))
            .args(["-o", &options, "-w", "-t", "60", "start"]);
        let out = tokio::task::spawn_blocking(move || c.output())
            .await
            .unwrap()
            .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
        );
    }

    /// `pg_ctl stop -m fast`: connections are closed, the server is gone when it returns.
    async fn stop(&self) {
        let mut c = self.ctl();
        c.args(["-m", "fast", "-w", "-t", "60", "stop"]);
        let out = tokio::task::spawn_blocking(move || c.output())
            .await
            .unwrap()
            .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    async fn database(&self) -> String {
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
}

impl Drop for PgCtl {
    fn drop(&mut self) {
        let _ = self.ctl().args(["-m", "immediate", "stop"]).output();
    }
}

trait AsUser {
    fn as_user(&mut self, user: Option<(u32, u32)>) -> &mut Self;
}

impl AsUser for Command {
    fn as_user(&mut self, user: Option<(u32, u32)>) -> &mut Self {
        if let Some((uid, gid)) = user {
            self.uid(uid).gid(gid);
        }
        self
    }
}

/// One round of the stream: a hook call (answered `200` whatever the store) and the feedback
/// overriding its critical card. Returns the card uuid and the feedback's status.
async fn hook_then_feedback(app: &TestApp) -> (String, u16) {
    let mut req = fixture_hook("naive-one-dmt--order-sign.json");
    req["hookInstance"] = json!(uuid::Uuid::new_v4().to_string());
    let resp = app.post_hook("alemtuzumab-order-sign", &req).await;
    assert_eq!(resp.status(), 200, "hooks are answered whatever the store");
    let body: Value = resp.json().await.unwrap();
    let card = body["cards"]
        .as_array()
        .and_then(|cards| {
            cards
                .iter()
                .find(|c| c["source"]["topic"]["code"] == "initiation-eligibility")
        })
        .and_then(|c| c["uuid"].as_str())
        .unwrap_or_else(|| panic!("no initiation-eligibility card: {body}"))
        .to_owned();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let fb = json!({"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": now,
        "overrideReason": {"reason": {"system": "urn:alemtuzumab-cds:override-reason",
                                      "code": "other-documented"}}}]});
    let r = app
        .post_raw(
            "/cds-services/alemtuzumab-order-sign/feedback",
            fb.to_string(),
        )
        .await;
    let status = r.status().as_u16();
    if status != 200 {
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    }
    (card, status)
}

/// Polls `/readyz` (bounded) until it answers `status`; the last body.
async fn readiness_becomes(app: &TestApp, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = app.get("/readyz").await;
        let got = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if got == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {got} ({body}), waiting for {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The card uuids of every override in the report, whatever the rule (feedback about a card
/// whose audit was dropped during the outage is reported under "(unknown card)").
fn overridden_cards(report: &Value) -> Vec<String> {
    report["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["overrideDecisions"].as_array().into_iter().flatten())
        .filter_map(|d| d["cardUuid"].as_str().map(str::to_owned))
        .collect()
}

/// `cds_audit_dropped_total` (the in-process apps share one recorder: it only grows).
async fn dropped(app: &TestApp) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| {
            l.strip_prefix("cds_audit_dropped_total ")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

/// The outage scenario around `outage` (takes the store away) and `restore`.
async fn stream_through_an_outage<Fut1, Fut2>(
    app: &TestApp,
    outage: impl FnOnce() -> Fut1,
    restore: impl FnOnce() -> Fut2,
) -> BTreeSet<String>
where
    Fut1: std::future::Future<Output = ()>,
    Fut2: std::future::Future<Output = ()>,
{
    let mut stored = BTreeSet::new();
    readiness_becomes(app, 200).await;
    for _ in 0..5 {
        let (card, status) = hook_then_feedback(app).await;
        assert_eq!(status, 200);
        stored.insert(card);
    }

    outage().await;
    let body = readiness_becomes(app, 503).await;
    assert_eq!(body["component"], "store", "{body}");
    let dropped_before = dropped(app).await;
    let mut refused = 0;
    for _ in 0..5 {
        let (card, status) = hook_then_feedback(app).await;
        if status == 200 {
            stored.insert(card);
        } else {
            refused += 1;
        }
    }
    assert_eq!(refused, 5, "feedback answered 200 while the store was away");
    // The audit records of those hook calls are dropped and counted, not queued without bound.
    let deadline = Instant::now() + Duration::from_secs(60);
    while dropped(app).await <= dropped_before {
        assert!(
            Instant::now() < deadline,
            "no audit record counted as dropped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    restore().await;
    readiness_becomes(app, 200).await;
    for _ in 0..5 {
        let (card, status) = hook_then_feedback(app).await;
        assert_eq!(status, 200, "feedback after the store came back");
        stored.insert(card);
    }
    stored
}

#[cfg_attr(skip_real_servers, ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS is set")]
#[tokio::test]
async fn postgres_stopped_and_started_again_loses_no_answered_feedback() {
    let pg = PgCtl::start().await;
    let url = pg.database().await;
    let u = url.clone();
    let app = spawn_app_with(move |raw| {
        raw.store.url = u;
        raw.store.connect_timeout_ms = 1000;
        raw.store.audit_flush_interval_ms = 50;
    })
    .await;
    let stored = stream_through_an_outage(&app, || pg.stop(), || pg.pg_ctl_start()).await;

    let env = vec![
        (
            "ALEMTUZUMAB_CDS__STORE__DATA_DIR".to_owned(),
            app.data_dir.path().to_string_lossy().into_owned(),
        ),
        ("ALEMTUZUMAB_CDS__STORE__URL".to_owned(), url),
    ];
    let report = report_json(&env, &[]).await;
    let reported: BTreeSet<String> = overridden_cards(&report).into_iter().collect();
    assert_eq!(reported, stored, "{report}");
    assert_eq!(overridden_cards(&report).len(), stored.len(), "{report}");
}

/// `chattr` on every file of the store: `+i` (immutable, even through open descriptors; root or
/// CAP_LINUX_IMMUTABLE, on a file system that has the flag) or `-i`.
fn chattr(dir: &Path, flag: &str) {
    for entry in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        // The shared-memory index is mapped, not written: SQLite needs it to read at all.
        if !name.starts_with("alemtuzumab-cds.db") || name.ends_with("-shm") {
            continue;
        }
        let out = Command::new("chattr")
            .arg(flag)
            .arg(entry.path())
            .output()
            .expect("chattr runs (e2fsprogs)");
        assert!(
            out.status.success(),
            "chattr {flag} {}: {} (this test needs root and a file system with the immutable \
             flag, such as ext4)",
            entry.path().display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Clears the immutable flag on drop, so a failed test leaves a removable directory.
struct Mutable(PathBuf);

impl Drop for Mutable {
    fn drop(&mut self) {
        for entry in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
            let _ = Command::new("chattr").arg("-i").arg(entry.path()).output();
        }
    }
}

#[tokio::test]
async fn a_read_only_sqlite_file_restored_loses_no_answered_feedback() {
    let app = spawn_app_with(|raw| raw.store.audit_flush_interval_ms = 50).await;
    let dir = app.data_dir.path().to_path_buf();
    let _restore = Mutable(dir.clone());
    let d = dir.clone();
    let stored = stream_through_an_outage(
        &app,
        || async move { chattr(&d, "+i") },
        || async move { chattr(&dir, "-i") },
    )
    .await;
    let env = vec![(
        "ALEMTUZUMAB_CDS__STORE__DATA_DIR".to_owned(),
        app.data_dir.path().to_string_lossy().into_owned(),
    )];
    let report = report_json(&env, &[]).await;
    let reported: BTreeSet<String> = overridden_cards(&report).into_iter().collect();
    assert_eq!(reported, stored, "{report}");
    assert_eq!(overridden_cards(&report).len(), stored.len(), "{report}");
}
