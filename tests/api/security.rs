//! CORS (the Sandbox's preflights), limits (concurrency, timeout) and log hygiene.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::auth::{claims, ec_key, header, jwks, jwks_file, sign, ISS, PUBLIC_URL};
use crate::helpers::*;

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, format!("{}{path}", app.address))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .header("Accept", "*/*")
        .send()
        .await
        .unwrap()
}

fn header_of(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_lowercase()
}

#[tokio::test]
async fn local_mode_answers_the_sandbox_preflights_from_a_loopback_origin() {
    let app = spawn_app().await;
    for (path, method) in [
        ("/cds-services", "GET"),
        ("/cds-services/alemtuzumab-patient-view", "POST"),
    ] {
        let r = preflight(&app, path, "http://127.0.0.1:8080", method).await;
        assert!(r.status().is_success(), "{path}: {}", r.status());
        assert_eq!(
            header_of(&r, "access-control-allow-origin"),
            "http://127.0.0.1:8080"
        );
        let allowed = header_of(&r, "access-control-allow-headers");
        assert!(
            allowed.contains("authorization") && allowed.contains("content-type"),
            "{allowed}"
        );
    }
    let r = preflight(&app, "/cds-services", "https://evil.example", "GET").await;
    assert_eq!(header_of(&r, "access-control-allow-origin"), "");
}

#[tokio::test]
async fn configured_origins_are_allowed_and_a_401_still_carries_cors_headers() {
    let ec = ec_key("k");
    let (_dir, file) = jwks_file(&[&ec]);
    let app = spawn_app_with(move |raw| {
        raw.server.public_url = PUBLIC_URL.to_owned();
        raw.auth.allowed_origins = vec!["https://sandbox.cds-hooks.org".to_owned()];
        raw.auth.issuers = vec![alemtuzumab_cds::config::RawIssuer {
            iss: ISS.to_owned(),
            jwks_file: file,
            ..Default::default()
        }];
    })
    .await;
    let sandbox = "https://sandbox.cds-hooks.org";
    let r = preflight(
        &app,
        "/cds-services/alemtuzumab-order-sign",
        sandbox,
        "POST",
    )
    .await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(header_of(&r, "access-control-allow-origin"), sandbox);
    // Production: a loopback origin is not allowed unless configured.
    let r = preflight(&app, "/cds-services", "http://127.0.0.1:8080", "GET").await;
    assert_eq!(header_of(&r, "access-control-allow-origin"), "");
    let r = app
        .client
        .post(format!(
            "{}/cds-services/alemtuzumab-order-sign",
            app.address
        ))
        .header("Origin", sandbox)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(header_of(&r, "access-control-allow-origin"), sandbox);
}

/// A FHIR server that accepts connections and never answers, and the count of connections it
/// has accepted (a call holding its hook slot is waiting on one of them).
async fn silent_fhir_server() -> (String, tokio::sync::watch::Receiver<usize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let (accepted, rx) = tokio::sync::watch::channel(0usize);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
            accepted.send_modify(|n| *n += 1);
        }
    });
    (base, rx)
}

fn hook_without_prefetch(fhir: &str) -> Value {
    let mut body = fixture_hook("naive-one-dmt--order-sign.json");
    body.as_object_mut().unwrap().remove("prefetch");
    body["fhirServer"] = json!(fhir);
    body
}

/// One hook slot, and FHIR requests given up after 2 s: a call waiting on the silent FHIR
/// server holds the slot that long.
fn one_slot(raw: &mut alemtuzumab_cds::config::RawSettings) {
    raw.server.max_concurrent_hooks = 1;
    raw.fhir.deadline_ms = 2_000;
}

/// Sends an order-sign call whose data must come from the silent FHIR server `fhir` (with
/// `token` as its JWT, if any) and returns once that call waits on it, holding a hook slot; the
/// handle gives its status.
async fn hold_a_slot(
    app: &TestApp,
    fhir: &str,
    accepted: &mut tokio::sync::watch::Receiver<usize>,
    token: Option<String>,
) -> tokio::task::JoinHandle<Result<u16, reqwest::Error>> {
    let mut call = app
        .client
        .post(format!(
            "{}/cds-services/alemtuzumab-order-sign",
            app.address
        ))
        .header("Content-Type", "application/json")
        .body(hook_without_prefetch(fhir).to_string());
    if let Some(token) = token {
        call = call.bearer_auth(token);
    }
    let held = tokio::spawn(async move { call.send().await.map(|r| r.status().as_u16()) });
    accepted.wait_for(|n| *n >= 1).await.unwrap();
    held
}

