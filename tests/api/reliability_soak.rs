//! Issue 14 items 1 and 2 (measurements): the service binary under a steady mix of calls for
//! `SOAK_MINUTES` minutes (default 2 in the suite; `scripts/soak` runs 60 against the release
//! build), sampled every minute: resident memory (and its anonymous part), open file
//! descriptors, SQLite WAL size, p99, calls refused, longest log line. Written to `SOAK_OUT` (default `$TMPDIR/alemtuzumab-cds-soak`) as
//! `soak.csv`, `soak.svg` and `summary.txt`. `SOAK_SLOTS` sets the hook slots (default 16) and
//! `SOAK_MIX=prefetch` leaves out the FHIR-fetch calls (and hfs): the overload measurement of the
//! service's own shedding (README §Operations); `SOAK_SERVICE_CPUS` pins the service's threads.
//!
//! Phases: (1) capacity, closed loop at `server.max_concurrent_hooks` concurrent calls;
//! (2) the soak, open loop at half that capacity, with every fixture, the CDS Hooks Sandbox's
//! captured calls, FHIR-fetch calls against hfs (with and without `_count=1` first pages, so the
//! service follows `next` links) and feedback posts; (3) overload: an open loop at three times
//! the capacity (p99 of the admitted calls, the calls refused), then a closed loop at three times
//! `server.max_concurrent_hooks` whose refused calls are sent again at once (the client that
//! ignores `Retry-After`); (4) recovery at half capacity. Each soak minute ends with a 5-second
//! pause before the descriptors are counted, so a burst's idle connections are closed by then.
//! The durations are measured and written, never asserted. Asserted: no call
//! failed (a 5xx other than a `503` of the hook slots, or a dropped connection), the overload
//! refused some calls, descriptors flat (a short run: not growing past minute 1 + 10 %), the
//! longest log line bounded, memory bounded (a run of 40 minutes or more: the anonymous part of
//! RSS over the last 30 minutes within ±10 % of minute 10, and descriptors never above the first
//! ten minutes' maximum + 10 %; a short run: RSS within 1.5× of minute 1).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alemtuzumab_cds::fhir::client::fill_template;
use alemtuzumab_cds::services::PrefetchTemplates;
use serde_json::{json, Value};

use crate::fhir_fetch::{hook_kind, patient_id};
use crate::helpers::{binary, fixture_hook, fixture_hook_names, read_json, repo, service_for};
use crate::reliability::{fds, rss_kib};

/// The pause at the end of each soak minute before descriptors are counted: longer than the
/// client's `pool_idle_timeout` (2 s) and its idle-connection sweep.
const SETTLE: Duration = Duration::from_secs(5);

/// Hook slots of the soaked service (the overload phase runs three times as many calls), unless
/// `SOAK_SLOTS` says otherwise.
const SLOTS: usize = 16;

