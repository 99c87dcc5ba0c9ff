//! Issue 15 §1: the committee's report as a page. `report --format html` and the served
//! `GET /admin/report` show the numbers of `report --format json` for the same store and period;
//! the route takes its own bearer token only; a real headless Chromium renders the page (every
//! chart drawn with its bars, headline numbers as in the JSON) and a screenshot is kept under
//! `$CARGO_TARGET_TMPDIR/report-html/`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::feedback::{report_json, rule, spawn, Backend};
use crate::helpers::{binary, fixture_hook, spawn_app_with, TestApp};

/// A token of the right shape for `[admin] tokens`.
const TOKEN: &str = "committee-token-0123456789abcdef0123456789";

impl TestApp {
    async fn admin_report(&self, query: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self
            .client
            .get(format!("{}/admin/report{query}", self.address));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }
}

/// An app on SQLite with the admin token and the report in `language`.
async fn report_app(language: &str) -> TestApp {
    let language = language.to_owned();
    let app = spawn_app_with(move |raw| {
        Backend::Sqlite.apply(raw);
        raw.admin.tokens = vec![TOKEN.to_owned()];
        raw.rules.language = language;
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.get("/readyz").await.status() != 200 {
        assert!(Instant::now() < deadline, "the store did not open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Three order-sign calls (critical cards), two overrides, one acceptance, one feedback about
/// a card this service never issued; returns once `report` sees every card.
async fn record_a_quarter(app: &TestApp) -> Value {
    let mut critical = Vec::new();
    for _ in 0..3 {
        let mut req = fixture_hook("naive-one-dmt--order-sign.json");
        req["hookInstance"] = json!(uuid::Uuid::new_v4().to_string());
        let resp = app.post_hook("alemtuzumab-order-sign", &req).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.expect("JSON");
        let card = body["cards"]
            .as_array()
            .and_then(|c| {
                c.iter()
                    .find(|c| c["source"]["topic"]["code"] == "initiation-eligibility")
            })
            .cloned()
            .unwrap_or_else(|| panic!("no initiation-eligibility card: {body}"));
        critical.push(card);
    }
    let offered = &critical[0]["overrideReasons"][0];
    let bodies = [
        json!({"feedback": [{
            "card": critical[0]["uuid"], "outcome": "overridden",
            "overrideReason": {"reason": {"system": offered["system"], "code": offered["code"]},
                               "userComment": "RCP <b>20/11</b>: \"tous\" contre-indiqués"},
            "outcomeTimestamp": now()}]}),
        json!({"feedback": [{
            "card": critical[1]["uuid"], "outcome": "overridden",
            "overrideReason": {"reason": {"system": "http://example.org/reasons", "code": "not-relevant"}},
            "outcomeTimestamp": now()}]}),
        json!({"feedback": [{
            "card": critical[2]["uuid"], "outcome": "accepted",
            "acceptedSuggestions": [{"id": critical[2]["suggestions"][0]["uuid"]}],
            "outcomeTimestamp": now()}]}),
        json!({"feedback": [{
            "card": "e015d505-555f-477b-bb1c-01a99f30a4c8", "outcome": "overridden",
            "overrideReason": {"userComment": "card from another system"},
            "outcomeTimestamp": now()}]}),
    ];
    for body in &bodies {
        let resp = app
            .post_raw(
                "/cds-services/alemtuzumab-order-sign/feedback",
                body.to_string(),
            )
            .await;
        assert_eq!(resp.status(), 200, "{body}");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let report = report_json(&Backend::Sqlite.env(app), &[]).await;
        if rule(&report, "initiation-eligibility")["cardsShown"] == 3 {
            return report;
        }
        assert!(Instant::now() < deadline, "cards not stored: {report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every `data-rule="…" data-k="…">N<` of the page: (rule, JSON field) → N.
fn page_numbers(html: &str) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for part in html.split("<td class=\"n\" data-rule=\"").skip(1) {
        let Some((rule, rest)) = part.split_once("\" data-k=\"") else {
            continue;
        };
        let (k, rest) = rest.split_once("\">").expect("data-k closes");
        let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
        out.insert(
            (rule.to_owned(), k.to_owned()),
            n.parse().expect("a number"),
        );
    }
    out
}

/// The same from the JSON document.
fn json_numbers(report: &Value) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for r in report["rules"].as_array().expect("rules") {
        for k in [
            "cardsShown",
            "distinctOrders",
            "criticalCards",
            "accepted",
            "acceptedSuggestions",
            "overrides",
            "criticalOverrides",
        ] {
            let v = r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
            out.insert(
                (r["rule"].as_str().expect("rule").to_owned(), k.to_owned()),
                v,
            );
        }
    }
    out
}

fn total(report: &Value, k: &str) -> u64 {
    report["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r[k].as_u64().unwrap_or(0))
        .sum()
}

/// `report --format html` over `app`'s store, in `language`, written to `file`.
async fn report_html_file(app: &TestApp, language: &str, file: &std::path::Path, extra: &[&str]) {
    let mut cmd = binary();
    cmd.args(["report", "--format", "html", "--output"])
        .arg(file)
        .args(extra)
        .envs(Backend::Sqlite.env(app))
        .env("ALEMTUZUMAB_CDS__RULES__LANGUAGE", language);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("report task")
        .expect("report runs");
    assert!(
        out.status.success(),
        "report --format html failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_page_served_and_written_shows_the_numbers_of_the_json_report() {
    // Arrange
    let app = report_app("fr").await;
    let json_report = record_a_quarter(&app).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("report.html");

    // Act
    report_html_file(&app, "fr", &file, &[]).await;
    let written = std::fs::read_to_string(&file).expect("the page is written");
    let resp = app.admin_report("", Some(TOKEN)).await;
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    let served = resp.text().await.expect("a page");
    let served_json: Value = app
        .admin_report("?format=json", Some(TOKEN))
        .await
        .json()
        .await
        .expect("JSON");

    // Assert: the same numbers everywhere.
    let expected = json_numbers(&json_report);
    assert_eq!(page_numbers(&written), expected, "{written}");
    assert_eq!(page_numbers(&served), expected, "{served}");
    assert_eq!(served_json["rules"], json_report["rules"]);
    assert_eq!(served_json["byMonth"], json_report["byMonth"]);
    for page in [&written, &served] {
        for k in [
            "cardsShown",
            "criticalCards",
            "overrides",
            "criticalOverrides",
        ] {
            assert!(
                page.contains(&format!("data-total=\"{k}\">{}<", total(&json_report, k))),
                "{k}: {page}"
            );
        }
        // French, self-contained, the prescriber's comment escaped.
        assert!(page.contains("<html lang=\"fr\""));
        assert!(page.contains("Décisions critiques passées outre"));
        assert!(!page.contains("<script"));
        assert!(!page.contains("<b>20/11</b>"), "comment not escaped");
        assert!(page.contains("&lt;b&gt;20/11&lt;/b&gt;"));
        assert!(page.contains("data-flags=\"unknown-card\""));
    }
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/html; charset=utf-8")
    );
    assert!(headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("default-src 'none'")));

    // A period with nothing in it is a page that says so, not an error.
    let old = app
        .admin_report("?since=2001-01-01&until=2001-03-31", Some(TOKEN))
        .await;
    assert_eq!(old.status(), 200);
    assert!(old
        .text()
        .await
        .expect("page")
        .contains("Aucune décision sur cette période."));
}

#[tokio::test]
async fn the_admin_report_takes_its_own_token_and_nothing_else() {
    let app = report_app("en").await;
    let no_token = app.admin_report("", None).await;
    assert_eq!(no_token.status(), 401);
    assert!(no_token
        .headers()
        .get("www-authenticate")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("Bearer")));
    let wrong = app
        .admin_report("", Some("committee-token-0123456789abcdef012345678X"))
        .await;
    assert_eq!(wrong.status(), 401);
    let body = wrong.text().await.expect("body");
    assert!(!body.contains("committee-token"), "{body}");
    // An EHR's JWT is not an admin credential.
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2VociJ9.c2lnbmF0dXJl";
    assert_eq!(app.admin_report("", Some(jwt)).await.status(), 401);
    // Another scheme is not a bearer token.
    let basic = app
        .client
        .get(format!("{}/admin/report", app.address))
        .header("Authorization", format!("Basic {TOKEN}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(basic.status(), 401);
    // Bad query: 400 naming the parameter.
    let bad = app.admin_report("?since=yesterday", Some(TOKEN)).await;
    assert_eq!(bad.status(), 400);
    let outcome: Value = bad.json().await.expect("OperationOutcome");
    assert_eq!(outcome["issue"][0]["expression"][0], "since", "{outcome}");
    // Local mode: a Host that is not loopback is refused before any token is looked at.
    let rebound = app
        .client
        .get(format!("{}/admin/report", app.address))
        .header("Host", "evil.example")
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(rebound.status(), 403);
    // The right token: the page.
    assert_eq!(app.admin_report("", Some(TOKEN)).await.status(), 200);

    // No token configured: no route.
    let off = spawn(&Backend::Sqlite).await;
    assert_eq!(off.admin_report("", Some(TOKEN)).await.status(), 404);
}

/// `report` over `app`'s store with `args`: (exit success, stdout, stderr).
async fn report_cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let mut cmd = binary();
    cmd.arg("report").args(args).envs(Backend::Sqlite.env(app));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("report task")
        .expect("report runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `(rule, indicator)` → count, of the cards of hook responses.
fn card_counts(responses: &[Value]) -> BTreeMap<String, (u64, u64)> {
    let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for body in responses {
        for c in body["cards"].as_array().expect("cards") {
            let e = out
                .entry(
                    c["source"]["topic"]["code"]
                        .as_str()
                        .expect("topic")
                        .to_owned(),
                )
                .or_default();
            e.0 += 1;
            if c["indicator"] == "critical" {
                e.1 += 1;
            }
        }
    }
    out
}

/// `rule` → (cardsShown, criticalCards) of a JSON report, rules with cards only.
fn report_counts(report: &Value) -> BTreeMap<String, (u64, u64)> {
    report["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| r["cardsShown"].as_u64().unwrap_or(0) > 0)
        .map(|r| {
            (
                r["rule"].as_str().expect("rule").to_owned(),
                (
                    r["cardsShown"].as_u64().expect("n"),
                    r["criticalCards"].as_u64().expect("n"),
                ),
            )
        })
        .collect()
}

/// Issue 15: the committee restricts the report to one rule profile. Two services on one
/// SQLite file, one under `ansm-2019`, one under `ema-2020` (as during a change of profile):
/// `report --profile` and `/admin/report?profile=` count the cards of the decisions made under
/// that profile and the feedback about them, say which profile, and how many feedback items
/// they left out (about a card with no recorded decision); an invalid profile is refused,
/// naming the option or parameter and the allowed values.
#[tokio::test]
async fn the_report_filtered_on_a_profile_counts_the_decisions_made_under_it() {
    // Arrange: the same store under both profiles.
    let ansm = spawn_app_with(|raw| {
        Backend::Sqlite.apply(raw);
        raw.admin.tokens = vec![TOKEN.to_owned()];
        raw.rules.profile = "ansm-2019".to_owned();
    })
    .await;
    let shared = ansm.data_dir.path().to_string_lossy().into_owned();
    let ema = spawn_app_with(move |raw| {
        Backend::Sqlite.apply(raw);
        raw.store.data_dir = shared;
        raw.admin.tokens = vec![TOKEN.to_owned()];
        raw.rules.profile = "ema-2020".to_owned();
    })
    .await;
    for app in [&ansm, &ema] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while app.get("/readyz").await.status() != 200 {
            assert!(Instant::now() < deadline, "the store did not open");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let call = |app: &TestApp, fixture: &str| {
        let mut req = fixture_hook(fixture);
        req["hookInstance"] = json!(uuid::Uuid::new_v4().to_string());
        let (client, url) = (app.client.clone(), app.address.clone());
        async move {
            let resp = client
                .post(format!("{url}/cds-services/alemtuzumab-order-sign"))
                .json(&req)
                .send()
                .await
                .expect("hook call");
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.expect("JSON")
        }
    };
    // Under ansm-2019 a one-DMT patient is not eligible (critical); under ema-2020 they are,
    // but an apixaban draft is a contraindication (critical).
    let mut by_ansm = Vec::new();
    for _ in 0..2 {
        by_ansm.push(call(&ansm, "naive-one-dmt--order-sign.json").await);
    }
    let by_ema = vec![
        call(&ema, "concurrent-apixaban-draft--order-sign.json").await,
        call(&ema, "naive-one-dmt--order-sign.json").await,
    ];
    let (ansm_cards, ema_cards) = (card_counts(&by_ansm), card_counts(&by_ema));
    assert_ne!(ansm_cards, ema_cards, "the profiles give different cards");
    let critical = |body: &Value| -> Value {
        body["cards"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["indicator"] == "critical"))
            .cloned()
            .unwrap_or_else(|| panic!("no critical card: {body}"))
    };
    let override_of = |card: &Value| {
        json!({"feedback": [{"card": card["uuid"], "outcome": "overridden",
            "overrideReason": {"reason": {"system": card["overrideReasons"][0]["system"],
                                          "code": card["overrideReasons"][0]["code"]}},
            "outcomeTimestamp": now()}]})
    };
    // Two overrides of ansm-2019 cards, one of an ema-2020 card, one about an unknown card;
    // each posted to the service that issued the card (the unknown one to either).
    let (a0, a1, e0) = (
        critical(&by_ansm[0]),
        critical(&by_ansm[1]),
        critical(&by_ema[0]),
    );
    for (app, body) in [
        (&ansm, override_of(&a0)),
        (&ansm, override_of(&a1)),
        (&ema, override_of(&e0)),
        (
            &ema,
            json!({"feedback": [{"card": "e015d505-555f-477b-bb1c-01a99f30a4c8",
                "outcome": "overridden", "overrideReason": {"userComment": "from elsewhere"},
                "outcomeTimestamp": now()}]}),
        ),
    ] {
        let resp = app
            .post_raw(
                "/cds-services/alemtuzumab-order-sign/feedback",
                body.to_string(),
            )
            .await;
        assert_eq!(resp.status(), 200, "{body}");
    }
    let mut all_cards = ansm_cards.clone();
    for (rule, (n, c)) in &ema_cards {
        let e = all_cards.entry(rule.clone()).or_default();
        e.0 += n;
        e.1 += c;
    }
    // The audit writer batches: wait until the report sees every card.
    let deadline = Instant::now() + Duration::from_secs(30);
    let all = loop {
        let report = report_json(&Backend::Sqlite.env(&ansm), &[]).await;
        if report_counts(&report) == all_cards {
            break report;
        }
        assert!(Instant::now() < deadline, "cards not stored: {report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Act
    let by_profile = |p: &'static str| {
        let env = Backend::Sqlite.env(&ansm);
        async move { report_json(&env, &["--profile", p]).await }
    };
    let ansm_report = by_profile("ansm-2019").await;
    let ema_report = by_profile("ema-2020").await;

    // Assert: each profile's cards as its service issued them, its overrides only.
    assert_eq!(report_counts(&ansm_report), ansm_cards, "{ansm_report}");
    assert_eq!(report_counts(&ema_report), ema_cards, "{ema_report}");
    assert_eq!(total(&all, "overrides"), 4, "{all}");
    assert_eq!(total(&ansm_report, "overrides"), 2, "{ansm_report}");
    assert_eq!(total(&ema_report, "overrides"), 1, "{ema_report}");
    let overridden = |report: &Value| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = report["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .flat_map(|r| {
                r["overrideDecisions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|d| {
                (
                    d["cardUuid"].as_str().unwrap_or("").to_owned(),
                    d["profile"].as_str().unwrap_or("-").to_owned(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let pair = |card: &Value, p: &str| {
        (
            card["uuid"].as_str().expect("uuid").to_owned(),
            p.to_owned(),
        )
    };
    let mut expected = vec![pair(&a0, "ansm-2019"), pair(&a1, "ansm-2019")];
    expected.sort();
    assert_eq!(overridden(&ansm_report), expected, "{ansm_report}");
    assert_eq!(
        overridden(&ema_report),
        [pair(&e0, "ema-2020")],
        "{ema_report}"
    );
    // The filter is stated, with what it left out; the unfiltered report has no filter.
    assert_eq!(ansm_report["profile"], "ansm-2019");
    assert_eq!(ema_report["profile"], "ema-2020");
    assert_eq!(ansm_report["feedbackWithoutDecision"], 1, "{ansm_report}");
    assert_eq!(ema_report["feedbackWithoutDecision"], 1, "{ema_report}");
    assert!(all.get("profile").is_none(), "{all}");
    assert!(rule(&all, "(unknown card)")["overrides"] == 1, "{all}");

    // The other formats say it too.
    let (ok, table, _) = report_cli(&ansm, &["--profile", "ema-2020"]).await;
    assert!(ok, "{table}");
    assert!(
        table.contains("Rule profile: ema-2020 (decisions made under it only; 1 feedback"),
        "{table}"
    );
    let (ok, csv, _) = report_cli(&ansm, &["--format", "csv", "--profile", "ema-2020"]).await;
    assert!(ok, "{csv}");
    assert!(
        csv.lines()
            .filter(|l| l.starts_with("rule,"))
            .all(|l| l.ends_with(",ema-2020,")),
        "{csv}"
    );
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("override,")).count(),
        1,
        "{csv}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("report.html");
    report_html_file(&ansm, "fr", &file, &["--profile", "ansm-2019"]).await;
    let page = std::fs::read_to_string(&file).expect("the page");
    assert!(page.contains(r#"data-profile="ansm-2019""#), "{page}");
    assert_eq!(page_numbers(&page), json_numbers(&ansm_report), "{page}");

    // Served: the same numbers, from either service.
    for app in [&ansm, &ema] {
        let served: Value = app
            .admin_report("?profile=ema-2020&format=json", Some(TOKEN))
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(served["rules"], ema_report["rules"]);
        assert_eq!(served["profile"], "ema-2020");
        let page = app
            .admin_report("?since=&until=&profile=ema-2020", Some(TOKEN))
            .await
            .text()
            .await
            .expect("page");
        assert!(page.contains(r#"data-profile="ema-2020""#), "{page}");
        assert!(
            page.contains(r#"<option value="ema-2020" selected>"#),
            "{page}"
        );
        assert_eq!(page_numbers(&page), json_numbers(&ema_report), "{page}");
    }

    // An invalid profile: named, with the allowed values.
    let bad = ansm.admin_report("?profile=ema-2021", Some(TOKEN)).await;
    assert_eq!(bad.status(), 400);
    let outcome: Value = bad.json().await.expect("OperationOutcome");
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["expression"][0], "profile", "{outcome}");
    let diagnostics = outcome["issue"][0]["diagnostics"].as_str().unwrap_or("");
    assert!(
        diagnostics.contains("ansm-2019") && diagnostics.contains("ema-2020"),
        "{outcome}"
    );
    let (ok, out, err) = report_cli(&ansm, &["--format", "json", "--profile", "ema-2021"]).await;
    assert!(!ok, "{out}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("--profile") && err.contains("ansm-2019") && err.contains("ema-2020"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// In a real browser.

/// `chromedriver` on a free loopback port, killed when dropped.
struct ChromeDriver {
    child: std::process::Child,
    port: u16,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn chromedriver() -> ChromeDriver {
    let exe = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect(
            "chromedriver is missing: apt-get install chromium chromium-driver \
             (or ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS=1)",
        );
    // A free port can be taken between the probe and the start: retry with another.
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = std::process::Command::new(&exe)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            let status = client
                .get(format!("http://127.0.0.1:{port}/status"))
                .send()
                .await;
            if status.is_ok_and(|r| r.status().is_success()) {
                return ChromeDriver { child, port };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("chromedriver did not start")
}

async fn browser(driver: &ChromeDriver, profile: &std::path::Path) -> fantoccini::Client {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("chromium is missing: apt-get install chromium (or ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS=1)");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,6000",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    // chromedriver on loopback speaks plain HTTP: no TLS connector (and no TLS stack) needed.
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    fantoccini::ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session")
}

/// What the browser shows: the headline numbers and, per chart, the bars drawn with a size.
async fn rendered(c: &fantoccini::Client) -> Value {
    c.execute(
        r#"
        const totals = {};
        document.querySelectorAll('[data-total]').forEach(e => totals[e.dataset.total] = e.textContent.trim());
        const charts = [...document.querySelectorAll('svg.chart')].map(s => {
          const box = s.getBoundingClientRect();
          const bars = [...s.querySelectorAll('rect.bar')];
          return {id: s.id, width: box.width, height: box.height, bars: bars.length,
                  drawn: bars.filter(b => b.getBBox().height > 0 && b.getBBox().width > 0).length};
        });
        const empty = document.getElementById('empty');
        return {totals, charts, empty: empty ? empty.textContent : null,
                decisions: document.querySelectorAll('tr.decision').length, lang: document.documentElement.lang};
        "#,
        vec![],
    )
    .await
    .expect("the page's script runs")
}

fn check_charts(seen: &Value) {
    let charts = seen["charts"].as_array().expect("charts");
    assert!(!charts.is_empty(), "no chart: {seen}");
    for chart in charts {
        assert!(
            chart["width"].as_f64() > Some(100.0) && chart["height"].as_f64() > Some(30.0),
            "chart not laid out: {chart}"
        );
        assert!(
            chart["bars"].as_u64() > Some(0),
            "chart without bars: {chart}"
        );
        assert!(chart["drawn"].as_u64() > Some(0), "no bar drawn: {chart}");
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-html");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

#[cfg_attr(
    any(skip_real_servers, skip_browser),
    ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS or ALEMTUZUMAB_CDS_SKIP_BROWSER: needs Chromium and chromedriver"
)]
#[tokio::test]
async fn chromium_renders_every_chart_with_the_json_numbers() {
    // Arrange: a store with a quarter's worth of decisions, the page written and served.
    let app = report_app("en").await;
    let json_report = record_a_quarter(&app).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("report.html");
    report_html_file(&app, "en", &file, &[]).await;
    let empty_app = report_app("en").await;
    let driver = chromedriver().await;
    let c = browser(&driver, &dir.path().join("profile")).await;
    let shots = screenshot_dir();

    // Act 1: the file, opened from disk (no network needed).
    c.goto(&format!("file://{}", file.display()))
        .await
        .expect("file opens");
    let seen_file = rendered(&c).await;
    std::fs::write(
        shots.join("report-file-en.png"),
        c.screenshot().await.expect("screenshot"),
    )
    .expect("screenshot saved");

    // Act 2: the served page, fetched with the admin token by the page's own origin and
    // rendered as the document (a browser cannot add a header to a navigation).
    let load_served = |address: String| {
        let c = c.clone();
        async move {
            c.goto(&format!("{address}/healthz")).await.expect("origin");
            c.execute_async(
                r#"
                const [token, done] = arguments;
                fetch('/admin/report', {headers: {Authorization: 'Bearer ' + token}})
                  .then(r => r.text().then(t => ({status: r.status, t})))
                  .then(({status, t}) => { document.open(); document.write(t); document.close(); done(status); })
                  .catch(e => done(String(e)));
                "#,
                vec![json!(TOKEN)],
            )
            .await
            .expect("fetch runs")
        }
    };
    let status = load_served(app.address.clone()).await;
    assert_eq!(status, json!(200));
    let seen_served = rendered(&c).await;
    std::fs::write(
        shots.join("report-served-en.png"),
        c.screenshot().await.expect("screenshot"),
    )
    .expect("screenshot saved");

    let empty_status = load_served(empty_app.address.clone()).await;
    assert_eq!(empty_status, json!(200));
    let seen_empty = rendered(&c).await;
    std::fs::write(
        shots.join("report-empty-en.png"),
        c.screenshot().await.expect("screenshot"),
    )
    .expect("screenshot saved");
    c.close().await.expect("session closes");

    // Assert
    for seen in [&seen_file, &seen_served] {
        assert_eq!(seen["lang"], "en", "{seen}");
        assert_eq!(seen["empty"], Value::Null, "{seen}");
        for k in [
            "cardsShown",
            "distinctOrders",
            "criticalCards",
            "overrides",
            "criticalOverrides",
            "acceptedSuggestions",
        ] {
            assert_eq!(
                seen["totals"][k],
                json!(total(&json_report, k).to_string()),
                "{k}: {seen}"
            );
        }
        // Monthly (one per rule with activity), override reasons (one per rule overridden), rate.
        let active = json_report["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .filter(|r| !r["byMonth"].as_array().expect("byMonth").is_empty())
            .count();
        let overridden = json_report["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .filter(|r| r["overrides"].as_u64() > Some(0))
            .count();
        assert_eq!(
            seen["charts"].as_array().map(Vec::len),
            Some(active + overridden + 1),
            "{seen}"
        );
        check_charts(seen);
        // Two overrides of critical cards, and the one of an unknown card.
        assert_eq!(seen["decisions"], 3, "{seen}");
    }
    assert!(
        seen_empty["empty"]
            .as_str()
            .is_some_and(|t| t.to_lowercase().contains("no decision in this period")),
        "{seen_empty}"
    );
    assert_eq!(seen_empty["charts"], json!([]), "{seen_empty}");
    for shot in [
        "report-file-en.png",
        "report-served-en.png",
        "report-empty-en.png",
    ] {
        let len = std::fs::metadata(shots.join(shot))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 1000, "{shot} is {len} bytes");
    }
}
