//! Feedback and audit store (issue 6): the CDS Hooks 2.0 feedback round trip through the report,
//! malformed feedback, readiness, `jti` replay, kill -9 durability, and what the audit never keeps.
//!
//! The `suite_*` functions take a [`Backend`] and run against SQLite here and against a real
//! PostgreSQL in `store_pg.rs`: both backends pass the same suite.

use std::path::Path;
use std::time::{Duration, Instant};

use alemtuzumab_cds::config::RawSettings;
use serde_json::{json, Value};

use crate::helpers::{binary, fixture_hook, repo, spawn_app_with, ServedBinary, TestApp};

/// Where a test app keeps its store.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The default: a SQLite file under the app's own temp data dir.
    Sqlite,
    /// A PostgreSQL database URL.
    Postgres(String),
}

impl Backend {
    pub fn apply(&self, raw: &mut RawSettings) {
        if let Backend::Postgres(url) = self {
            raw.store.url = url.clone();
        }
        // Short batches: feedback flushes anyway, but cross-replica tests wait for the writer.
        raw.store.audit_flush_interval_ms = 50;
    }

    /// Environment for the binary (`report`) to read the same store as `app`.
    pub fn env(&self, app: &TestApp) -> Vec<(String, String)> {
        let mut env = vec![(
            "ALEMTUZUMAB_CDS__STORE__DATA_DIR".to_owned(),
            app.data_dir.path().to_string_lossy().into_owned(),
        )];
        if let Backend::Postgres(url) = self {
            env.push(("ALEMTUZUMAB_CDS__STORE__URL".to_owned(), url.clone()));
        }
        env
    }
}

