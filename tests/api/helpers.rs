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

/// A fixture hook request, as written (every order fixture carries all eight prefetch keys).
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

/// CDS Hooks 2.0.1: no attribute value is null, an empty string, an empty array or an empty
/// object, anywhere, except the top-level `cards` (issue 17).
pub fn assert_no_empty(v: &Value, path: &str) {
    match v {
        Value::Null => panic!("null at {path}"),
        Value::String(s) if s.is_empty() => panic!("empty string at {path}"),
        Value::Array(a) => {
            assert!(!a.is_empty() || path == "$.cards", "empty array at {path}");
            a.iter()
                .enumerate()
                .for_each(|(i, x)| assert_no_empty(x, &format!("{path}[{i}]")));
        }
        Value::Object(o) => {
            assert!(!o.is_empty(), "empty object at {path}");
            o.iter()
                .for_each(|(k, x)| assert_no_empty(x, &format!("{path}.{k}")));
        }
        _ => {}
    }
}

/// Checks every contract invariant on every card of a hook response; returns the parsed cards.
pub fn assert_valid_response(body: &Value, request: &Value) {
    assert_no_nulls(body, "$");
    assert_no_empty(body, "$");
    assert!(body["cards"].is_array(), "cards: {body}");
    if let Some(actions) = body.get("systemActions") {
        assert!(
            actions.as_array().is_some_and(|a| !a.is_empty()),
            "systemActions present but not a non-empty array: {body}"
        );
    }
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

/// The service binary, run from the repository with no configuration file, store URL or
/// `RUST_LOG` from the environment, and its SQLite store in a shared temporary directory
/// (a test that reads the store sets `ALEMTUZUMAB_CDS__STORE__DATA_DIR` itself).
pub fn binary() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_alemtuzumab-cds"));
    c.current_dir(repo())
        .env_remove("ALEMTUZUMAB_CDS_CONFIG")
        .env_remove("ALEMTUZUMAB_CDS__STORE__URL")
        .env_remove("RUST_LOG")
        .env(
            "ALEMTUZUMAB_CDS__STORE__DATA_DIR",
            std::env::temp_dir().join("alemtuzumab-cds-cli-tests"),
        )
        .env("RUST_BACKTRACE", "0");
    c
}

/// `alemtuzumab-cds serve` as a child process, JSON-logging: every line of its stdout and stderr
/// is kept, and [`ServedBinary::start`] returns once it has logged the port it listens on.
/// Killed (SIGKILL) when dropped.
pub struct ServedBinary {
    pub child: std::process::Child,
    pub port: u16,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl ServedBinary {
    /// Spawns `command` (a `serve` whose log format is JSON, and whose bind port is 0 or free)
    /// and waits up to 60 s for its "listening" line.
    pub fn start(mut command: std::process::Command) -> Self {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipes: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("stdout")),
            Box::new(child.stderr.take().expect("stderr")),
        ];
        let readers = pipes
            .into_iter()
            .map(|pipe| {
                let (lines, tx) = (lines.clone(), tx.clone());
                std::thread::spawn(move || {
                    for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                        let port = serde_json::from_str::<Value>(&line)
                            .ok()
                            .filter(|v| v["message"] == "alemtuzumab-cds listening")
                            .and_then(|v| v["port"].as_u64())
                            .and_then(|p| u16::try_from(p).ok());
                        // Kept before the port is announced: `start` returns with every earlier line.
                        lines.lock().expect("log lines").push(line);
                        if let Some(port) = port {
                            let _ = tx.send(port);
                        }
                    }
                })
            })
            .collect();
        // Only the readers hold a sender now: a process that exits before announcing its port
        // ends the wait at once.
        drop(tx);
        let mut served = Self {
            child,
            port: 0,
            lines,
            readers,
        };
        match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(port) => {
                served.port = port;
                served
            }
            Err(_) => {
                let log = served.stop();
                panic!("the service did not log its port: {log:#?}")
            }
        }
    }

    /// Every log line so far, stdout and stderr, in arrival order.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("log lines").clone()
    }

    /// The log lines that are JSON, parsed.
    pub fn log(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// A [`TestApp`] calling this process over plain HTTP.
    pub fn app(&self) -> TestApp {
        TestApp {
            address: format!("http://127.0.0.1:{}", self.port),
            client: reqwest::Client::new(),
            // The process owns its store directory; this one is only a placeholder.
            data_dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// Kills the process (SIGKILL) and returns its whole log, once both pipes are drained.
    pub fn stop(&mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.lines()
    }
}

impl Drop for ServedBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
