//! Issue 17 (security review): bounded metric labels, redacted `fhirServer`, JWS `crit`, the
//! SQLite file's mode.

use serde_json::{json, Value};

use crate::auth::{claims, ec_key, header, jwks, jwks_file, sign, spawn_auth_app, JwksServer};
use crate::fhir_proxy::{Behaviour, FhirProxy};
use crate::helpers::*;

/// The only values the `resource_type` label of the FHIR metrics may take.
const CLOSED_SET: [&str; 9] = [
    "Patient",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "Medication",
    "Observation",
    "AllergyIntolerance",
    "other",
];

/// The service binary with JSON logs at `level`, its own store directory and `/metrics` (a
/// process of its own: the metrics recorder is global to a process).
fn serve(level: &str) -> (ServedBinary, tempfile::TempDir) {
    let data_dir = tempfile::tempdir().unwrap();
    let mut cmd = binary();
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("ALEMTUZUMAB_CDS__LOG__FORMAT", "json")
        .env("ALEMTUZUMAB_CDS__LOG__LEVEL", level)
        .env("ALEMTUZUMAB_CDS__SERVER__FIXED_TODAY", FIXTURE_TODAY)
        .env("ALEMTUZUMAB_CDS__STORE__DATA_DIR", data_dir.path())
        .env("ALEMTUZUMAB_CDS__FHIR__DEADLINE_MS", "3000");
    (ServedBinary::start(cmd), data_dir)
}

/// Every value of a `resource_type` label in a Prometheus text exposition.
fn resource_type_labels(metrics: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in metrics.lines().filter(|l| l.starts_with("cds_fhir_")) {
        let mut rest = line;
        while let Some(i) = rest.find("resource_type=\"") {
            rest = &rest[i + "resource_type=\"".len()..];
            let end = rest.find('"').unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    out.sort();
    out.dedup();
    out
}

#[tokio::test]
async fn made_up_reference_types_do_not_grow_the_fhir_metric_labels() {
    let (served, _dir) = serve("info");
    let app = served.app();
    let proxy = FhirProxy::start(None).await;
    proxy.set(Behaviour::Body(
        json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]})
            .to_string(),
    ));
    let mut request = fixture_hook("naive-eligible-two-dmts--order-sign.json");
    request["fhirServer"] = json!(proxy.base);
    let entries = request["context"]["draftOrders"]["entry"]
        .as_array_mut()
        .unwrap();
    for i in 0..30 {
        let id = format!("made-up-{i}");
        entries.push(json!({
            "fullUrl": format!("MedicationRequest/{id}"),
            "resource": {
                "resourceType": "MedicationRequest", "id": id, "status": "draft",
                "intent": "order", "subject": {"reference": "Patient/p01-patient"},
                "medicationReference": {"reference": format!("Zq{i}Madeup/m{i}")},
            },
        }));
    }
    let r = app.post_hook("alemtuzumab-order-sign", &request).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["cards"].is_array(), "{body}");
    assert!(
        proxy.requests().iter().any(|r| r.target.contains("Madeup")),
        "the made-up references were read: {:?}",
        proxy.requests()
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let labels = resource_type_labels(&metrics);
    assert!(
        labels.contains(&"other".to_owned()),
        "{labels:?}\n{metrics}"
    );
    for l in &labels {
        assert!(
            CLOSED_SET.contains(&l.as_str()),
            "label `{l}` outside the closed set"
        );
    }
}

/// Asserts no line of the log and nothing in the answer holds one of the secrets.
fn assert_nothing_secret(what: &str, body: &str, lines: &[String]) {
    for secret in ["secret", "s3cr3t", "tok3n"] {
        assert!(
            !body.contains(secret),
            "{what}: `{secret}` in the answer: {body}"
        );
        for line in lines {
            assert!(
                !line.contains(secret),
                "{what}: `{secret}` in the log: {line}"
            );
        }
    }
}