/// The hook slots of this run: `SOAK_SLOTS`, or [`SLOTS`].
fn slots() -> usize {
    std::env::var("SOAK_SLOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(SLOTS)
}

/// `SOAK_MIX=prefetch`: only calls that carry their prefetch (the fixtures and the Sandbox's
/// captured calls, with feedback posts), no FHIR-fetch call. The overload figure of the full mix
/// measures hfs (the FHIR-fetch calls queue on it, a debug build, already the bottleneck at half
/// load); this one measures the service's own shedding (README §Operations).
fn prefetch_only() -> bool {
    std::env::var("SOAK_MIX").is_ok_and(|m| m == "prefetch")
}

/// The service as a child process; stdout and stderr are read line by line and only their
/// count and longest length kept (an hour of `info` lines would not fit in the test's memory).
struct Soaked {
    child: Child,
    port: u16,
    longest_line: Arc<AtomicUsize>,
    lines: Arc<AtomicU64>,
}

impl Soaked {
    fn start(data_dir: &Path, slots: usize) -> Soaked {
        let mut cmd = binary();
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .env("ALEMTUZUMAB_CDS__LOG__FORMAT", "json")
            .env("ALEMTUZUMAB_CDS__LOG__LEVEL", "info")
            .env("ALEMTUZUMAB_CDS__SERVER__FIXED_TODAY", "2026-11-25")
            .env(
                "ALEMTUZUMAB_CDS__SERVER__MAX_CONCURRENT_HOOKS",
                slots.to_string(),
            )
            .env("ALEMTUZUMAB_CDS__SERVER__WORKERS", "2")
            .env("ALEMTUZUMAB_CDS__FHIR__MAX_PAGES", "200")
            .env("ALEMTUZUMAB_CDS__FHIR__DEADLINE_MS", "10000")
            .env("ALEMTUZUMAB_CDS__STORE__DATA_DIR", data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the binary starts");
        let longest_line = Arc::new(AtomicUsize::new(0));
        let lines = Arc::new(AtomicU64::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipes: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for pipe in pipes {
            let (longest, count, tx) = (longest_line.clone(), lines.clone(), tx.clone());
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    longest.fetch_max(line.len(), Ordering::Relaxed);
                    count.fetch_add(1, Ordering::Relaxed);
                    if line.contains("alemtuzumab-cds listening") {
                        let port = serde_json::from_str::<Value>(&line)
                            .ok()
                            .and_then(|v| v["port"].as_u64())
                            .and_then(|p| u16::try_from(p).ok());
                        if let Some(p) = port {
                            let _ = tx.send(p);
                        }
                    }
                }
            });
        }
        let port = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the service logs its port");
        // `SOAK_SERVICE_CPUS` (`scripts/soak` with `SOAK_PIN=1`): the service's threads on these
        // cores, the load generator (this process) on the others, as `scripts/bench` does, so the
        // client's own work does not count in the service's latency.
        if let Ok(cpus) = std::env::var("SOAK_SERVICE_CPUS") {
            let pinned = std::process::Command::new("taskset")
                .args(["-a", "-cp", &cpus, &child.id().to_string()])
                .stdout(Stdio::null())
                .status()
                .expect("taskset runs");
            assert!(pinned.success(), "taskset could not pin the service");
        }
        Soaked {
            child,
            port,
            longest_line,
            lines,
        }
    }
}

impl Drop for Soaked {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hook call's body serialized once, split around its `hookInstance`: each call copies it
/// with a new uuid in between. Re-serializing a 39 KB `Value` for every call (thousands a second
/// at overload, most of them refused) cost the load generator CPU that the service, on the same
/// cores, then lacked.
#[derive(Clone)]
struct Body {
    before: String,
    after: String,
}

impl Body {
    fn of(mut v: Value) -> Body {
        const MARK: &str = "soak-hook-instance-placeholder";
        v["hookInstance"] = json!(MARK);
        let text = v.to_string();
        let (before, after) = text.split_once(MARK).expect("the mark is in the body");
        Body {
            before: before.to_owned(),
            after: after.to_owned(),
        }
    }

