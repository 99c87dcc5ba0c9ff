//! Issue 14: what an operations engineer sees over time, under bursts and at shutdown. The
//! service runs as its own process (the real binary), so its resident memory and open file
//! descriptors can be read in `/proc/<pid>`. Counts and states only, never durations
//! (README §Tests): which calls were answered, which got `503`, what is in the store, what stays
//! bounded.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::feedback::{report_json, rule};
use crate::helpers::{binary, fixture_hook, ServedBinary};

/// What [`HeldFhir`] does with a request once released.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Release {
    /// Hold until released, then answer `404` with an OperationOutcome.
    NotFound,
    /// Accept and read, never answer (the connection stays open until the client leaves).
    Never,
    /// Answer `200` and a header, then one byte every 100 ms, forever.
    Trickle,
    /// Answer `200` with a 10 MB JSON body.
    TenMegabytes,
}

/// A FHIR server inside the test: reads each request, records the patient it is about, and
/// answers as told. With [`Release::NotFound`] every request waits until [`HeldFhir::release`]:
/// a hook call waiting on it holds its slot for as long as the test wants, without timing.
pub struct HeldFhir {
    pub base: String,
    released: tokio::sync::watch::Sender<bool>,
    /// Patients of the requests received so far (`patient=` or `Patient/<id>`).
    seen: tokio::sync::watch::Sender<Vec<String>>,
    /// Connections whose handler has ended (the client hung up or was answered).
    closed: Arc<std::sync::atomic::AtomicUsize>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
}

fn patient_of(target: &str) -> Option<String> {
    if let Some((_, rest)) = target.split_once("patient=") {
        return Some(rest.split('&').next().unwrap_or("").to_owned());
    }
    let (_, rest) = target.split_once("/Patient/")?;
    Some(rest.split(['?', '/']).next().unwrap_or("").to_owned())
}

impl HeldFhir {
    pub async fn start(mode: Release) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/fhir", listener.local_addr().unwrap());
        let (released, _) = tokio::sync::watch::channel(false);
        let (seen, _) = tokio::sync::watch::channel(Vec::new());
        let closed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (rel, sn, cl, acc) = (
            released.clone(),
            seen.clone(),
            closed.clone(),
            accepted.clone(),
        );
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                acc.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (mut rel, sn, cl) = (rel.subscribe(), sn.clone(), cl.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => {
                                cl.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                return;
                            }
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).into_owned();
                    let target = head.split(' ').nth(1).unwrap_or("").to_owned();
                    let p = patient_of(&target).unwrap_or_default();
                    sn.send_modify(|v| v.push(p));
                    match mode {
                        Release::NotFound => {
                            // Until released, or until the client hangs up.
                            let mut probe = [0u8; 1];
                            let released = tokio::select! {
                                r = rel.wait_for(|r| *r) => r.is_ok(),
                                _ = sock.read(&mut probe) => false,
                            };
                            if released {
                                let body = json!({"resourceType": "OperationOutcome",
                                    "issue": [{"severity": "error", "code": "not-found"}]})
                                .to_string();
                                let _ = sock
                                    .write_all(
                                        format!(
                                            "HTTP/1.1 404 Not Found\r\nContent-Type: \
                                             application/fhir+json\r\nContent-Length: {}\r\n\
                                             Connection: close\r\n\r\n{body}",
                                            body.len()
                                        )
                                        .as_bytes(),
                                    )
                                    .await;
                            }
                        }
                        Release::Never => {
                            let mut probe = [0u8; 1];
                            let _ = sock.read(&mut probe).await;
                        }
                        Release::Trickle => {
                            // Chunked, so no Content-Length announces a size to refuse.
                            let _ = sock
                                .write_all(
                                    b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n\
                                      Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n",
                                )
                                .await;
                            loop {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                                if sock.write_all(b"1\r\n \r\n").await.is_err() {
                                    break;
                                }
                            }
                        }
                        Release::TenMegabytes => {
                            // Chunked too: the service must count the bytes as they come.
                            let body = ten_megabyte_bundle();
                            let mut ok = sock
                                .write_all(
                                    b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n\
                                      Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                                )
                                .await
                                .is_ok();
                            for part in body.as_bytes().chunks(64 * 1024) {
                                if !ok {
                                    break;
                                }
                                let head = format!("{:x}\r\n", part.len());
                                ok = sock.write_all(head.as_bytes()).await.is_ok()
                                    && sock.write_all(part).await.is_ok()
                                    && sock.write_all(b"\r\n").await.is_ok();
                            }
                            if ok {
                                let _ = sock.write_all(b"0\r\n\r\n").await;
                            }
                        }
                    }
                    cl.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                });
            }
        });
        HeldFhir {
            base,
            released,
            seen,
            closed,
            accepted,
        }
    }

    /// Answers every held request, and every later one at once.
    pub fn release(&self) {
        self.released.send_replace(true);
    }

    /// Waits (bounded) until a request about `patient` has arrived.
    pub async fn wait_for_patient(&self, patient: &str) {
        let mut rx = self.seen.subscribe();
        tokio::time::timeout(
            Duration::from_secs(60),
            rx.wait_for(|v| v.iter().any(|p| p == patient)),
        )
        .await
        .unwrap_or_else(|_| panic!("no FHIR request about {patient} arrived"))
        .unwrap();
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.seen.borrow().len()
    }

    /// Connections accepted, and of those, ended.
    pub fn connections(&self) -> (usize, usize) {
        (
            self.accepted.load(std::sync::atomic::Ordering::SeqCst),
            self.closed.load(std::sync::atomic::Ordering::SeqCst),
        )
    }
}

