//! A real FHIR R4 server for the tests: the Helios FHIR Server (`hfs`, crate `helios-hfs` 0.2.7,
//! features `R4,sqlite`, in-memory SQLite), started once per test binary on a free loopback port,
//! with every fixture patient loaded into it.
//!
//! - The binary: `$HFS_BIN`, else `$ALEMTUZUMAB_CDS_CACHE/hfs-0.2.7/bin/hfs` (default cache
//!   `~/.cache/alemtuzumab-cds`), where `scripts/test` installs it. Missing, the FHIR tests fail
//!   and name the fix; `ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS=1` marks them ignored instead.
//! - `--data-dir tests/data/hfs` (search parameters and the Patient compartment; see the README
//!   there): without it hfs silently ignores `code=`, `patient=`, `_sort`.
//! - Lifetime: hfs runs under a tiny `sh` watchdog whose stdin is a pipe from this process; when
//!   the test binary exits (or is killed) the pipe closes, `cat` returns and the watchdog kills
//!   hfs and removes its working directory. Statics are never dropped, so `kill_on_drop` could
//!   not do this.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::helpers::{read_json, repo};

pub const HFS_VERSION: &str = "0.2.7";

/// A running hfs: its base URL (`http://127.0.0.1:PORT`, no trailing slash).
pub struct Hfs {
    pub base: String,
    pub log: PathBuf,
    _watchdog: Child,
}

static HFS: OnceCell<Hfs> = OnceCell::const_new();

/// Where the hfs binary is expected.
pub fn hfs_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("HFS_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("ALEMTUZUMAB_CDS_CACHE")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/alemtuzumab-cds")
        });
    cache.join(format!("hfs-{HFS_VERSION}/bin/hfs"))
}

/// The shared hfs with the fixtures loaded. A missing hfs fails the test, loudly: the suite never
/// reports `ok` for a test that did not run. `ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS=1` (build.rs)
/// marks these tests ignored instead, and the summary line counts them.
pub async fn hfs() -> &'static Hfs {
    HFS.get_or_init(|| async {
        let bin = hfs_bin();
        if !bin.is_file() {
            panic!(
                "hfs (helios-hfs {HFS_VERSION}) not found at {}: run scripts/test (it installs it), \
                 set HFS_BIN, or set ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS=1 to mark the real-FHIR-server \
                 tests ignored",
                bin.display()
            );
        }
        let hfs = start(&bin);
        load_fixtures(&hfs).await;
        hfs
    })
    .await
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(bin: &std::path::Path) -> Hfs {
    let dir = tempfile::Builder::new()
        .prefix("hfs-")
        .tempdir()
        .expect("a temp dir")
        .keep();
    let data_dir = repo().join("tests/data/hfs");
    let log = dir.join("hfs.log");
    // hfs writes export folders under its cwd: run it in the temp dir. `cat` returns when this
    // process's end of the pipe closes (exit, crash, kill -9), and then hfs is killed.
    const WATCHDOG: &str = r#"cd "$1" || exit 1
"$2" --host 127.0.0.1 --port "$3" --database-url :memory: --base-url "http://127.0.0.1:$3" --data-dir "$4" >hfs.log 2>&1 </dev/null &
pid=$!
cat >/dev/null
kill "$pid" 2>/dev/null
wait "$pid"
cd / && rm -rf "$1""#;
    for _attempt in 0..3 {
        let port = free_port();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("hfs-watchdog")
            .arg(&dir)
            .arg(bin)
            .arg(port.to_string())
            .arg(&data_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if metadata_ok(&base) {
                return Hfs {
                    base,
                    log,
                    _watchdog: child,
                };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Closing stdin makes the watchdog stop hfs; then try another port.
        drop(child.stdin.take());
        let _ = child.wait();
        eprintln!("hfs did not start on port {port}; log:\n{}", read_log(&log));
    }
    panic!("hfs would not start; log:\n{}", read_log(&log));
}

fn read_log(path: &std::path::Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

/// A bare blocking `GET /metadata` (no runtime needed).
fn metadata_ok(base: &str) -> bool {
    use std::io::Write;
    let addr = base.trim_start_matches("http://");
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!(
        "GET /metadata HTTP/1.1\r\nHost: {addr}\r\nAccept: application/fhir+json\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.1 200")
}

impl Hfs {
    /// The last lines hfs wrote (for failure messages).
    pub fn log_tail(&self) -> String {
        let log = read_log(&self.log);
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// A GET on hfs, parsed as JSON.
    pub async fn get(&self, path_and_query: &str) -> Value {
        let url = format!("{}/{}", self.base, path_and_query.trim_start_matches('/'));
        let r = reqwest::Client::new()
            .get(&url)
            .header("Accept", "application/fhir+json")
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = r.status();
        let body: Value = r.json().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert!(
            status.is_success(),
            "GET {url}: {status} {body}\nhfs log (tail):\n{}",
            self.log_tail()
        );
        body
    }

    /// PUTs one resource (`Type/id` from the resource itself).
    pub async fn put(&self, resource: &Value) {
        let url = format!(
            "{}/{}/{}",
            self.base,
            resource["resourceType"].as_str().unwrap(),
            resource["id"].as_str().unwrap()
        );
        let r = reqwest::Client::new()
            .put(&url)
            .header("Content-Type", "application/fhir+json")
            .header("Accept", "application/fhir+json")
            .body(resource.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert!(
            status.is_success(),
            "PUT {url}: {status} {}",
            r.text().await.unwrap_or_default()
        );
    }

    /// Posts a transaction Bundle; panics unless every entry succeeded.
    pub async fn transaction(&self, bundle: &Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/", self.base))
            .header("Content-Type", "application/fhir+json")
            .header("Accept", "application/fhir+json")
            .body(bundle.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "transaction: {status} {body}");
        for e in body["entry"].as_array().into_iter().flatten() {
            let s = e["response"]["status"].as_str().unwrap_or("");
            assert!(s.starts_with('2'), "transaction entry: {e}");
        }
    }
}

/// A collection Bundle as a transaction of `PUT Type/id` (ids and references kept as they are).
pub fn as_transaction(collection: &Value) -> Value {
    let entries: Vec<Value> = collection["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let r = &e["resource"];
            let reference = format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            );
            json!({"resource": r, "request": {"method": "PUT", "url": reference}})
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

/// Every patient of `fixtures/patients/`, plus the Medications the hook files' draft orders
/// reference (an EHR keeps those on its server too).
async fn load_fixtures(hfs: &Hfs) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("fixtures/patients"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for f in files {
        hfs.transaction(&as_transaction(&read_json(&f))).await;
    }
    for name in crate::helpers::fixture_hook_names() {
        let request = crate::helpers::fixture_hook(&name);
        for e in request["context"]["draftOrders"]["entry"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if e["resource"]["resourceType"] == "Medication" {
                hfs.put(&e["resource"]).await;
            }
        }
    }
}