/// A test app on `backend`, once its store is open (its readiness answers 200).
pub async fn spawn(backend: &Backend) -> TestApp {
    let b = backend.clone();
    let app = spawn_app_with(move |raw| b.apply(raw)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.get("/readyz").await.status() != 200 {
        assert!(Instant::now() < deadline, "the store did not open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app
}

/// `alemtuzumab-cds report --format json` over `env`'s store. Runs off the test's runtime, which
/// also drives the test app's store tasks (a blocked runtime would stall them).
pub async fn report_json(env: &[(String, String)], args: &[&str]) -> Value {
    let mut cmd = binary();
    cmd.arg("report")
        .args(["--format", "json"])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("report task")
        .expect("report runs");
    assert!(
        out.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "report is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub fn rule<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["rule"] == code))
        .unwrap_or_else(|| panic!("no rule {code} in {report}"))
}

impl TestApp {
    pub async fn post_feedback(&self, service: &str, body: &Value) -> reqwest::Response {
        self.post_raw(
            &format!("/cds-services/{service}/feedback"),
            body.to_string(),
        )
        .await
    }
}

/// A hook call of the naive-one-dmt fixture under a fresh hookInstance: its critical
/// initiation-eligibility card, and the hookInstance.
async fn critical_card(app: &TestApp) -> (Value, String) {
    let mut req = fixture_hook("naive-one-dmt--order-sign.json");
    let hook_instance = uuid::Uuid::new_v4().to_string();
    req["hookInstance"] = json!(hook_instance);
    let resp = app.post_hook("alemtuzumab-order-sign", &req).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("JSON");
    let card = body["cards"]
        .as_array()
        .and_then(|cards| {
            cards
                .iter()
                .find(|c| c["source"]["topic"]["code"] == "initiation-eligibility")
        })
        .cloned()
        .unwrap_or_else(|| panic!("no initiation-eligibility card: {body}"));
    assert_eq!(card["indicator"], "critical");
    (card, hook_instance)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Hook call → feedback in the official wire format → `report` shows it, linked to its decision.
pub async fn suite_round_trip(backend: &Backend) {
    // Arrange
    let app = spawn(backend).await;
    let (overridden, hi_overridden) = critical_card(&app).await;
    let (accepted, _) = critical_card(&app).await;
    let (sandbox_style, _) = critical_card(&app).await;
    let offered = &overridden["overrideReasons"][0];
    let suggestion = accepted["suggestions"][0]["uuid"].clone();

    // Act
    let override_body = json!({"feedback": [{
        "card": overridden["uuid"],
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"system": offered["system"], "code": offered["code"], "display": offered["display"]},
            "userComment": "Avis RCP du 20/11: tous les autres traitements contre-indiqués"
        },
        "outcomeTimestamp": now()
    }]});
    let accept_body = json!({"feedback": [{
        "card": accepted["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": suggestion}],
        "outcomeTimestamp": now()
    }]});
    // As the CDS Hooks Sandbox sends it: a reason this card did not offer, no display, no comment.
    let sandbox_body = json!({"feedback": [{
        "card": sandbox_style["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-25T01:10:23.110Z",
        "overrideReason": {"reason": {"code": "not-relevant", "system": "http://example.org/reasons"}}
    }]});
    let unknown_body = json!({"feedback": [{
        "card": "e015d505-555f-477b-bb1c-01a99f30a4c8",
        "outcome": "overridden",
        "outcomeTimestamp": now(),
        "overrideReason": {"userComment": "card from another system"}
    }]});
    for body in [&override_body, &accept_body, &sandbox_body, &unknown_body] {
        let resp = app.post_feedback("alemtuzumab-order-sign", body).await;
        assert_eq!(resp.status(), 200, "{body}");
        // CDS Hooks 2.0.1: `200` with an empty body, not `{}` (issue 17).
        let text = resp.text().await.expect("a body");
        assert_eq!(text, "", "{body}");
    }
    let report = report_json(&backend.env(&app), &[]).await;

    // Assert
    let init = rule(&report, "initiation-eligibility");
    assert_eq!(init["cardsShown"], 3, "{report}");
    // Three calls about one draft order of one patient (issue 12 item 5).
    assert_eq!(init["distinctOrders"], 1, "{report}");
    assert_eq!(init["criticalCards"], 3, "{report}");
    assert_eq!(init["overrides"], 2, "{report}");
    assert_eq!(init["accepted"], 1, "{report}");
    assert_eq!(init["acceptedSuggestions"], 1, "{report}");
    let reasons = init["overridesByReason"].as_array().expect("reasons");
    // Each reason named as the prescriber read it on the card (issue 12 item 5).
    assert!(
        reasons.iter().any(|r| r["code"] == offered["code"]
            && r["display"] == offered["display"]
            && r["count"] == 1),
        "{report}"
    );
    let decisions = init["overrideDecisions"].as_array().expect("decisions");
    let d = decisions
        .iter()
        .find(|d| d["cardUuid"] == overridden["uuid"])
        .unwrap_or_else(|| panic!("override not linked: {report}"));
    assert_eq!(d["hookInstance"], hi_overridden.as_str());
    assert_eq!(d["reasonDisplay"], offered["display"], "{report}");
    assert_eq!(d["orderId"], "MedicationRequest/p02-draft-alemtuzumab");
    assert_eq!(d["flags"], json!([]));
    assert!(d["userComment"].as_str().unwrap_or("").contains("RCP"));
    let flagged = decisions
        .iter()
        .find(|d| d["cardUuid"] == sandbox_style["uuid"])
        .unwrap_or_else(|| panic!("sandbox override missing: {report}"));
    assert_eq!(flagged["flags"], json!(["override-reason-not-offered"]));
    let unknown = rule(&report, "(unknown card)");
    assert_eq!(
        unknown["overrideDecisions"][0]["flags"],
        json!(["unknown-card"])
    );
    // Patient-counselling cards were shown, never overridden.
    assert_eq!(rule(&report, "patient-counselling")["cardsShown"], 3);

    // The period filters: nothing before 2000.
    let old = report_json(&backend.env(&app), &["--until", "2000-01-01"]).await;
    assert_eq!(rule(&old, "initiation-eligibility")["cardsShown"], 0);
}

/// The same feedback posted twice (an EHR retrying after a timeout or a lost answer) answers
/// 200 both times, is stored once and counts one override in the report (issue 17 item 7).
pub async fn suite_feedback_is_idempotent(backend: &Backend) {
    // Arrange
    let app = spawn(backend).await;
    let (card, _) = critical_card(&app).await;
    let offered = &card["overrideReasons"][0];
    let body = json!({"feedback": [{
        "card": card["uuid"],
        "outcome": "overridden",
        "overrideReason": {"reason": {"system": offered["system"], "code": offered["code"]}},
        "outcomeTimestamp": now()
    }]});
    // The same item twice in one call, too.
    let doubled = json!({"feedback": [body["feedback"][0], body["feedback"][0]]});

    // Act
    for b in [&body, &body, &doubled] {
        let resp = app.post_feedback("alemtuzumab-order-sign", b).await;
        assert_eq!(resp.status(), 200, "{b}");
    }
    let report = report_json(&backend.env(&app), &[]).await;

    // Assert
    let init = rule(&report, "initiation-eligibility");
    assert_eq!(init["overrides"], 1, "{report}");
    assert_eq!(
        init["overrideDecisions"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
}

/// Malformed feedback: 400 with an OperationOutcome naming the field; nothing is stored.
pub async fn suite_malformed_feedback(backend: &Backend) {
    let app = spawn(backend).await;
    let ok = json!({"card": "c", "outcome": "overridden", "outcomeTimestamp": now(),
                    "overrideReason": {"userComment": "x"}});
    let with = |k: &str, v: Value| {
        let mut item = ok.clone();
        item[k] = v;
        json!({ "feedback": [ok.clone(), item] })
    };
    let cases = [
        (json!({"feedbacks": []}), "feedback"),
        (json!({"feedback": "accepted"}), "feedback"),
        (with("outcome", json!("rejected")), "feedback[1].outcome"),
        (with("card", Value::Null), "feedback[1].card"),
        (
            with("outcomeTimestamp", json!("tomorrow")),
            "feedback[1].outcomeTimestamp",
        ),
        (
            with("overrideReason", json!({"reason": {"display": "no code"}})),
            "feedback[1].overrideReason.reason.code",
        ),
        (
            with("acceptedSuggestions", json!("all")),
            "feedback[1].acceptedSuggestions",
        ),
        // Issue 17 item 8: lengths and counts are bounded.
        (
            with(
                "overrideReason",
                json!({"reason": {"code": "c".repeat(257)}}),
            ),
            "feedback[1].overrideReason.reason.code",
        ),
        (
            with(
                "overrideReason",
                json!({"reason": {"code": "c", "system": "s".repeat(501)}}),
            ),
            "feedback[1].overrideReason.reason.system",
        ),
        (
            with(
                "overrideReason",
                json!({"reason": {"code": "c", "display": "d".repeat(501)}}),
            ),
            "feedback[1].overrideReason.reason.display",
        ),
        (
            with("overrideReason", json!({"userComment": "u".repeat(4001)})),
            "feedback[1].overrideReason.userComment",
        ),
        (json!({ "feedback": vec![ok.clone(); 101] }), "feedback"),
    ];
    for (body, field) in cases {
        let resp = app.post_feedback("alemtuzumab-order-sign", &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let oo: Value = resp.json().await.expect("an OperationOutcome");
        assert_eq!(oo["resourceType"], "OperationOutcome");
        assert_eq!(oo["issue"][0]["expression"][0], field, "{body}: {oo}");
        assert!(
            oo["issue"][0]["diagnostics"]
                .as_str()
                .unwrap_or("")
                .contains(field),
            "{oo}"
        );
    }
    let resp = app
        .post_raw("/cds-services/alemtuzumab-order-sign/feedback", "{".into())
        .await;
    assert_eq!(resp.status(), 400);
    let resp = app
        .post_feedback("no-such-service", &with("card", json!("c")))
        .await;
    assert_eq!(resp.status(), 404);
    // The first, valid item of each refused body was not stored either.
    let report = report_json(&backend.env(&app), &[]).await;
    assert!(
        report["rules"]
            .as_array()
            .is_some_and(|rules| rules.iter().all(|r| r["overrides"] == 0)),
        "{report}"
    );
}

/// `/readyz` (no authentication) says ready and nothing about the store: not its kind, not the
/// SQLite path, not the PostgreSQL user, host or database (issue 17 item 9).
pub async fn suite_readiness(backend: &Backend) {
    let app = spawn(backend).await;
    let resp = app.get("/readyz").await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("text");
    let body: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(body, json!({"status": "ready"}));
    let mut secrets = vec![app.data_dir.path().to_string_lossy().into_owned()];
    if let Backend::Postgres(url) = backend {
        let u = url::Url::parse(url).expect("a PostgreSQL URL");
        secrets.push(u.username().to_owned());
        secrets.push(u.host_str().unwrap_or("").to_owned());
        secrets.push(u.path().trim_start_matches('/').to_owned());
    }
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!text.contains(secret.as_str()), "{secret} in {text}");
    }
}

/// `jti` replay across two store instances sharing one database (two replicas).
pub async fn suite_jti_replay(settings: &alemtuzumab_cds::store::config::StoreSettings) {
    use alemtuzumab_cds::store::Store;
    let a = Store::open(settings).await.expect("first instance");
    let b = Store::open(settings).await.expect("second instance");
    let exp = chrono::Utc::now().timestamp() + 300;
    let jti = uuid::Uuid::new_v4().to_string();
    let iss = "https://ehr.hospital.example";
    assert!(a.check_and_record_jti(iss, &jti, exp).await.expect("a"));
    assert!(
        !b.check_and_record_jti(iss, &jti, exp).await.expect("b"),
        "a jti seen by one replica is a replay on the other"
    );
    assert!(!a.check_and_record_jti(iss, &jti, exp).await.expect("a"));
    // The same jti from another issuer is another token.
    assert!(b
        .check_and_record_jti("https://other.example", &jti, exp)
        .await
        .expect("b"));
    // An expired entry does not block (the token itself is expired) and is purged.
    let old = uuid::Uuid::new_v4().to_string();
    let past = chrono::Utc::now().timestamp() - 10;
    assert!(a.check_and_record_jti(iss, &old, past).await.expect("a"));
    assert!(b.check_and_record_jti(iss, &old, exp).await.expect("b"));
    let purged = a
        .purge_expired_jtis(chrono::Utc::now().timestamp() + 3600)
        .await
        .expect("purge");
    assert!(purged >= 2, "{purged}");
    // Many concurrent attempts on one jti: exactly one wins.
    let race = uuid::Uuid::new_v4().to_string();
    let attempts = (0..8).map(|i| {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        let race = race.clone();
        async move { s.check_and_record_jti(iss, &race, exp).await }
    });
    let wins = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("no error"))
        .filter(|won| *won)
        .count();
    assert_eq!(wins, 1);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn sqlite_feedback_round_trip_shows_in_the_report() {
    suite_round_trip(&Backend::Sqlite).await;
}

/// Issue 12 item 5: the CDS Hooks Sandbox re-sends order-select on every edit of a draft and
/// names every draft `MedicationRequest/request-123`: the report counts one order per patient
/// and draft beside the raw cards shown, in every format.
/// Issue 17 item 14: a feedback posted to one service about a card another service issued is
/// stored, flagged `card-of-another-service`, and the report shows the flag.
#[tokio::test]
async fn feedback_about_a_card_of_another_service_is_flagged() {
    // Arrange: a critical card issued by the order-sign service.
    let app = spawn(&Backend::Sqlite).await;
    let (card, _) = critical_card(&app).await;
    let offered = &card["overrideReasons"][0];
    let body = json!({"feedback": [{
        "card": card["uuid"],
        "outcome": "overridden",
        "overrideReason": {"reason": {"system": offered["system"], "code": offered["code"]}},
        "outcomeTimestamp": now()
    }]});
    // Act: posted to the order-select service.
    let resp = app.post_feedback("alemtuzumab-order-select", &body).await;
    assert_eq!(resp.status(), 200);
    let report = report_json(&Backend::Sqlite.env(&app), &[]).await;
    // Assert: counted under its rule, with the flag (and only it: the reason was offered).
    let init = rule(&report, "initiation-eligibility");
    let decisions = init["overrideDecisions"]
        .as_array()
        .expect("overrideDecisions");
    assert_eq!(decisions.len(), 1, "{init}");
    assert_eq!(
        decisions[0]["flags"],
        json!(["card-of-another-service"]),
        "{init}"
    );
}

/// A token of the right shape for `[admin] tokens`.
const ADMIN_TOKEN: &str = "committee-token-0123456789abcdef0123456789";

/// Issue 17 item 14: each feedback keeps the `iss` of its verified JWT, and the committee's
/// report shows it beside each override in every format: JSON, CSV (neutralised like every
/// cell from outside), the table, and the served page (escaped). Two EHRs (issuers) sign the
/// calls with real tokens; the second one's `iss` is hostile text.
#[tokio::test]
async fn the_report_shows_the_jwt_issuer_of_each_feedback() {
    use crate::auth::{claims, ec_key, header, jwks, sign, JwksServer, ISS, PUBLIC_URL};
    const OTHER: &str = "=1+1 <b>EHR & co</b>";
    const SERVICE: &str = "alemtuzumab-order-sign";
    // Arrange: both issuers' keys at one JWKS server.
    let key = ec_key("ec-1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let jwks_url = server.url();
    let app = spawn_app_with(move |raw| {
        Backend::Sqlite.apply(raw);
        raw.server.public_url = PUBLIC_URL.to_owned();
        raw.admin.tokens = vec![ADMIN_TOKEN.to_owned()];
        raw.rules.language = "en".to_owned();
        raw.auth.issuers = [ISS, OTHER]
            .iter()
            .map(|iss| alemtuzumab_cds::config::RawIssuer {
                iss: (*iss).to_owned(),
                jwks_url: jwks_url.clone(),
                jwks_file: String::new(),
                jku_allow: vec![],
                audiences: vec![],
            })
            .collect();
    })
    .await;
    let token = |iss: &str, path: &str| {
        let mut c = claims(SERVICE);
        c["iss"] = json!(iss);
        c["aud"] = json!(format!("{PUBLIC_URL}{path}"));
        sign(&key, &header(&key), &c)
    };
    let post = |path: String, token: String, body: Value| {
        let (client, url) = (app.client.clone(), app.address.clone());
        async move {
            client
                .post(format!("{url}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("sent")
        }
    };
    let hook = format!("/cds-services/{SERVICE}");
    let feedback = format!("/cds-services/{SERVICE}/feedback");
    let mut overridden = Vec::new();
    for iss in [ISS, OTHER] {
        // Act: a signed hook call, then a signed override of its critical card.
        let mut req = fixture_hook("naive-one-dmt--order-sign.json");
        req["hookInstance"] = json!(uuid::Uuid::new_v4().to_string());
        let resp = post(hook.clone(), token(iss, &hook), req).await;
        assert_eq!(resp.status(), 200, "{iss}");
        let body: Value = resp.json().await.expect("JSON");
        let card = body["cards"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["indicator"] == "critical"))
            .cloned()
            .unwrap_or_else(|| panic!("no critical card: {body}"));
        let fb = json!({"feedback": [{"card": card["uuid"], "outcome": "overridden",
            "overrideReason": {"userComment": format!("signed by {iss}")},
            "outcomeTimestamp": now()}]});
        let resp = post(feedback.clone(), token(iss, &feedback), fb).await;
        assert_eq!(resp.status(), 200, "{iss}");
        overridden.push((card["uuid"].as_str().expect("uuid").to_owned(), iss));
    }
    let env = Backend::Sqlite.env(&app);
    let report = report_json(&env, &[]).await;
    let cli = |format: &'static str| {
        let env = env.clone();
        async move {
            let mut cmd = binary();
            cmd.args(["report", "--format", format])
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let out = tokio::task::spawn_blocking(move || cmd.output())
                .await
                .expect("report task")
                .expect("report runs");
            assert!(out.status.success(), "{format}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let csv = cli("csv").await;
    let table = cli("table").await;
    let page = app
        .client
        .get(format!("{}/admin/report", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("admin report");
    assert_eq!(page.status(), 200);
    let page = page.text().await.expect("page");

    // Assert: JSON, each override with its issuer.
    let decisions = rule(&report, "initiation-eligibility")["overrideDecisions"]
        .as_array()
        .cloned()
        .expect("overrideDecisions");
    let mut seen: Vec<(String, String)> = decisions
        .iter()
        .map(|d| {
            (
                d["cardUuid"].as_str().unwrap_or("").to_owned(),
                d["issuer"].as_str().unwrap_or("(none)").to_owned(),
            )
        })
        .collect();
    seen.sort();
    let mut expected: Vec<(String, String)> = overridden
        .iter()
        .map(|(c, i)| (c.clone(), (*i).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(seen, expected, "{report}");
    // CSV: the issuer column, the hostile one made inert (a leading `'`).
    assert!(
        csv.lines().next().unwrap_or("").ends_with(",issuer"),
        "{csv}"
    );
    for (card, iss) in &overridden {
        let row = csv
            .lines()
            .find(|l| l.starts_with("override,") && l.contains(card.as_str()))
            .unwrap_or_else(|| panic!("no override row for {card}: {csv}"));
        let cell = if *iss == OTHER {
            format!("'{OTHER}")
        } else {
            ISS.to_owned()
        };
        assert!(row.ends_with(&format!(",{cell}")), "{row}");
    }
    // The table, and the page with the issuer escaped.
    assert!(table.contains(&format!("issuer {ISS} ")), "{table}");
    assert!(table.contains(&format!("issuer {OTHER} ")), "{table}");
    assert!(page.contains(&format!("<code>{ISS}</code>")), "{page}");
    assert!(
        page.contains("<code>=1+1 &lt;b&gt;EHR &amp; co&lt;/b&gt;</code>"),
        "{page}"
    );
    assert!(!page.contains("<b>EHR"), "{page}");
}

/// Another program holding the store's write lock on `feedback`: a SQLite connection in an
/// exclusive transaction, or a PostgreSQL session holding `LOCK TABLE feedback IN EXCLUSIVE
/// MODE` (reads go on, writes wait).
enum WriteLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl WriteLock {
    async fn take(backend: &Backend, app: &TestApp) -> WriteLock {
        use sqlx::{Connection, Executor};
        match backend {
            Backend::Sqlite => {
                let file = app.data_dir.path().join("alemtuzumab-cds.db");
                let mut c = sqlx::SqliteConnection::connect_with(
                    &sqlx::sqlite::SqliteConnectOptions::new().filename(&file),
                )
                .await
                .expect("another connection");
                (&mut c).execute("BEGIN EXCLUSIVE").await.expect("the lock");
                WriteLock::Sqlite(c)
            }
            Backend::Postgres(url) => {
                let mut c = sqlx::PgConnection::connect(url)
                    .await
                    .expect("another connection");
                (&mut c)
                    .execute("BEGIN; LOCK TABLE feedback IN EXCLUSIVE MODE")
                    .await
                    .expect("the lock");
                WriteLock::Postgres(c)
            }
        }
    }

    async fn release(self) {
        use sqlx::{Connection, Executor};
        match self {
            WriteLock::Sqlite(mut c) => {
                (&mut c).execute("ROLLBACK").await.expect("release");
                c.close().await.expect("close");
            }
            WriteLock::Postgres(mut c) => {
                (&mut c).execute("ROLLBACK").await.expect("release");
                c.close().await.expect("close");
            }
        }
    }
}

/// Issue 17 item 7 over HTTP, against the running service and a real store: a feedback whose
/// write cannot complete within `server.request_timeout_ms` (another program holds the write
/// lock; SQLite would wait `store.connect_timeout_ms`, far longer, PostgreSQL for ever) is
/// answered 503 while the lock is still held, and is not stored: the transaction is rolled
/// back. Once the store is free, the EHR's retry of the same feedback answers 200, and the
/// report shows exactly one override, the retry's.
pub async fn suite_feedback_cut_by_the_timeout(backend: &Backend) {
    // Arrange
    let b = backend.clone();
    let app = spawn_app_with(move |raw| {
        b.apply(raw);
        // Long enough for a hook call on a loaded machine; SQLite's wait for a lock (the store's
        // connect timeout) far longer, so that only the request timeout can end the call.
        raw.server.request_timeout_ms = 3_000;
        raw.store.connect_timeout_ms = 300_000;
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.get("/readyz").await.status() != 200 {
        assert!(Instant::now() < deadline, "the store did not open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (card, hook_instance) = critical_card(&app).await;
    let env = backend.env(&app);
    // The card's audit is written before the store is locked (the writer batches).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let report = report_json(&env, &[]).await;
        if rule(&report, "initiation-eligibility")["cardsShown"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "card not stored: {report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let offered = &card["overrideReasons"][0];
    let body = json!({"feedback": [{
        "card": card["uuid"],
        "outcome": "overridden",
        "overrideReason": {"reason": {"system": offered["system"], "code": offered["code"]},
                           "userComment": "retried by the EHR"},
        "outcomeTimestamp": now()
    }]});
    let lock = WriteLock::take(backend, &app).await;

    // Act: the feedback, while the store cannot take the write.
    let answer = tokio::time::timeout(
        Duration::from_secs(120),
        app.post_feedback("alemtuzumab-order-sign", &body),
    )
    .await
    .expect(
        "answered while the store is still locked (by the request timeout, not the store's wait)",
    );

    // Assert: 503, the timeout named, transient (retry).
    assert_eq!(answer.status(), 503);
    let retry_after = answer.headers().get("retry-after").cloned();
    let oo: Value = answer.json().await.expect("an OperationOutcome");
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert_eq!(oo["issue"][0]["code"], "transient", "{oo}");
    assert!(
        oo["issue"][0]["diagnostics"]
            .as_str()
            .unwrap_or("")
            .contains("longer than the configured timeout"),
        "{oo}"
    );
    // The service sends no Retry-After on this 503 today; one it sends must be seconds.
    if let Some(v) = retry_after {
        assert!(v.to_str().is_ok_and(|s| s.parse::<u64>().is_ok()), "{v:?}");
    }

    // The store is free again: nothing of the cut call was stored.
    lock.release().await;
    // To the millisecond, as the store keeps times.
    let released = chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis())
        .expect("now");
    let report = report_json(&env, &[]).await;
    assert_eq!(
        rule(&report, "initiation-eligibility")["overrides"],
        0,
        "{report}"
    );

    // The EHR retries the same feedback: 200, stored once.
    let retry = app.post_feedback("alemtuzumab-order-sign", &body).await;
    assert_eq!(retry.status(), 200);
    let report = report_json(&env, &[]).await;
    let init = rule(&report, "initiation-eligibility");
    assert_eq!(init["overrides"], 1, "{report}");
    let decisions = init["overrideDecisions"].as_array().expect("decisions");
    assert_eq!(decisions.len(), 1, "{report}");
    assert_eq!(decisions[0]["cardUuid"], card["uuid"]);
    assert_eq!(decisions[0]["hookInstance"], hook_instance.as_str());
    assert_eq!(decisions[0]["flags"], json!([]), "{report}");
    // The row stored is the retry's, received after the lock was released: the cut call's
    // row, had it been committed, would be the one kept (the retry being its duplicate).
    let received = chrono::DateTime::parse_from_rfc3339(
        decisions[0]["receivedTime"].as_str().expect("receivedTime"),
    )
    .expect("RFC 3339");
    assert!(received >= released, "{received} < {released}: {report}");
}

#[tokio::test]
async fn sqlite_a_feedback_cut_by_the_request_timeout_is_a_503_and_not_stored_and_its_retry_is_stored_once(
) {
    suite_feedback_cut_by_the_timeout(&Backend::Sqlite).await;
}

#[tokio::test]
async fn order_select_repeats_count_once_per_draft_order_in_the_report() {
    let backend = Backend::Sqlite;
    let app = spawn(&backend).await;
    let as_sandbox = |fixture: &str, draft: &str| -> Value {
        let text = serde_json::to_string(&fixture_hook(fixture))
            .expect("JSON")
            .replace(draft, "request-123");
        let mut req: Value = serde_json::from_str(&text).expect("JSON");
        req["hookInstance"] = json!(uuid::Uuid::new_v4().to_string());
        req
    };
    for req in [
        as_sandbox("naive-one-dmt--order-select.json", "p02-draft-alemtuzumab"),
        as_sandbox("naive-one-dmt--order-select.json", "p02-draft-alemtuzumab"),
        as_sandbox("naive-one-dmt--order-select.json", "p02-draft-alemtuzumab"),
        as_sandbox(
            "naive-eligible-two-dmts--order-select.json",
            "p01-draft-alemtuzumab",
        ),
    ] {
        let resp = app.post_hook("alemtuzumab-order-select", &req).await;
        assert_eq!(resp.status(), 200);
    }
    // The audit writer batches: wait until the report sees every card.
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        let report = report_json(&backend.env(&app), &[]).await;
        if rule(&report, "patient-counselling")["cardsShown"] == 4 {
            break report;
        }
        assert!(Instant::now() < deadline, "cards not stored: {report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let init = rule(&report, "initiation-eligibility");
    assert_eq!(
        (&init["cardsShown"], &init["distinctOrders"]),
        (&json!(3), &json!(1)),
        "{report}"
    );
    let counselling = rule(&report, "patient-counselling");
    assert_eq!(
        counselling["distinctOrders"], 2,
        "two patients' drafts: {report}"
    );

    let mut cmd = binary();
    cmd.args(["report", "--format", "table"])
        .envs(backend.env(&app));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("report task")
        .expect("report runs");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("distinct orders"), "{table}");
    let row = table
        .lines()
        .find(|l| l.starts_with("patient-counselling "))
        .unwrap_or_else(|| panic!("{table}"));
    let numbers: Vec<&str> = row.split_whitespace().skip(1).take(2).collect();
    assert_eq!(numbers, ["4", "2"], "cards shown, distinct orders: {table}");
}

#[tokio::test]
async fn sqlite_the_same_feedback_posted_twice_is_stored_once() {
    suite_feedback_is_idempotent(&Backend::Sqlite).await;
}

#[tokio::test]
async fn sqlite_malformed_feedback_is_a_400_naming_the_field() {
    suite_malformed_feedback(&Backend::Sqlite).await;
}

#[tokio::test]
async fn sqlite_readiness_says_ready_without_naming_the_store() {
    suite_readiness(&Backend::Sqlite).await;
}

#[tokio::test]
async fn sqlite_jti_replay_is_rejected_across_two_store_instances() {
    let dir = tempfile::tempdir().expect("temp dir");
    let raw = alemtuzumab_cds::store::config::RawStore {
        data_dir: dir.path().to_string_lossy().into_owned(),
        ..Default::default()
    };
    suite_jti_replay(&raw.validate().expect("valid")).await;
}

#[tokio::test]
async fn a_corrupt_sqlite_file_fails_readiness_naming_the_file_in_the_log_only() {
    // Arrange: garbage where the database should be.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("alemtuzumab-cds.db");
    std::fs::write(&file, vec![0x5a_u8; 8192]).expect("write");
    let data_dir = dir.path().to_string_lossy().into_owned();
    let app = spawn_app_with(move |raw| raw.store.data_dir = data_dir).await;

    // Act
    let resp = app.get("/readyz").await;

    // Assert: not ready, the component named, the file not (issue 17 item 9).
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"status": "unavailable", "component": "store"}),
        "{body}"
    );
    // Feedback is refused, not lost: the EHR sees a 503 and can retry.
    let resp = app
        .post_feedback(
            "alemtuzumab-order-sign",
            &json!({"feedback": [{"card": "c", "outcome": "overridden",
                    "outcomeTimestamp": now(), "overrideReason": {"userComment": "x"}}]}),
        )
        .await;
    assert_eq!(resp.status(), 503);
    let oo: Value = resp.json().await.expect("OperationOutcome");
    assert_eq!(oo["issue"][0]["code"], "transient");
    // The file is left as it was, for the administrator to look at.
    assert_eq!(std::fs::read(&file).expect("read"), vec![0x5a_u8; 8192]);
    // The hook answer does not depend on the store.
    let req = fixture_hook("naive-one-dmt--order-sign.json");
    assert_eq!(
        app.post_hook("alemtuzumab-order-sign", &req).await.status(),
        200
    );

    // The log, not the answer, names the file and what is wrong with it.
    let mut served = serve(dir.path());
    let resp = served.app().get("/readyz").await;
    assert_eq!(resp.status(), 503);
    let text = resp.text().await.expect("text");
    assert!(!text.contains(&*file.to_string_lossy()), "{text}");
    let log = served.stop();
    assert!(
        log.iter()
            .any(|l| l.contains(&*file.to_string_lossy()) && l.contains("not a database")),
        "{log:#?}"
    );
}

#[tokio::test]
async fn the_audit_keeps_no_token_and_no_patient_name() {
    // Arrange
    let app = spawn(&Backend::Sqlite).await;
    let mut req = fixture_hook("naive-one-dmt--order-sign.json");
    req["fhirAuthorization"]["access_token"] = json!("SECRET-ACCESS-TOKEN-4242");
    assert_eq!(req["prefetch"]["patient"]["name"][0]["family"], "Marchand");

    // Act: the hook call, then a feedback (which waits for the audit to be written).
    let (card, _) = critical_card(&app).await;
    assert_eq!(
        app.post_hook("alemtuzumab-order-sign", &req).await.status(),
        200
    );
    let fb = json!({"feedback": [{"card": card["uuid"], "outcome": "overridden",
                   "outcomeTimestamp": now(), "overrideReason": {"userComment": "x"}}]});
    assert_eq!(
        app.post_feedback("alemtuzumab-order-sign", &fb)
            .await
            .status(),
        200
    );

    // Assert: the patient id is there, the token and the name are not, in any store file.
    let mut all = Vec::new();
    for entry in std::fs::read_dir(app.data_dir.path()).expect("data dir") {
        let path = entry.expect("entry").path();
        all.extend(std::fs::read(&path).expect("read"));
    }
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains("p02-patient"), "the patient id is audited");
    assert!(
        text.contains("p02-draft-alemtuzumab"),
        "the order is audited"
    );
    assert!(!text.contains("SECRET-ACCESS-TOKEN-4242"));
    assert!(!text.contains("Marchand") && !text.contains("Julien"));
}

/// The value of the unlabelled counter `name` in a Prometheus text exposition.
fn counter(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The audit counters are at 0 from the start (so an alert can be written before the first
/// drop) and `cds_audit_written_total` moves when a hook call is audited. The service runs as its
/// own process: the in-process test apps share one metrics recorder.
#[tokio::test]
async fn audit_counters_start_at_zero_and_count_a_written_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let served = serve(dir.path());
    let base = format!("http://127.0.0.1:{}", served.port);
    let client = reqwest::Client::new();
    let metrics = || async {
        client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    };
    let before = metrics().await;
    assert_eq!(
        counter(&before, "cds_audit_written_total"),
        Some(0.0),
        "{before}"
    );
    assert_eq!(
        counter(&before, "cds_audit_dropped_total"),
        Some(0.0),
        "{before}"
    );

    let mut req = fixture_hook("naive-one-dmt--order-sign.json");
    req["hookInstance"] = json!(uuid::Uuid::new_v4().to_string());
    let status = client
        .post(format!("{base}/cds-services/alemtuzumab-order-sign"))
        .json(&req)
        .send()
        .await
        .expect("hook call")
        .status();
    assert_eq!(status, 200);

    // The writer commits in batches off the answer path: poll, bounded by a count of tries.
    let mut after = metrics().await;
    for _ in 0..300 {
        if counter(&after, "cds_audit_written_total").unwrap_or(0.0) >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = metrics().await;
    }
    assert_eq!(
        counter(&after, "cds_audit_written_total"),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        counter(&after, "cds_audit_dropped_total"),
        Some(0.0),
        "{after}"
    );
}

/// Starts `serve` on port 0 with its store in `data_dir`.
fn serve(data_dir: &Path) -> ServedBinary {
    let mut cmd = binary();
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("ALEMTUZUMAB_CDS__LOG__FORMAT", "json")
        .env("ALEMTUZUMAB_CDS__SERVER__FIXED_TODAY", "2026-11-25")
        .env("ALEMTUZUMAB_CDS__STORE__DATA_DIR", data_dir);
    ServedBinary::start(cmd)
}

#[tokio::test]
async fn a_feedback_answered_200_survives_kill_9() {
    // Arrange
    let dir = tempfile::tempdir().expect("temp dir");
    let mut served = serve(dir.path());
    let base = format!("http://127.0.0.1:{}", served.port);
    let client = reqwest::Client::new();
    let mut req = fixture_hook("naive-one-dmt--order-sign.json");
    req["hookInstance"] = json!(uuid::Uuid::new_v4().to_string());
    let body: Value = client
        .post(format!("{base}/cds-services/alemtuzumab-order-sign"))
        .json(&req)
        .send()
        .await
        .expect("hook call")
        .json()
        .await
        .expect("JSON");
    let card = body["cards"][0]["uuid"].clone();
    assert_eq!(body["cards"][0]["indicator"], "critical", "{body}");

    // Act: 200, then kill -9 at once: no graceful shutdown, no chance to flush anything.
    let fb = json!({"feedback": [{"card": card, "outcome": "overridden",
                   "outcomeTimestamp": now(),
                   "overrideReason": {"reason": {"system": "urn:alemtuzumab-cds:override-reason",
                                                 "code": "other-documented"}}}]});
    let resp = client
        .post(format!(
            "{base}/cds-services/alemtuzumab-order-sign/feedback"
        ))
        .json(&fb)
        .send()
        .await
        .expect("feedback");
    assert_eq!(resp.status(), 200);
    served.stop(); // SIGKILL

    // Assert: a restart on the same data dir is ready, and the report has the override.
    let mut served = serve(dir.path());
    let ready = client
        .get(format!("http://127.0.0.1:{}/readyz", served.port))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    served.stop();
    let env = vec![(
        "ALEMTUZUMAB_CDS__STORE__DATA_DIR".to_owned(),
        dir.path().to_string_lossy().into_owned(),
    )];
    let report = report_json(&env, &[]).await;
    let init = rule(&report, "initiation-eligibility");
    assert_eq!(init["overrides"], 1, "{report}");
    assert_eq!(init["overrideDecisions"][0]["cardUuid"], card, "{report}");
    assert_eq!(
        init["overrideDecisions"][0]["orderId"],
        "MedicationRequest/p02-draft-alemtuzumab"
    );
}

#[tokio::test]
async fn every_feedback_example_for_hospital_it_is_accepted() {
    let app = spawn(&Backend::Sqlite).await;
    let mut names: Vec<_> = std::fs::read_dir(repo().join("cds-hooks/examples"))
        .expect("cds-hooks/examples")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("feedback-") && n.ends_with(".json"))
        })
        .collect();
    names.sort();
    assert!(names.len() >= 2, "{names:?}");
    for path in names {
        let body = crate::helpers::read_json(&path);
        let resp = app.post_feedback("alemtuzumab-order-sign", &body).await;
        assert_eq!(resp.status(), 200, "{}", path.display());
    }
}