/// A searchset Bundle of about 10 MB (one Observation repeated), built once.
fn ten_megabyte_bundle() -> &'static str {
    static BODY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BODY.get_or_init(build_ten_megabyte_bundle)
}

fn build_ten_megabyte_bundle() -> String {
    let entry = json!({"resource": {"resourceType": "Observation", "id": "o", "status": "final",
        "code": {"text": "x".repeat(900)}}})
    .to_string();
    let n = 10 * 1024 * 1024 / entry.len();
    let mut body = String::from(r#"{"resourceType":"Bundle","type":"searchset","entry":["#);
    for i in 0..n {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&entry);
    }
    body.push_str("]}");
    body
}

/// The naive-one-dmt order-sign about patient `patient`, without prefetch, so the service asks
/// `fhir` for everything.
pub fn slow_hook(fhir: &str, patient: &str) -> Value {
    let text = fixture_hook("naive-one-dmt--order-sign.json")
        .to_string()
        .replace("p02-patient", patient);
    let mut body: Value = serde_json::from_str(&text).unwrap();
    body.as_object_mut().unwrap().remove("prefetch");
    body["fhirServer"] = json!(fhir);
    body["hookInstance"] = json!(uuid::Uuid::new_v4().to_string());
    body
}

/// A fast hook (everything prefetched) under a fresh hookInstance.
pub fn fast_hook() -> Value {
    let mut body = fixture_hook("naive-one-dmt--order-sign.json");
    body["hookInstance"] = json!(uuid::Uuid::new_v4().to_string());
    body
}

/// `serve` on port 0, JSON logs, store in `data_dir`, and `ALEMTUZUMAB_CDS__<key>=<value>`
/// for each of `env`.
pub fn serve_with(data_dir: &Path, env: &[(&str, &str)]) -> ServedBinary {
    let mut cmd = binary();
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("ALEMTUZUMAB_CDS__LOG__FORMAT", "json")
        .env("ALEMTUZUMAB_CDS__SERVER__FIXED_TODAY", "2026-11-25")
        .env("ALEMTUZUMAB_CDS__STORE__DATA_DIR", data_dir);
    for (k, v) in env {
        cmd.env(format!("ALEMTUZUMAB_CDS__{k}"), v);
    }
    ServedBinary::start(cmd)
}

/// Resident memory of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Open file descriptors of `pid`.
pub fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("/proc fd")
        .count()
}