/// A 503 OperationOutcome whose diagnostics name `why` (src/web/limits.rs).
async fn assert_503(r: reqwest::Response, why: &str) {
    assert_eq!(r.status(), 503);
    assert_eq!(header_of(&r, "retry-after"), "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    assert_eq!(body["issue"][0]["code"], "transient", "{body}");
    assert_eq!(body["issue"][0]["diagnostics"], why, "{body}");
}

/// The value of `cds_hook_rejected_total{reason=…}` in `/metrics` (0 when absent).
async fn rejected(app: &TestApp, reason: &str) -> f64 {
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let series = format!("cds_hook_rejected_total{{reason=\"{reason}\"}}");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_call_over_the_request_timeout_gets_503() {
    let (fhir, _) = silent_fhir_server().await;
    // The FHIR deadline, far beyond the request timeout, would end in a 200 with a
    // data-unavailable card: only the request timeout answers 503 with this diagnostic.
    let app = spawn_app_with(|raw| {
        raw.server.request_timeout_ms = 300;
        raw.fhir.deadline_ms = 60_000;
    })
    .await;
    let before = rejected(&app, "timeout").await;
    let r = app
        .post_hook("alemtuzumab-order-sign", &hook_without_prefetch(&fhir))
        .await;
    assert_503(r, "the call took longer than the configured timeout").await;
    assert!(rejected(&app, "timeout").await > before, "not counted");
    // The service still answers.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn calls_beyond_max_concurrent_hooks_get_503_at_once() {
    let (fhir, mut accepted) = silent_fhir_server().await;
    let app = spawn_app_with(one_slot).await;
    // The first call holds the only slot once it is waiting on the silent FHIR server.
    let first = hold_a_slot(&app, &fhir, &mut accepted, None).await;
    let before = rejected(&app, "concurrency").await;
    let r = app
        .post_hook(
            "alemtuzumab-order-sign",
            &fixture_hook("naive-one-dmt--order-sign.json"),
        )
        .await;
    // Refused, not queued: queued behind the first, it would have been answered 200 once the
    // first call ended.
    assert_503(r, "too many calls in progress; retry shortly").await;
    assert!(rejected(&app, "concurrency").await > before, "not counted");
    assert_eq!(
        first.await.unwrap().unwrap(),
        200,
        "the first call completes"
    );
    // A slot is free again.
    let r = app
        .post_hook(
            "alemtuzumab-order-sign",
            &fixture_hook("naive-one-dmt--order-sign.json"),
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_call_refused_at_the_slots_costs_no_jwt_check() {
    // The slots are checked before the JWT: at overload a refusal must be cheap, and verifying
    // a signature for every call refused took the CPU the admitted calls needed.
    let ec = ec_key("slots");
    let (_dir, file) = jwks_file(&[&ec]);
    let (fhir, mut accepted) = silent_fhir_server().await;
    let app = spawn_app_with(move |raw| {
        raw.server.public_url = PUBLIC_URL.to_owned();
        one_slot(raw);
        raw.auth.issuers = vec![alemtuzumab_cds::config::RawIssuer {
            iss: ISS.to_owned(),
            jwks_file: file,
            ..Default::default()
        }];
    })
    .await;
    let token = sign(&ec, &header(&ec), &claims("alemtuzumab-order-sign"));
    let first = hold_a_slot(&app, &fhir, &mut accepted, Some(token)).await;
    let url = format!("{}/cds-services/alemtuzumab-order-sign", app.address);
    // A forged token: checked first, it would be a 401.
    let forged = sign(
        &ec_key("slots"),
        &header(&ec),
        &claims("alemtuzumab-order-sign"),
    );
    let r = app
        .client
        .post(&url)
        .bearer_auth(forged)
        .header("Content-Type", "application/json")
        .body(fixture_hook("naive-one-dmt--order-sign.json").to_string())
        .send()
        .await
        .unwrap();
    assert_503(r, "too many calls in progress; retry shortly").await;
    assert_eq!(
        first.await.unwrap().unwrap(),
        200,
        "the first call completes"
    );
}

/// One HTTP/1.1 answer read off `sock`: its status line and head, and its body
/// (`Content-Length`). `None` when the service closed the connection first.
async fn read_answer(sock: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some((head, buf[head_end..head_end + length].to_vec()))
}

#[tokio::test]
async fn a_call_refused_with_503_keeps_its_connection_open() {
    // actix-web closes a connection whose request body was left unread: at overload each 503
    // cost the EHR a new connection (a TLS handshake in production) and the service an accept.
    let (fhir, mut accepted) = silent_fhir_server().await;
    let app = spawn_app_with(one_slot).await;
    let first = hold_a_slot(&app, &fhir, &mut accepted, None).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut sock = tokio::net::TcpStream::connect(&host).await.unwrap();
    // A 39 KB hook call, as an EHR sends it (Content-Length), refused: the only slot is held.
    let body = fixture_hook("retreated-liver-injury--order-sign.json").to_string();
    assert!(body.len() > 16 * 1024, "a body larger than one read");
    let call = format!(
        "POST /cds-services/alemtuzumab-order-sign HTTP/1.1\r\nHost: {host}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(call.as_bytes()).await.unwrap();
    let (head, answer) = read_answer(&mut sock)
        .await
        .expect("an answer to the refused call");
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("retry-after: 1"), "{head}");
    let outcome: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert!(!head.contains("connection: close"), "{head}");
    // The next call goes on the same connection.
    let next = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
    sock.write_all(next.as_bytes()).await.unwrap();
    let (head, _) = read_answer(&mut sock)
        .await
        .expect("the service closed the connection after its 503");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(
        first.await.unwrap().unwrap(),
        200,
        "the first call completes"
    );
}

/// A FHIR server answering every search with a Bundle holding `patient`.
async fn fhir_server_with(patient: Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let patient = patient.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 2048];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf);
                let body = if head.contains("GET /fhir/Patient/") {
                    patient.to_string()
                } else {
                    json!({"resourceType": "Bundle", "type": "searchset", "entry": []}).to_string()
                };
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    base
}

#[tokio::test]
async fn no_token_patient_name_or_birth_date_reaches_the_log_at_trace_level() {
    const FAMILY: &str = "Zyqvaldorf";
    const GIVEN: &str = "Quillimane";
    const BIRTH: &str = "1977-03-14";
    const ACCESS: &str = "access-token-5f9a2c7e";
    let ec = ec_key("log-key");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwks.json"), jwks(&[&ec])).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1:0\"\npublic_url = \"{PUBLIC_URL}\"\nfixed_today = \"{FIXTURE_TODAY}\"\n\
             [log]\nformat = \"json\"\nlevel = \"trace\"\n\
             [[auth.issuers]]\niss = \"{ISS}\"\njwks_file = \"jwks.json\"\n"
        ),
    )
    .unwrap();
    let mut cmd = binary();
    cmd.args(["serve", "--config"]).arg(&config);
    let mut served = ServedBinary::start(cmd);
    let port = served.port;
    let patient = json!({
        "resourceType": "Patient", "id": "p02-patient",
        "name": [{"use": "official", "family": FAMILY, "given": [GIVEN]}],
        "gender": "male", "birthDate": BIRTH,
    });
    let mut with_prefetch = fixture_hook("naive-one-dmt--order-sign.json");
    with_prefetch["prefetch"]["patient"] = patient.clone();
    with_prefetch["fhirAuthorization"]["access_token"] = json!(ACCESS);
    let mut fetched = hook_without_prefetch(&fhir_server_with(patient).await);
    fetched["fhirAuthorization"]["access_token"] = json!(ACCESS);
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/cds-services/alemtuzumab-order-sign");
    let mut tokens = Vec::new();
    for body in [&with_prefetch, &fetched] {
        let token = sign(&ec, &header(&ec), &claims("alemtuzumab-order-sign"));
        let r = client
            .post(&url)
            .bearer_auth(&token)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // Replayed: refused, and the refusal is logged without the token.
        let r = client
            .post(&url)
            .bearer_auth(&token)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        tokens.push(token);
    }
    let forged = format!("{}x", tokens[0]);
    let r = client
        .post(&url)
        .bearer_auth(&forged)
        .json(&with_prefetch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Wait (bounded) for the lines of every call above (two answers, three refusals), then stop
    // and drain both pipes: every line the process wrote is then read.
    for _ in 0..300 {
        let lines = served.lines();
        let count = |what: &str| lines.iter().filter(|l| l.contains(what)).count();
        if count("hook answered") >= 2 && count("unauthorized call refused") >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = served.stop();
    let text = log.join("\n");
    assert!(text.contains("hook answered"), "trace log captured: {text}");
    assert!(text.contains("unauthorized call refused"), "{text}");
    let mut secrets = vec![
        FAMILY.to_owned(),
        GIVEN.to_owned(),
        BIRTH.to_owned(),
        ACCESS.to_owned(),
    ];
    for t in &tokens {
        secrets.push(t.clone());
        // Any of the three parts (the signature alone is a secret-ish value too).
        secrets.extend(t.split('.').map(str::to_owned));
    }
    for secret in secrets {
        assert!(
            !text.contains(&secret),
            "`{secret}` is in the log:\n{}",
            log.iter()
                .filter(|l| l.contains(&secret))
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
