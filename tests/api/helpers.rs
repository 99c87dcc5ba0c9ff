//! `spawn_app`, `TestApp` and fixture loading shared by the HTTP tests.

use std::path::{Path, PathBuf};

use alemtuzumab_cds::config::{RawSettings, Settings};
use alemtuzumab_cds::startup::Application;
use serde_json::Value;

/// The date the fixtures are written for (their draft orders are authored on it).
pub const FIXTURE_TODAY: &str = "2026-11-25";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read_json(path: impl AsRef<Path>) -> Value {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn fixture_hook(name: &str) -> Value {
    read_json(repo().join("fixtures/hooks").join(name))
}

/// Every fixture hook request file name, sorted.
pub fn fixture_hook_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("fixtures/hooks"))
        .expect("fixtures/hooks")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// This app's own store directory (issue 6), removed when the app is dropped.
    pub data_dir: tempfile::TempDir,
}

/// Default test settings: local mode, the fixtures' date, then `tweak`.
pub fn test_settings(tweak: impl FnOnce(&mut RawSettings)) -> Settings {
    let mut raw = RawSettings::default();
    raw.server.bind = "127.0.0.1:0".to_owned();
    raw.server.fixed_today = FIXTURE_TODAY.to_owned();
    raw.server.workers = 2;
    raw.log.level = "warn".to_owned();
    tweak(&mut raw);
    raw.validate(None).expect("test settings are valid")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut RawSettings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temp dir for the store");
    let dir = data_dir.path().to_string_lossy().into_owned();
    let settings = test_settings(|raw| {
        raw.store.data_dir = dir;
        tweak(raw)
    });
    // With a certificate configured the service speaks HTTPS only (the caller then replaces
    // `client` with one that trusts the test CA).
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let app = Application::build(settings).expect("the app starts");
    let address = format!("{scheme}://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        data_dir,
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_hook(&self, service: &str, body: &Value) -> reqwest::Response {
        self.post_raw(&format!("/cds-services/{service}"), body.to_string())
            .await
    }

    pub async fn post_raw(&self, path: &str, body: String) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request sent")
    }
}

/// The service that answers a fixture's hook.
pub fn service_for(request: &Value) -> &'static str {
    match request["hook"].as_str() {
        Some("order-sign") => "alemtuzumab-order-sign",
        Some("order-select") => "alemtuzumab-order-select",
        Some("patient-view") => "alemtuzumab-patient-view",
        other => panic!("unexpected hook {other:?}"),
    }
}

/// `(topic, indicator)` of each card, sorted, for comparison with fixtures/expected.json.
pub fn topics(response: &Value) -> Vec<(String, String)> {
    let mut t: Vec<(String, String)> = response["cards"]
        .as_array()
        .expect("cards array")
        .iter()
        .map(|c| {
            (
                c["source"]["topic"]["code"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned(),
                c["indicator"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    t.sort();
    t
}

/// No `null` anywhere in a response (output is strict: absent optionals are omitted).
pub fn assert_no_nulls(v: &Value, path: &str) {
    match v {
        Value::Null => panic!("null at {path}"),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| assert_no_nulls(x, &format!("{path}[{i}]"))),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| assert_no_nulls(x, &format!("{path}.{k}"))),
        _ => {}
    }
}

/// Checks every contract invariant on every card of a hook response; returns the parsed cards.
pub fn assert_valid_response(body: &Value, request: &Value) {
    assert_no_nulls(body, "$");
    assert!(body["systemActions"].is_array(), "systemActions: {body}");
    let resp: alemtuzumab_cds::wire::CdsResponse =
        serde_json::from_value(body.clone()).expect("a CDS Hooks response");
    let drafts: Vec<String> = request["context"]["draftOrders"]["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| {
                    let r = &e["resource"];
                    Some(format!(
                        "{}/{}",
                        r["resourceType"].as_str()?,
                        r["id"].as_str()?
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut uuids = std::collections::HashSet::new();
    for card in &resp.cards {
        if let Err(e) = alemtuzumab_cds::cards::check_card(card) {
            panic!(
                "invalid card {}: {e}",
                serde_json::to_string_pretty(card).unwrap()
            );
        }
        assert!(uuids.insert(card.uuid.clone()), "duplicate card uuid");
        for s in &card.suggestions {
            assert!(uuids.insert(s.uuid.clone()), "duplicate suggestion uuid");
            for a in &s.actions {
                if let Some(id) = &a.resource_id {
                    assert!(
                        drafts.contains(id),
                        "delete of {id}, not a draft order of {drafts:?}"
                    );
                }
            }
        }
    }
}