/// Polls (bounded by a count of tries) until `pid` has at most `baseline + slack` fds; returns
/// the last count.
pub async fn fds_back_to(pid: u32, baseline: usize, slack: usize) -> usize {
    let mut n = fds(pid);
    for _ in 0..300 {
        if n <= baseline + slack {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        n = fds(pid);
    }
    n
}

/// A labelled counter's value in `/metrics` (0 when absent).
pub async fn metric(client: &reqwest::Client, base: &str, series: &str) -> f64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    body: &Value,
) -> reqwest::Result<(u16, Option<String>, Value)> {
    let r = client
        .post(format!("{base}/cds-services/alemtuzumab-order-sign"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = r.json().await.unwrap_or(Value::Null);
    Ok((status, retry_after, body))
}

/// Item 2: with every slot held by a call waiting on a FHIR server (held, not slowed), bursts at
/// three times `server.max_concurrent_hooks` get `503` with `Retry-After` at once, counted; the
/// held calls are still answered `200`; memory and descriptors stay bounded; afterwards the
/// service answers normally by itself.
#[tokio::test]
async fn at_three_times_capacity_the_excess_gets_503_and_the_service_recovers() {
    const SLOTS: usize = 4;
    let fhir = HeldFhir::start(Release::NotFound).await;
    let dir = tempfile::tempdir().unwrap();
    let mut served = serve_with(
        dir.path(),
        &[
            ("SERVER__MAX_CONCURRENT_HOOKS", "4"),
            ("SERVER__REQUEST_TIMEOUT_MS", "120000"),
            ("FHIR__DEADLINE_MS", "60000"),
        ],
    );
    let pid = served.child.id();
    let base = format!("http://127.0.0.1:{}", served.port);
    let client = reqwest::Client::new();
    // Warm up (pools, allocator), then the baseline.
    for _ in 0..20 {
        let (status, _, _) = post(&client, &base, &fast_hook()).await.unwrap();
        assert_eq!(status, 200);
    }
    let (rss_before, fds_before) = (rss_kib(pid), fds(pid));
    let rejected_before = metric(
        &client,
        &base,
        "cds_hook_rejected_total{reason=\"concurrency\"}",
    )
    .await;

    // Every slot held: one call at a time, each seen waiting on the FHIR server.
    let mut held = Vec::new();
    for k in 0..SLOTS {
        let patient = format!("held-{k}");
        let (client, base, body) = (
            client.clone(),
            base.clone(),
            slow_hook(&fhir.base, &patient),
        );
        held.push(tokio::spawn(
            async move { post(&client, &base, &body).await },
        ));
        fhir.wait_for_patient(&patient).await;
    }

    // Three bursts of 3 × capacity concurrent calls, each on its own connection.
    let mut refused = 0;
    for _ in 0..3 {
        let burst: Vec<_> = (0..3 * SLOTS)
            .map(|_| {
                let (client, base) = (reqwest::Client::new(), base.clone());
                tokio::spawn(async move { post(&client, &base, &fast_hook()).await })
            })
            .collect();
        for call in burst {
            let (status, retry_after, body) = call.await.unwrap().expect("answered, not dropped");
            assert_eq!(status, 503, "{body}");
            assert_eq!(retry_after.as_deref(), Some("1"));
            assert_eq!(body["issue"][0]["code"], "transient", "{body}");
            refused += 1;
        }
    }
    let rejected = metric(
        &client,
        &base,
        "cds_hook_rejected_total{reason=\"concurrency\"}",
    )
    .await;
    assert_eq!(rejected - rejected_before, refused as f64);
    // Bounded: refused calls cost a connection and an answer, nothing kept.
    let rss_burst = rss_kib(pid);
    assert!(
        rss_burst < rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_burst} KiB"
    );

    // The held calls are answered once the FHIR server answers.
    fhir.release();
    for call in held {
        let (status, _, body) = call.await.unwrap().expect("held call answered");
        assert_eq!(status, 200, "{body}");
        assert!(
            body["cards"].as_array().is_some_and(|c| c
                .iter()
                .any(|c| c["source"]["topic"]["code"] == "data-unavailable")),
            "{body}"
        );
    }

    // Back to normal by itself: capacity-many concurrent calls all admitted, then a stream.
    let calls: Vec<_> = (0..SLOTS)
        .map(|_| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move { post(&client, &base, &fast_hook()).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().0, 200);
    }
    for _ in 0..20 {
        assert_eq!(post(&client, &base, &fast_hook()).await.unwrap().0, 200);
    }
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "the service exited"
    );
    let after = fds_back_to(pid, fds_before, 4).await;
    assert!(after <= fds_before + 4, "fds {fds_before} → {after}");
    let rss_after = rss_kib(pid);
    assert!(
        rss_after < rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    served.stop();
}

/// `(topic → cards)` over answered hook bodies.
fn topics_of(bodies: &[Value]) -> BTreeMap<String, u64> {
    let mut n = BTreeMap::new();
    for b in bodies {
        for c in b["cards"].as_array().into_iter().flatten() {
            let topic = c["source"]["topic"]["code"]
                .as_str()
                .unwrap_or("?")
                .to_owned();
            *n.entry(topic).or_insert(0) += 1;
        }
    }
    n
}

/// Sends SIGTERM to `pid`.
pub fn sigterm(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Waits (bounded) for the child to exit; its status.
pub fn wait_exit(served: &mut ServedBinary) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the service did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Item 4: SIGTERM during a stream of hook calls, some of them in flight on a held FHIR server:
/// every call in flight is answered, the process exits cleanly, and every answered call's cards
/// are in the store (`report`), though the audit writer was told to wait a minute per batch.
#[tokio::test]
async fn sigterm_answers_the_calls_in_flight_and_loses_no_decision() {
    let fhir = HeldFhir::start(Release::NotFound).await;
    let dir = tempfile::tempdir().unwrap();
    let mut served = serve_with(
        dir.path(),
        &[
            ("SERVER__SHUTDOWN_TIMEOUT_SECS", "30"),
            ("SERVER__REQUEST_TIMEOUT_MS", "120000"),
            ("FHIR__DEADLINE_MS", "60000"),
            // Nothing is written before the shutdown flush unless a batch fills.
            ("STORE__AUDIT_FLUSH_INTERVAL_MS", "60000"),
            ("STORE__AUDIT_BATCH_MAX", "100000"),
        ],
    );
    let pid = served.child.id();
    let base = format!("http://127.0.0.1:{}", served.port);
    let client = reqwest::Client::new();
    // The store is open (its readiness write went through).
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(Instant::now() < deadline, "store not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // In flight: three calls waiting on the FHIR server.
    let mut held = Vec::new();
    for k in 0..3 {
        let patient = format!("held-{k}");
        let (client, base, body) = (
            client.clone(),
            base.clone(),
            slow_hook(&fhir.base, &patient),
        );
        held.push(tokio::spawn(
            async move { post(&client, &base, &body).await },
        ));
        fhir.wait_for_patient(&patient).await;
    }
    // A stream of fast calls on new connections, until the service stops accepting.
    let answered = Arc::new(Mutex::new(Vec::<Value>::new()));
    let (count_tx, mut count_rx) = tokio::sync::watch::channel(0usize);
    let stream = {
        let (base, answered) = (base.clone(), answered.clone());
        tokio::spawn(async move {
            let mut refused = 0;
            for _ in 0..2000 {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(0)
                    .build()
                    .unwrap();
                match post(&client, &base, &fast_hook()).await {
                    Ok((200, _, body)) => {
                        answered.lock().unwrap().push(body);
                        count_tx.send_modify(|n| *n += 1);
                    }
                    Ok((status, _, body)) => panic!("{status}: {body}"),
                    Err(_) => {
                        refused += 1;
                        if refused >= 3 {
                            break;
                        }
                    }
                }
            }
        })
    };
    count_rx.wait_for(|n| *n >= 20).await.unwrap();

    // Act: SIGTERM while the stream runs and three calls are in flight.
    sigterm(pid);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !served.log().iter().any(|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("stopping"))
    }) {
        assert!(
            Instant::now() < deadline,
            "SIGTERM not logged: {:#?}",
            served.lines()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fhir.release();

    // Assert: the calls in flight are answered, the stream ends refused, the exit is clean.
    let mut bodies = Vec::new();
    for call in held {
        let (status, _, body) = call.await.unwrap().expect("a call in flight was dropped");
        assert_eq!(status, 200, "{body}");
        bodies.push(body);
    }
    stream.await.unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let s = wait_exit(&mut served);
        (s, served.stop())
    })
    .await
    .unwrap();
    let (exit, log) = status;
    assert!(exit.success(), "{exit:?}: {log:#?}");
    assert!(
        log.iter()
            .any(|l| l.contains("audit queue written to the store")),
        "{log:#?}"
    );
    bodies.extend(answered.lock().unwrap().iter().cloned());
    let expected = topics_of(&bodies);
    let env = vec![(
        "ALEMTUZUMAB_CDS__STORE__DATA_DIR".to_owned(),
        dir.path().to_string_lossy().into_owned(),
    )];
    let report = report_json(&env, &[]).await;
    for (topic, n) in &expected {
        assert_eq!(
            rule(&report, topic)["cardsShown"].as_u64(),
            Some(*n),
            "{topic}: {n} cards answered; report {report}"
        );
    }
    assert!(expected
        .get("initiation-eligibility")
        .is_some_and(|n| *n >= 23));
}

/// Item 5: 50 concurrent hook calls against a FHIR server that never answers, one that trickles
/// a byte at a time, one that sends 10 MB: each call ends at its deadline with a
/// `data-unavailable` card; afterwards the service's descriptors are back to the baseline and its
/// memory stayed below `fhir.max_response_bytes × concurrency`.
#[tokio::test]
async fn fifty_calls_on_a_pathological_fhir_server_end_at_the_deadline_and_leak_nothing() {
    const CALLS: usize = 50;
    const MAX_RESPONSE: u64 = 256 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let mut served = serve_with(
        dir.path(),
        &[
            ("SERVER__MAX_CONCURRENT_HOOKS", "64"),
            ("FHIR__DEADLINE_MS", "1500"),
            ("FHIR__MAX_RESPONSE_BYTES", &MAX_RESPONSE.to_string()),
        ],
    );
    let pid = served.child.id();
    let base = format!("http://127.0.0.1:{}", served.port);
    let client = reqwest::Client::new();
    for _ in 0..10 {
        assert_eq!(post(&client, &base, &fast_hook()).await.unwrap().0, 200);
    }
    let (fds_before, rss_before) = (fds(pid), rss_kib(pid));
    let mut rss_peak = rss_before;
    let mut in_flight_peak = 0;
    for mode in [Release::Never, Release::Trickle, Release::TenMegabytes] {
        let fhir = HeldFhir::start(mode).await;
        let calls: Vec<_> = (0..CALLS)
            .map(|i| {
                let (client, base) = (client.clone(), base.clone());
                let body = slow_hook(&fhir.base, &format!("p-{i}"));
                tokio::spawn(async move { post(&client, &base, &body).await })
            })
            .collect();
        let mut done = 0;
        for call in calls {
            let (status, _, body) = call.await.unwrap().expect("answered");
            assert_eq!(status, 200, "{mode:?}: {body}");
            let unavailable = body["cards"].as_array().is_some_and(|cards| {
                cards
                    .iter()
                    .any(|c| c["source"]["topic"]["code"] == "data-unavailable")
            });
            assert!(unavailable, "{mode:?}: {body}");
            done += 1;
            rss_peak = rss_peak.max(rss_kib(pid));
        }
        assert_eq!(done, CALLS);
        // Every call ran at once: each of its FHIR requests could hold a body at the same time.
        in_flight_peak = in_flight_peak.max(fhir.requests());
        // The service hung up on every connection the FHIR server accepted.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (accepted, closed) = fhir.connections();
            if closed >= accepted {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{mode:?}: {accepted} accepted, {closed} closed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let after = fds_back_to(pid, fds_before, 4).await;
        assert!(
            after <= fds_before + 4,
            "{mode:?}: fds {fds_before} → {after}"
        );
    }
    // Bodies held at once, plus a fixed 64 MiB for the allocator's arenas.
    let bound_kib = MAX_RESPONSE * in_flight_peak as u64 / 1024 + 64 * 1024;
    assert!(
        rss_peak < rss_before + bound_kib,
        "RSS peak {rss_peak} KiB, start {rss_before} KiB, bound +{bound_kib} KiB"
    );
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "the service exited"
    );
    // Still answering.
    assert_eq!(post(&client, &base, &fast_hook()).await.unwrap().0, 200);
    served.stop();
}
