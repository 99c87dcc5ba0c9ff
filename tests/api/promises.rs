//! README promises that had no test of their own (issue 18 item 3): no OpenSSL in the dependency
//! tree, `ALEMTUZUMAB_CDS_CONFIG`, `/readyz` with a SQLite file locked by another program, the
//! audit's prefetch-vs-server / gap / latency fields, and log spans carrying `hookInstance`.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::{Connection, Executor};

use crate::fhir_fetch::pointed_at;
use crate::fhir_proxy::{Behaviour, FhirProxy};
use crate::helpers::*;

/// README §Security: "The dependency tree has no OpenSSL". Read from `Cargo.lock`, which holds
/// every package any target of this crate can build (normal, build and dev dependencies, all
/// features that are enabled): none of the OpenSSL bindings is among them.
#[test]
fn no_openssl_in_the_dependency_tree() {
    let lock = std::fs::read_to_string(repo().join("Cargo.lock")).expect("Cargo.lock");
    let names: Vec<&str> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .collect();
    // The lock file is read: the crates that carry TLS are there.
    for present in ["rustls", "aws-lc-rs", "sqlx", "reqwest"] {
        assert!(names.contains(&present), "{present} not in Cargo.lock");
    }
    for openssl in [
        "openssl",
        "openssl-sys",
        "openssl-src",
        "native-tls",
        "hyper-tls",
        "tokio-native-tls",
        "postgres-openssl",
    ] {
        assert!(
            !names.contains(&openssl),
            "{openssl} is in Cargo.lock: something pulls OpenSSL in (`cargo tree -i {openssl}`)"
        );
    }
}

