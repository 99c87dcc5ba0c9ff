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
    // Under ema-2020 one DMT is enough.
    assert!(
        !topics.contains(&"initiation-eligibility".to_owned()),
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
