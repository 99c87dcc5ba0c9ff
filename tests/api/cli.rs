//! The binary itself: `--version`, `--help`, `simulate`, `serve` on port 0, configuration errors.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::{binary as bin, ServedBinary};

#[test]
fn version_and_help() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("serve") && help.contains("simulate"),
        "{help}"
    );
}

#[test]
fn simulate_prints_the_cards_with_their_reasons() {
    let out = bin()
        .args([
            "simulate",
            "fixtures/hooks/naive-one-dmt--order-sign.json",
            "--now",
            "2026-11-25",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("initiation-eligibility"), "{text}");
    assert!(text.contains("critical"), "{text}");
    let lower = text.to_lowercase();
    assert!(
        lower.contains("tériflunomide") || lower.contains("teriflunomide"),
        "{text}"
    );
}

/// `--now`, `--since` and `--until` are read by clap: a bad date is a usage error naming the
/// option (exit code 2), before any configuration or store is opened.
#[test]
fn a_bad_date_option_is_a_usage_error_naming_it() {
    for args in [
        &[
            "simulate",
            "fixtures/hooks/naive-one-dmt--order-sign.json",
            "--now",
            "2026-13-01",
        ][..],
        &["report", "--since", "yesterday"][..],
        &["report", "--until", "2026-02-30"][..],
    ] {
        let out = bin().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let option = args[args.len() - 2];
        let value = args[args.len() - 1];
        assert!(
            stderr.contains(option) && stderr.contains(value),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn simulate_json_is_the_exact_response_and_env_overrides_the_profile() {
    let out = bin()
        .args([
            "simulate",
            "fixtures/hooks/naive-one-dmt--order-sign.json",
            "--now",
            "2026-11-25",
            "--json",
        ])
        .env("ALEMTUZUMAB_CDS__RULES__PROFILE", "ema-2020")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let topics: Vec<_> = v["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["source"]["topic"]["code"].as_str().unwrap().to_owned())
        .collect();
    // Under ema-2020 one DMT is enough: the order is recognised (its reminders are there) and
    // passes the initiation check (no initiation card), as fixtures/expected.json says.
    let mut sorted = topics.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["infusion-monitoring", "patient-counselling"],
        "{topics:?}"
    );
    assert!(v["cards"][0]["source"]["label"]
        .as_str()
        .unwrap()
        .contains("2020"));
}

#[test]
fn a_bad_configuration_value_stops_start_up_naming_the_key() {
    let out = bin()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("ALEMTUZUMAB_CDS__RULES__PROFILE", "ema-2042")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules.profile"), "{err}");

    let out = bin()
        .args(["serve", "--bind", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("allow_unauthenticated"));

    // HTTPS needs both files; a missing one is named.
    let out = bin()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("ALEMTUZUMAB_CDS__SERVER__TLS_CERT_FILE", "server.crt")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.tls_key_file"));
    let out = bin()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "ALEMTUZUMAB_CDS__SERVER__TLS_CERT_FILE",
            "/nonexistent/server.crt",
        )
        .env(
            "ALEMTUZUMAB_CDS__SERVER__TLS_KEY_FILE",
            "/nonexistent/server.key",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.tls_cert_file") && err.contains("/nonexistent/server.crt"),
        "{err}"
    );
}

/// A machine without CA certificates (rustls reads the system's store, or SSL_CERT_FILE /
/// SSL_CERT_DIR when set): the service refuses to start and says how to fix it, rather than
/// failing every FHIR and JWKS call later.
#[test]
fn no_ca_certificates_stops_start_up_naming_the_fix() {
    let empty = tempfile::tempdir().unwrap();
    let bundle = empty.path().join("empty.pem");
    std::fs::write(&bundle, "").unwrap();
    let out = bin()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("SSL_CERT_FILE", &bundle)
        .env("SSL_CERT_DIR", empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot build the HTTPS client for FHIR servers")
            && err.contains("ca-certificates")
            && err.contains("SSL_CERT_FILE"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn serve_on_port_0_logs_the_port_and_answers_discovery() {
    let mut cmd = bin();
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("ALEMTUZUMAB_CDS__LOG__FORMAT", "json");
    let mut served = ServedBinary::start(cmd);
    let port = served.port;
    assert!(
        served
            .lines()
            .iter()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "every log line is JSON: {:?}",
        served.lines()
    );
    let warned = served
        .log()
        .iter()
        .any(|v| v["message"].as_str().unwrap_or("").contains("local mode"));
    assert!(warned, "local mode is announced");
    let r = reqwest::get(format!("http://127.0.0.1:{port}/cds-services"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Graceful shutdown on SIGTERM.
    let child = &mut served.child;
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success() || status.code().is_none(), "{status:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Issue 13 §1: a tracing span entered across an `.await` stayed on the worker thread's span stack
/// when the hook future yielded, so every later log line of that thread carried one more `hook`
/// span (1 695 nested spans on one line after 14 000 calls). A few hundred calls through the real
/// binary at `info`, half of which wait on a FHIR server (the future yields), must leave every
/// line with at most one `hook` span.
#[tokio::test]
async fn every_log_line_holds_at_most_one_hook_span_after_hundreds_of_calls() {
    let mut cmd = bin();
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("ALEMTUZUMAB_CDS__LOG__FORMAT", "json")
        .env("ALEMTUZUMAB_CDS__LOG__LEVEL", "info")
        .env(
            "ALEMTUZUMAB_CDS__SERVER__FIXED_TODAY",
            crate::helpers::FIXTURE_TODAY,
        );
    let mut served = ServedBinary::start(cmd);
    let app = served.app();
    let with_prefetch = crate::helpers::fixture_hook("naive-one-dmt--order-sign.json");
    // No prefetch: the service asks the FHIR server (nothing listens on port 9: refused), so the
    // hook future yields while the span is current.
    let mut fetching = with_prefetch.clone();
    fetching["prefetch"] = serde_json::json!({});
    let calls = 300;
    let bodies: Vec<&serde_json::Value> = (0..calls)
        .map(|i| {
            if i % 2 == 0 {
                &with_prefetch
            } else {
                &fetching
            }
        })
        .collect();
    for chunk in bodies.chunks(8) {
        let answers = futures::future::join_all(
            chunk
                .iter()
                .map(|b| app.post_hook("alemtuzumab-order-sign", b)),
        )
        .await;
        for r in answers {
            assert_eq!(r.status(), 200);
        }
    }
    let lines = served.stop();
    let answered: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "hook answered")
        .collect();
    assert_eq!(answered.len(), calls, "one 'hook answered' line per call");
    for line in &lines {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            panic!("a log line that is not JSON: {line:.300}");
        };
        let hook_spans = v["spans"].as_array().map_or(0, |spans| {
            spans.iter().filter(|s| s["name"] == "hook").count()
        });
        assert!(hook_spans <= 1, "{hook_spans} hook spans on: {line:.300}");
    }
    // The line of a call carries its own span (hookInstance and card count).
    assert!(answered
        .iter()
        .all(|v| v["span"]["name"] == "hook" && v["span"]["cards"].as_u64().is_some()));
}