#[tokio::test]
async fn a_credential_bearing_fhir_server_is_never_shown_whole() {
    let (mut served, _dir) = serve("trace");
    let app = served.app();
    let servers = [
        // Unparseable (a space in the host): was echoed whole in the card and the log.
        "https://user:secret@ehr example/fhir?token=tok3n",
        // Unparseable port, password with a slash.
        "https://admin:s3cr3t/x@ehr.example:99999/fhir#tok3n",
        // Parseable, off the allow-list.
        "https://user:secret@ehr.example/fhir?access_token=tok3n",
    ];
    let mut bodies = Vec::new();
    for server in servers {
        let mut request = fixture_hook("naive-one-dmt--order-sign.json");
        request.as_object_mut().unwrap().remove("prefetch");
        request["fhirServer"] = json!(server);
        let r = app.post_hook("alemtuzumab-order-sign", &request).await;
        assert_eq!(r.status(), 200, "{server}");
        let body: Value = r.json().await.unwrap();
        let t = topics(&body);
        assert!(
            t.contains(&("data-unavailable".into(), "warning".into())),
            "{server}: {t:?}"
        );
        bodies.push((server, body.to_string()));
    }
    // Wait (bounded) for the answer line of every call, then stop and drain both pipes: every
    // line the process wrote is then read.
    for _ in 0..300 {
        let answered = served
            .lines()
            .iter()
            .filter(|l| l.contains("hook answered"))
            .count();
        if answered >= servers.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let lines = served.stop();
    assert!(
        lines.iter().any(|l| l.contains("allowed_servers")),
        "the refusal is logged: {lines:#?}"
    );
    for (server, body) in &bodies {
        assert!(
            body.contains("ehr"),
            "{server}: the host is still named: {body}"
        );
        assert_nothing_secret(server, body, &lines);
    }
}

#[tokio::test]
async fn a_jws_with_a_crit_header_is_refused() {
    let ec = ec_key("crit-key");
    let server = JwksServer::start(jwks(&[&ec])).await;
    let app = spawn_auth_app(&server, 300).await;
    let service = "alemtuzumab-order-sign";
    // The same token without `crit` is accepted (the refusal is for `crit` alone).
    let ok = sign(&ec, &header(&ec), &claims(service));
    let r = app.post_hook_with_token(service, Some(&ok)).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    for crit in [vec!["exp".to_owned()], vec!["b64".to_owned()], vec![]] {
        let mut h = header(&ec);
        h.crit = Some(crit.clone());
        let t = sign(&ec, &h, &claims(service));
        crate::auth::assert_unauthorized(
            app.post_hook_with_token(service, Some(&t)).await,
            &format!("crit {crit:?}"),
        )
        .await;
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_store_file_is_created_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("store");
    let settings = test_settings(|raw| raw.store.data_dir = data_dir.display().to_string());
    let store = alemtuzumab_cds::store::Store::open(&settings.store)
        .await
        .expect("the store opens");
    // Written to, so the WAL exists too.
    let exp = chrono::Utc::now().timestamp() + 60;
    store
        .check_and_record_jti("https://iss.example", "jti-0600", exp)
        .await
        .expect("a write");
    let file = data_dir.join(alemtuzumab_cds::store::config::DEFAULT_SQLITE_FILE);
    for path in [file.clone(), file.with_extension("db-wal")] {
        if path.exists() {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}: {mode:o}", path.display());
        } else {
            assert_ne!(path, file, "the store file was created");
        }
    }
    store.close().await;
}

/// Issue 17 item 6: with SQLite, a token accepted once is still a replay after the process is
/// killed and restarted on the same data directory (the `jti` was only in memory).
#[tokio::test]
async fn a_jti_is_still_a_replay_after_a_restart_with_sqlite() {
    let ec = ec_key("restart-key");
    let (dir, jwks_file) = jwks_file(&[&ec]);
    let config = dir.path().join("config.toml");
    let toml = format!(
        "[server]\npublic_url = {public_url:?}\n\n[[auth.issuers]]\niss = {iss:?}\njwks_file = {file:?}\n",
        public_url = crate::auth::PUBLIC_URL,
        iss = crate::auth::ISS,
        file = jwks_file,
    );
    std::fs::write(&config, toml).unwrap();
    let data_dir = dir.path().join("data");
    let serve = || {
        let mut cmd = binary();
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .env("ALEMTUZUMAB_CDS_CONFIG", &config)
            .env("ALEMTUZUMAB_CDS__LOG__FORMAT", "json")
            .env("ALEMTUZUMAB_CDS__STORE__DATA_DIR", &data_dir);
        ServedBinary::start(cmd)
    };
    let service = "alemtuzumab-order-sign";
    let token = sign(&ec, &header(&ec), &claims(service));

    let mut first = serve();
    let r = first
        .app()
        .post_hook_with_token(service, Some(&token))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    // In the same process, a replay (as before).
    crate::auth::assert_unauthorized(
        first
            .app()
            .post_hook_with_token(service, Some(&token))
            .await,
        "replay in the same process",
    )
    .await;
    first.stop(); // SIGKILL: nothing flushed on the way out

    let mut second = serve();
    crate::auth::assert_unauthorized(
        second
            .app()
            .post_hook_with_token(service, Some(&token))
            .await,
        "replay after a restart",
    )
    .await;
    // A fresh token is accepted: the restarted service works.
    let fresh = sign(&ec, &header(&ec), &claims(service));
    let r = second
        .app()
        .post_hook_with_token(service, Some(&fresh))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let log = second.stop();
    assert!(
        log.iter().any(|l| l.contains("replay")),
        "the refusal names the replay: {log:#?}"
    );
}