    fn with(&self, hook_instance: &str) -> String {
        [self.before.as_str(), hook_instance, self.after.as_str()].concat()
    }
}

/// One call of the mix.
#[derive(Clone)]
enum Call {
    Hook(String, Body),
    /// A feedback overriding the last card seen.
    Feedback,
}

/// The mix: every fixture, the Sandbox's captured POSTs, every fixture's patient fetched from
/// hfs (no prefetch; not with `prefetch_only`), a few with `_count=1` first pages (the service
/// follows `next`), and one feedback every ten calls.
async fn mix(prefetch_only: bool) -> Vec<Call> {
    let mut calls = Vec::new();
    for name in fixture_hook_names() {
        let v = fixture_hook(&name);
        calls.push(Call::Hook(
            format!("/cds-services/{}", service_for(&v)),
            Body::of(v),
        ));
    }
    let captured = read_json(repo().join(crate::real_client::SANDBOX_REQUESTS));
    for r in captured["requests"].as_array().into_iter().flatten() {
        let (Some(path), Some(body)) = (r["path"].as_str(), r.get("body")) else {
            continue;
        };
        if r["method"] == "POST" && !path.ends_with("/feedback") {
            calls.push(Call::Hook(
                path.replace("/example-", "/alemtuzumab-"),
                Body::of(body.clone()),
            ));
        }
    }
    let from_hfs = if prefetch_only {
        Vec::new()
    } else {
        fixture_hook_names()
    };
    let hfs = if from_hfs.is_empty() {
        None
    } else {
        Some(crate::fhir_server::hfs().await)
    };
    let templates = PrefetchTemplates::default();
    for (i, name) in from_hfs.iter().enumerate() {
        let Some(hfs) = hfs else { break };
        let mut v = fixture_hook(name);
        v["fhirServer"] = json!(hfs.base);
        if i % 4 == 0 {
            // First pages only: the service reads the rest by following `next` on hfs.
            let patient = patient_id(&v);
            let mut prefetch = v["prefetch"].clone();
            for t in templates
                .for_hook(hook_kind(&v))
                .filter(|t| t.key != "patient")
            {
                let page = hfs
                    .get(&format!("{}&_count=1", fill_template(&t.query, &patient)))
                    .await;
                prefetch[t.key] = page;
            }
            v["prefetch"] = prefetch;
        } else {
            v.as_object_mut().unwrap().remove("prefetch");
        }
        calls.push(Call::Hook(
            format!("/cds-services/{}", service_for(&v)),
            Body::of(v),
        ));
    }
    let n = calls.len();
    let mut with_feedback = Vec::with_capacity(n + n / 9);
    for (i, c) in calls.into_iter().enumerate() {
        with_feedback.push(c);
        if i % 9 == 8 {
            with_feedback.push(Call::Feedback);
        }
    }
    with_feedback
}

/// What one minute (or one phase) saw.
#[derive(Default)]
struct Window {
    /// The admitted hook calls.
    hook_us: Vec<u64>,
    /// The admitted feedback posts alone (each writes to the store before it is answered).
    feedback_us: Vec<u64>,
    /// Answers other than 2xx/4xx (and not an overload 503), and dropped connections.
    errors: u64,
    /// `503` answers (refused at the hook slots).
    refused: u64,
    /// Calls the open loop could not send: 256 already in flight (the load generator fell behind
    /// on a shared machine; nothing was sent, so nothing was lost by the service).
    behind: u64,
    /// What the first errors were (status or transport error), for the failure message.
    examples: Vec<String>,
}

impl Window {
    /// Calls admitted: hook calls and feedback posts.
    fn admitted(&self) -> usize {
        self.hook_us.len() + self.feedback_us.len()
    }

    /// Over every admitted call.
    fn quantile_ms(&self, q: f64) -> f64 {
        quantile_ms(
            &mut [self.hook_us.as_slice(), &self.feedback_us].concat(),
            q,
        )
    }

    fn hook_quantile_ms(&mut self, q: f64) -> f64 {
        quantile_ms(&mut self.hook_us, q)
    }

    fn feedback_quantile_ms(&mut self, q: f64) -> f64 {
        quantile_ms(&mut self.feedback_us, q)
    }
}

fn quantile_ms(latencies_us: &mut [u64], q: f64) -> f64 {
    if latencies_us.is_empty() {
        return 0.0;
    }
    latencies_us.sort_unstable();
    let i = ((latencies_us.len() as f64 - 1.0) * q).round() as usize;
    latencies_us[i] as f64 / 1000.0
}

struct Driver {
    client: reqwest::Client,
    base: String,
    calls: Vec<Call>,
    next: AtomicUsize,
    last_card: Mutex<Option<(String, String)>>,
    window: Mutex<Window>,
}

impl Driver {
    /// Sends the next call of the mix; records its latency if admitted.
    async fn one(&self) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.calls.len();
        let (path, body) = match &self.calls[i] {
            Call::Hook(path, body) => (path.clone(), body.with(&uuid::Uuid::new_v4().to_string())),
            Call::Feedback => {
                let last = self.last_card.lock().unwrap().clone();
                let Some((service, card)) = last else { return };
                let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                (
                    format!("/cds-services/{service}/feedback"),
                    json!({"feedback": [{"card": card, "outcome": "overridden",
                        "outcomeTimestamp": now, "overrideReason": {"reason": {
                        "system": "urn:alemtuzumab-cds:override-reason",
                        "code": "other-documented"}}}]})
                    .to_string(),
                )
            }
        };
        let started = Instant::now();
        let sent = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await;
        let outcome = match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                match r.bytes().await {
                    Ok(bytes) => Ok((status, bytes)),
                    Err(e) => Err(format!("{path}: body cut ({e})")),
                }
            }
            Err(e) => Err(format!("{path}: {e}")),
        };
        let elapsed = started.elapsed();
        let mut w = self.window.lock().unwrap();
        match outcome {
            Ok((503, _)) => w.refused += 1,
            Ok((status, bytes)) if status < 500 => {
                if path.ends_with("/feedback") {
                    w.feedback_us.push(elapsed.as_micros() as u64);
                } else {
                    w.hook_us.push(elapsed.as_micros() as u64);
                }
                drop(w);
                if status == 200 && !path.ends_with("/feedback") {
                    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    if let Some(card) = v["cards"][0]["uuid"].as_str() {
                        let service = path.trim_start_matches("/cds-services/").to_owned();
                        *self.last_card.lock().unwrap() = Some((service, card.to_owned()));
                    }
                }
            }
            Ok((status, bytes)) => {
                w.errors += 1;
                if w.examples.len() < 5 {
                    let text = String::from_utf8_lossy(&bytes)
                        .chars()
                        .take(200)
                        .collect::<String>();
                    w.examples.push(format!("{path}: {status} {text}"));
                }
            }
            Err(e) => {
                w.errors += 1;
                if w.examples.len() < 5 {
                    w.examples.push(e);
                }
            }
        }
    }

    fn take(&self) -> Window {
        std::mem::take(&mut *self.window.lock().unwrap())
    }
}