/// The binary, `simulate --json` on a fixture, with `env` set.
fn simulate(env: &[(&str, &std::path::Path)], extra: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = binary();
    cmd.args([
        "simulate",
        "fixtures/hooks/naive-one-dmt--order-sign.json",
        "--now",
        FIXTURE_TODAY,
        "--json",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

/// README §Configuration: the file is `--config FILE` or `ALEMTUZUMAB_CDS_CONFIG`, and the
/// `ALEMTUZUMAB_CDS__*` variables override it.
#[test]
fn alemtuzumab_cds_config_names_the_configuration_file() {
    const URL: &str = "https://intranet.example/ema-from-the-config-file.pdf";
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("site.toml");
    std::fs::write(
        &config,
        format!("[rules]\nprofile = \"ema-2020\"\nsource_url_ema_2020 = \"{URL}\"\n"),
    )
    .unwrap();
    let cards = |out: std::process::Output| -> Vec<Value> {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let cards = v["cards"].as_array().unwrap().clone();
        assert!(!cards.is_empty(), "{v}");
        cards
    };

    // Read through the variable: every card cites the source URL set in the file.
    for card in cards(simulate(&[("ALEMTUZUMAB_CDS_CONFIG", &config)], &[])) {
        assert_eq!(card["source"]["url"], URL, "{card}");
    }
    // Without it, the built-in default (ansm-2019 and its own source).
    for card in cards(simulate(&[], &[])) {
        assert_ne!(card["source"]["url"], URL, "{card}");
    }
    // A variable overrides the file's key.
    for card in cards(simulate(
        &[("ALEMTUZUMAB_CDS_CONFIG", &config)],
        &[("ALEMTUZUMAB_CDS__RULES__PROFILE", "ansm-2019")],
    )) {
        assert_ne!(card["source"]["url"], URL, "{card}");
    }
    // A bad key in that file stops the binary naming the key.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[rules]\nprofile = \"who-2030\"\n").unwrap();
    let out = simulate(&[("ALEMTUZUMAB_CDS_CONFIG", &bad)], &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rules.profile"), "{stderr}");
}

/// `/readyz` until it answers `status` (bounded: 60 tries of 250 ms; the write probe's result
/// is reused for up to 5 s).
async fn readyz_becomes(app: &TestApp, status: u16) -> Value {
    let mut last = (0, Value::Null);
    for _ in 0..240 {
        let r = app.get("/readyz").await;
        let got = r.status().as_u16();
        last = (got, r.json().await.unwrap_or(Value::Null));
        if got == status {
            return last.1;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("/readyz never answered {status}: last {last:?}");
}

/// README §Feedback, audit and report: "If the file is … locked by another program, `/readyz`
/// answers `503`", and it is ready again once the lock is released. The other program here is a
/// SQLite connection of the test holding an exclusive write transaction.
#[tokio::test]
async fn a_sqlite_file_locked_by_another_program_fails_readiness_until_released() {
    let app = spawn_app_with(|raw| raw.store.connect_timeout_ms = 500).await;
    readyz_becomes(&app, 200).await;
    let file = app.data_dir.path().join("alemtuzumab-cds.db");
    assert!(file.is_file(), "{}", file.display());

    let mut other = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(&file),
    )
    .await
    .unwrap();
    (&mut other).execute("BEGIN EXCLUSIVE").await.unwrap();
    let body = readyz_becomes(&app, 503).await;
    assert_eq!(body, json!({"status": "unavailable", "component": "store"}));
    // Feedback cannot be stored meanwhile: 503, nothing lost silently.
    let r = app
        .post_raw(
            "/cds-services/alemtuzumab-order-sign/feedback",
            json!({"feedback": [{"card": "c", "outcome": "overridden",
                "outcomeTimestamp": "2026-11-25T10:00:00Z", "overrideReason": {"userComment": "x"}}]})
            .to_string(),
        )
        .await;
    assert_eq!(r.status(), 503);

    (&mut other).execute("ROLLBACK").await.unwrap();
    other.close().await.unwrap();
    assert_eq!(readyz_becomes(&app, 200).await, json!({"status": "ready"}));
}

/// The audit row of the call with `hook_instance`, read from the app's SQLite file once the
/// writer has committed it (bounded poll).
async fn audit_row(app: &TestApp, hook_instance: &str) -> (Value, Value, Value, i64, i64) {
    let file = app.data_dir.path().join("alemtuzumab-cds.db");
    let mut db = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&file)
            .read_only(true),
    )
    .await
    .unwrap();
    for _ in 0..300 {
        let row: Option<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT from_prefetch, from_fhir, gaps, latency_us, status FROM decisions \
             WHERE hook_instance = $1",
        )
        .bind(hook_instance)
        .fetch_optional(&mut db)
        .await
        .unwrap();
        if let Some((p, f, g, latency, status)) = row {
            let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap();
            return (parse(&p), parse(&f), parse(&g), latency, status);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no audit record for {hook_instance}");
}

/// README §Feedback, audit and report: each call's audit says which data came from the prefetch,
/// which from the FHIR server, which could not be obtained, and the latency.
#[tokio::test]
async fn the_audit_records_prefetch_server_gaps_and_latency() {
    let app = spawn_app_with(|raw| raw.fhir.deadline_ms = 5_000).await;
    // The store is open (and its tables created) before the call is audited.
    readyz_becomes(&app, 200).await;
    let proxy = FhirProxy::start(None).await;
    // Every search on the server: an empty searchset.
    proxy.set(Behaviour::Body(
        json!({"resourceType": "Bundle", "type": "searchset", "entry": []}).to_string(),
    ));
    let mut request = pointed_at("naive-eligible-two-dmts--order-sign.json", &proxy.base);
    let hook_instance = uuid::Uuid::new_v4().to_string();
    request["hookInstance"] = json!(hook_instance);
    let prefetch = request["prefetch"].as_object_mut().unwrap();
    // `allergies` and `patient` are asked from the server: the search is answered, the read
    // of the patient is not (a Bundle is not a Patient): a gap. The six others come from the
    // prefetch.
    prefetch.remove("allergies");
    prefetch.remove("patient");
    let r = app.post_hook(service_for(&request), &request).await;
    assert_eq!(r.status(), 200);

    let (from_prefetch, from_fhir, gaps, latency_us, status) =
        audit_row(&app, &hook_instance).await;
    assert_eq!(status, 200);
    let mut prefetched: Vec<&str> = from_prefetch
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    prefetched.sort_unstable();
    assert_eq!(
        prefetched,
        [
            "bloodPressure",
            "conditions",
            "liverLabs",
            "medicationAdministrations",
            "medicationRequests",
            "medicationStatements"
        ]
    );
    let mut fetched: Vec<&str> = from_fhir
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    fetched.sort_unstable();
    assert_eq!(fetched, ["allergies", "patient"]);
    assert_eq!(gaps, json!(["patient"]));
    assert!(latency_us > 0, "{latency_us}");
    let mut asked: Vec<String> = proxy.requests().into_iter().map(|r| r.target).collect();
    asked.sort();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked[0].starts_with("AllergyIntolerance?"), "{asked:?}");
    assert_eq!(asked[1], "Patient/p01-patient", "{asked:?}");
}

/// README §Security "Logs": spans carry the service id and `hookInstance`: the answer line of
/// each call, and a line logged deeper (inside the FHIR request's span), carry that call's
/// `hookInstance`, not another's.
#[tokio::test]
async fn log_spans_carry_the_service_and_hook_instance_of_their_call() {
    let mut cmd = binary();
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("ALEMTUZUMAB_CDS__LOG__FORMAT", "json")
        .env("ALEMTUZUMAB_CDS__LOG__LEVEL", "info")
        .env("ALEMTUZUMAB_CDS__SERVER__FIXED_TODAY", FIXTURE_TODAY);
    let mut served = ServedBinary::start(cmd);
    let app = served.app();
    // A FHIR server refusing the token: its warning is logged inside the `fhir` span.
    let proxy = FhirProxy::start(None).await;
    proxy.set(Behaviour::Status(403));
    let instances: Vec<String> = (0..4).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let calls = instances.iter().enumerate().map(|(i, id)| {
        let mut request = pointed_at("naive-eligible-two-dmts--order-sign.json", &proxy.base);
        request["hookInstance"] = json!(id);
        if i % 2 == 1 {
            request.as_object_mut().unwrap().remove("prefetch");
        }
        request
    });
    let calls: Vec<Value> = calls.collect();
    let answers =
        futures::future::join_all(calls.iter().map(|r| app.post_hook(service_for(r), r))).await;
    for a in answers {
        assert_eq!(a.status(), 200);
    }
    // Wait (bounded) for the four answer lines, then stop and drain the pipes.
    for _ in 0..300 {
        let answered = served
            .log()
            .iter()
            .filter(|v| v["message"] == "hook answered")
            .count();
        if answered >= instances.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    served.stop();
    let log = served.log();
    for (i, id) in instances.iter().enumerate() {
        let answered: Vec<&Value> = log
            .iter()
            .filter(|v| v["message"] == "hook answered" && v["span"]["hook_instance"] == *id)
            .collect();
        assert_eq!(answered.len(), 1, "{id}: {log:#?}");
        assert_eq!(answered[0]["span"]["service"], "alemtuzumab-order-sign");
        if i % 2 == 1 {
            // Fetched from the server: the 403 warnings sit in a `fhir` span inside this call's
            // `hook` span.
            let nested = log.iter().any(|v| {
                let spans = v["spans"].as_array();
                v["status"] == 403
                    && v["span"]["name"] == "fhir"
                    && spans.is_some_and(|s| {
                        s.iter()
                            .any(|s| s["name"] == "hook" && s["hook_instance"] == *id)
                    })
            });
            assert!(nested, "{id}: no fhir line inside its hook span: {log:#?}");
        }
    }
}

/// The value of the Prometheus series `series` (name and labels exactly as exported).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// README §Endpoints `/metrics`: the counters count what happened, call by call. The binary runs
/// as its own process (the in-process test apps share one recorder, so their counters mix).
#[tokio::test]
async fn metrics_count_each_call_by_outcome_and_each_card_by_topic() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = binary();
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("ALEMTUZUMAB_CDS__LOG__FORMAT", "json")
        .env("ALEMTUZUMAB_CDS__SERVER__FIXED_TODAY", FIXTURE_TODAY)
        .env("ALEMTUZUMAB_CDS__STORE__DATA_DIR", dir.path());
    let served = ServedBinary::start(cmd);
    let app = served.app();
    let ok = fixture_hook("naive-one-dmt--order-sign.json");
    for _ in 0..2 {
        assert_eq!(
            app.post_hook("alemtuzumab-order-sign", &ok).await.status(),
            200
        );
    }
    let mut bad = ok.clone();
    bad.as_object_mut().unwrap().remove("hookInstance");
    assert_eq!(
        app.post_hook("alemtuzumab-order-sign", &bad).await.status(),
        400
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let order_sign = "service=\"alemtuzumab-order-sign\"";
    assert_eq!(
        sample(
            &metrics,
            &format!("cds_hook_calls_total{{{order_sign},outcome=\"ok\"}}")
        ),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            &format!("cds_hook_calls_total{{{order_sign},outcome=\"bad_request\"}}")
        ),
        Some(1.0),
        "{metrics}"
    );
    // naive-one-dmt under ansm-2019: one critical initiation card and two reminders per call.
    for (topic, indicator) in [
        ("initiation-eligibility", "critical"),
        ("infusion-monitoring", "info"),
        ("patient-counselling", "info"),
    ] {
        assert_eq!(
            sample(
                &metrics,
                &format!("cds_cards_total{{topic=\"{topic}\",indicator=\"{indicator}\"}}")
            ),
            Some(2.0),
            "{topic}: {metrics}"
        );
    }
    assert_eq!(
        sample(
            &metrics,
            &format!("cds_hook_duration_seconds_count{{{order_sign}}}")
        ),
        Some(3.0),
        "{metrics}"
    );
}