/// Closed loop: `concurrency` callers, each sending its next call when the last is answered.
async fn closed_loop(driver: &Arc<Driver>, concurrency: usize, for_how_long: Duration) -> u64 {
    let until = Instant::now() + for_how_long;
    let done = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (driver, done) = (driver.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    driver.one().await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed)
}

/// Open loop at `rate` calls per second for `for_how_long`, at most 256 in flight (beyond, the
/// call is not sent and counted in [`Window::behind`], reported with each minute: on a shared
/// 2-core machine the load generator and the rest of the suite compete with the service).
async fn open_loop(driver: &Arc<Driver>, rate: f64, for_how_long: Duration) {
    let until = Instant::now() + for_how_long;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(256));
    while Instant::now() < until {
        tick.tick().await;
        match in_flight.clone().try_acquire_owned() {
            Ok(permit) => {
                let driver = driver.clone();
                tokio::spawn(async move {
                    driver.one().await;
                    drop(permit);
                });
            }
            Err(_) => driver.window.lock().unwrap().behind += 1,
        }
    }
    // Let the calls in flight end (bounded).
    let _ = tokio::time::timeout(Duration::from_secs(60), in_flight.acquire_many(256)).await;
}

#[derive(Debug, Clone)]
struct Sample {
    minute: u64,
    calls: usize,
    errors: u64,
    /// `503` at the hook slots: answered, not lost (a shared machine can fall below half load).
    refused: u64,
    /// Calls not sent: the load generator fell behind (see [`Window::behind`]).
    behind: u64,
    examples: Vec<String>,
    p50_ms: f64,
    p99_ms: f64,
    /// p99 of the hook calls alone.
    hook_p99_ms: f64,
    /// p99 of the feedback posts alone (each commits to the store before it is answered).
    feedback_p99_ms: f64,
    rss_kib: u64,
    /// The anonymous part of RSS (heap, stacks): what a leak grows. The rest of RSS is the
    /// binary's pages, which the kernel drops under other processes' memory pressure and reads
    /// back later (the first 60-minute run moved RSS 40 -> 50 MiB that way with the anonymous
    /// part flat at 29-30 MiB).
    anon_kib: u64,
    fds: usize,
    wal_bytes: u64,
    longest_log_line: usize,
}

fn anon_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("RssAnon")
}

fn wal_bytes(data_dir: &Path) -> u64 {
    std::fs::metadata(data_dir.join("alemtuzumab-cds.db-wal"))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// What one chart panel plots.
type Panel = fn(&Sample) -> f64;

/// A six-panel line chart (RSS, its anonymous part, fds, WAL, p99, calls refused, by minute)
/// as SVG.
fn svg(samples: &[Sample]) -> String {
    let panels: [(&str, Panel); 6] = [
        ("RSS (MiB)", |s| s.rss_kib as f64 / 1024.0),
        ("anonymous RSS (MiB)", |s| s.anon_kib as f64 / 1024.0),
        ("open fds", |s| s.fds as f64),
        ("SQLite WAL (MiB)", |s| s.wal_bytes as f64 / 1048576.0),
        ("p99 (ms)", |s| s.p99_ms),
        ("refused with 503 (calls)", |s| s.refused as f64),
    ];
    let (w, h, pad) = (420.0, 220.0, 40.0);
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="11">"#,
        2.0 * w,
        3.0 * h
    );
    let last_minute = samples.last().map_or(1, |s| s.minute.max(1)) as f64;
    for (i, (title, value)) in panels.iter().enumerate() {
        let (x0, y0) = ((i % 2) as f64 * w, (i / 2) as f64 * h);
        let max = samples.iter().map(value).fold(0.0_f64, f64::max).max(1e-9) * 1.1;
        let points: Vec<String> = samples
            .iter()
            .map(|s| {
                let x = x0 + pad + (s.minute as f64 / last_minute) * (w - 2.0 * pad);
                let y = y0 + h - pad - (value(s) / max) * (h - 2.0 * pad);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        out.push_str(&format!(
            r##"<text x="{:.1}" y="{:.1}">{title} (max {:.1})</text><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#999"/><polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{}"/><text x="{:.1}" y="{:.1}">0</text><text x="{:.1}" y="{:.1}">minute {}</text>"##,
            x0 + pad,
            y0 + pad - 8.0,
            max / 1.1,
            x0 + pad,
            y0 + pad,
            w - 2.0 * pad,
            h - 2.0 * pad,
            points.join(" "),
            x0 + pad - 12.0,
            y0 + h - pad,
            x0 + w - pad - 50.0,
            y0 + h - pad + 14.0,
            last_minute
        ));
    }
    out.push_str("</svg>\n");
    out
}

#[cfg_attr(
    skip_real_servers,
    ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS: needs hfs"
)]
#[test]
fn soak_at_half_capacity_keeps_memory_descriptors_and_log_lines_flat() {
    let minutes: u64 = std::env::var("SOAK_MINUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
        .max(1);
    let out = std::env::var_os("SOAK_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("alemtuzumab-cds-soak"));
    std::fs::create_dir_all(&out).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let slots = slots();
    let served = Soaked::start(data.path(), slots);
    let pid = served.child.id();
    let calls = rt.block_on(mix(prefetch_only()));
    let driver = Arc::new(Driver {
        // Idle connections are dropped before the service's keep-alive (actix: 5 s) closes them:
        // reusing one the server is closing at that instant fails the request ("error sending
        // request"), the keep-alive race every HTTP/1.1 client must stay clear of, not a fault
        // of the service (seen once in ~6 000 calls).
        client: reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
        base: format!("http://127.0.0.1:{}", served.port),
        calls,
        next: AtomicUsize::new(0),
        last_card: Mutex::new(None),
        window: Mutex::new(Window::default()),
    });
    let short = minutes < 40;
    let measure = Duration::from_secs(if short { 10 } else { 30 });

    // 1. Capacity.
    let done = rt.block_on(closed_loop(&driver, slots, measure));
    let capacity_window = driver.take();
    assert_eq!(
        capacity_window.errors, 0,
        "calls failed while measuring capacity"
    );
    let capacity = done as f64 / measure.as_secs_f64();
    let rate = (capacity / 2.0).max(1.0);
    eprintln!("soak: capacity {capacity:.0} calls/s; soaking at {rate:.0}/s for {minutes} min");

    // 2. The soak, one sample a minute.
    let mut samples: Vec<Sample> = Vec::new();
    let mut half_load = Window::default();
    for minute in 1..=minutes {
        rt.block_on(open_loop(&driver, rate, Duration::from_secs(60) - SETTLE));
        let mut w = driver.take();
        // The descriptors are counted once the client's idle connections have closed: a burst
        // opens connections that are gone a few seconds later, a leak stays.
        std::thread::sleep(SETTLE);
        let sample = Sample {
            minute,
            calls: w.admitted(),
            errors: w.errors,
            refused: w.refused,
            behind: w.behind,
            examples: std::mem::take(&mut w.examples),
            p50_ms: w.quantile_ms(0.50),
            p99_ms: w.quantile_ms(0.99),
            hook_p99_ms: w.hook_quantile_ms(0.99),
            feedback_p99_ms: w.feedback_quantile_ms(0.99),
            rss_kib: rss_kib(pid),
            anon_kib: anon_kib(pid),
            fds: fds(pid),
            wal_bytes: wal_bytes(data.path()),
            longest_log_line: served.longest_line.swap(0, Ordering::Relaxed),
        };
        eprintln!("soak: {sample:?}");
        half_load.hook_us.extend(w.hook_us);
        half_load.feedback_us.extend(w.feedback_us);
        samples.push(sample);
    }
    let p99_half = half_load.quantile_ms(0.99);

    let p99_half_hooks = half_load.hook_quantile_ms(0.99);
    let p99_half_feedback = half_load.feedback_quantile_ms(0.99);

    // 3. Overload at three times the capacity: an open loop sending three times the calls per
    // second that the slots answer (far more in flight than there are slots; most refused).
    rt.block_on(open_loop(&driver, 3.0 * capacity, measure));
    let mut overload = driver.take();
    let overload_admitted = overload.admitted();
    let overload_sent = overload_admitted as u64 + overload.refused + overload.errors;
    let p99_overload = overload.quantile_ms(0.99);
    let p99_overload_hooks = overload.hook_quantile_ms(0.99);
    let p99_overload_feedback = overload.feedback_quantile_ms(0.99);
    let overload_rss = rss_kib(pid);
    // Then the worst client: three times the slots in a closed loop, each refused call sent
    // again at once, ignoring `Retry-After` (calls per second limited only by how fast the
    // service refuses).
    rt.block_on(closed_loop(&driver, 3 * slots, measure));
    let mut hammer = driver.take();
    let hammer_admitted = hammer.admitted();
    let p99_hammer = hammer.quantile_ms(0.99);
    let p99_hammer_hooks = hammer.hook_quantile_ms(0.99);
    let p99_hammer_feedback = hammer.feedback_quantile_ms(0.99);
    let hammer_rss = rss_kib(pid);

    // 4. Recovery at half capacity.
    rt.block_on(open_loop(&driver, rate, measure));
    let recovery = driver.take();
    let p99_recovery = recovery.quantile_ms(0.99);
    let after = (rss_kib(pid), fds(pid));
    let alive = rt.block_on(async {
        driver
            .client
            .get(format!("{}/healthz", driver.base))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });

    // Written before asserting, so a failing run leaves its figures.
    let mut csv = String::from(
        "minute,calls,errors,refused,behind,p50_ms,p99_ms,hook_p99_ms,feedback_p99_ms,rss_kib,anon_kib,fds,wal_bytes,longest_log_line\n",
    );
    for s in &samples {
        csv.push_str(&format!(
            "{},{},{},{},{},{:.2},{:.2},{:.2},{:.2},{},{},{},{},{}\n",
            s.minute,
            s.calls,
            s.errors,
            s.refused,
            s.behind,
            s.p50_ms,
            s.p99_ms,
            s.hook_p99_ms,
            s.feedback_p99_ms,
            s.rss_kib,
            s.anon_kib,
            s.fds,
            s.wal_bytes,
            s.longest_log_line
        ));
    }
    std::fs::write(out.join("soak.csv"), csv).unwrap();
    std::fs::write(out.join("soak.svg"), svg(&samples)).unwrap();
    let ratio = |p99: f64| if p99_half > 0.0 { p99 / p99_half } else { 0.0 };
    let secs = measure.as_secs_f64();
    let summary = format!(
        "mix: {}\n\
         capacity: {capacity:.0} calls/s (closed loop, {slots} concurrent, p99 {:.1} ms)\n\
         soak: {minutes} min at {rate:.0} calls/s, {} calls, p99 {p99_half:.1} ms \
         (hook calls {p99_half_hooks:.1} ms, feedback posts {p99_half_feedback:.1} ms)\n\
         overload, 3x capacity ({slots} slots, open loop at {:.0} calls/s, {:.0} sent/s): \
         {overload_admitted} admitted, p99 of admitted {p99_overload:.1} ms ({:.2}x half load; \
         hook calls {p99_overload_hooks:.1} ms, feedback posts {p99_overload_feedback:.1} ms), {} refused with 503, {} failed, \
         {} not sent (generator behind); RSS {} MiB\n\
         overload, retrying at once ({} concurrent, closed loop, {:.0} calls/s): \
         {hammer_admitted} admitted, p99 of admitted {p99_hammer:.1} ms ({:.2}x half load; \
         hook calls {p99_hammer_hooks:.1} ms, feedback posts {p99_hammer_feedback:.1} ms), {} refused with 503, {} failed; RSS {} MiB\n\
         recovery: {} calls, p99 {p99_recovery:.1} ms, {} refused, {} failed; RSS {} MiB, fds {}\n\
         log lines: {}\n",
        if prefetch_only() {
            "prefetch only (fixtures, the Sandbox's captured calls, feedback)"
        } else {
            "every fixture, the Sandbox's captured calls, FHIR-fetch calls against hfs, feedback"
        },
        capacity_window.quantile_ms(0.99),
        half_load.admitted(),
        3.0 * capacity,
        overload_sent as f64 / secs,
        ratio(p99_overload),
        overload.refused,
        overload.errors,
        overload.behind,
        overload_rss / 1024,
        3 * slots,
        (hammer_admitted as u64 + hammer.refused + hammer.errors) as f64 / secs,
        ratio(p99_hammer),
        hammer.refused,
        hammer.errors,
        hammer_rss / 1024,
        recovery.admitted(),
        recovery.refused,
        recovery.errors,
        after.0 / 1024,
        after.1,
        served.lines.load(Ordering::Relaxed),
    );
    std::fs::write(out.join("summary.txt"), &summary).unwrap();
    eprintln!("soak: written to {}\n{summary}", out.display());

    // What was lost: nothing outside the overload phase.
    for s in &samples {
        assert_eq!(
            s.errors, 0,
            "minute {}: calls failed (a 5xx other than the slots' 503, or a dropped connection): {:?}",
            s.minute, s.examples
        );
    }
    assert_eq!(
        overload.errors, 0,
        "overload: calls failed other than with 503"
    );
    assert!(overload.refused > 0, "overload: no call was refused");
    assert_eq!(
        hammer.errors, 0,
        "overload, retrying at once: calls failed other than with 503"
    );
    assert!(
        hammer.refused > 0,
        "overload, retrying at once: no call was refused"
    );
    assert_eq!(recovery.errors, 0, "recovery: calls failed");
    assert_eq!(alive.ok(), Some(200), "the service is gone");
    // The span leak of issue 13 made lines grow without end.
    for s in &samples {
        assert!(
            s.longest_log_line < 4096,
            "minute {}: a {}-byte log line",
            s.minute,
            s.longest_log_line
        );
    }
    let within = |v: f64, reference: f64, tolerance: f64| (v - reference).abs() <= tolerance;
    if short {
        let first = &samples[0];
        for s in &samples {
            // Connections in flight come and go: a leak only grows.
            let slack = (first.fds as f64 * 0.1).max(5.0);
            assert!(
                (s.fds as f64) <= first.fds as f64 + slack,
                "fds: minute 1 {}, minute {} {}",
                first.fds,
                s.minute,
                s.fds
            );
            assert!(
                (s.rss_kib as f64) < first.rss_kib as f64 * 1.5,
                "RSS: minute 1 {} KiB, minute {} {} KiB",
                first.rss_kib,
                s.minute,
                s.rss_kib
            );
        }
    } else {
        // Memory: the anonymous part of RSS over the last 30 minutes within ±10 % of minute 10
        // (the issue's "flat"); total RSS is written, not asserted (see `Sample::anon_kib`).
        let reference = &samples[9];
        // Descriptors swing with idle keep-alive connections (inbound closed after 5 s, the
        // FHIR client's pool after 90 s) and with calls queued on a loaded machine: a leak is a
        // count that climbs past what the first ten minutes reached.
        let first_ten_max = samples.iter().take(10).map(|s| s.fds).max().unwrap_or(0);
        let fd_bound = first_ten_max as f64 + (first_ten_max as f64 * 0.1).max(5.0);
        for s in samples.iter().filter(|s| s.minute > minutes - 30) {
            assert!(
                within(
                    s.anon_kib as f64,
                    reference.anon_kib as f64,
                    reference.anon_kib as f64 * 0.1
                ),
                "anonymous RSS: minute 10 {} KiB, minute {} {} KiB",
                reference.anon_kib,
                s.minute,
                s.anon_kib
            );
            assert!(
                (s.fds as f64) <= fd_bound,
                "fds: at most {first_ten_max} in minutes 1-10, minute {} {}",
                s.minute,
                s.fds
            );
        }
    }
}
