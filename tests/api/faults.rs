//! FHIR faults injected by the fault-injecting proxy (`fhir_proxy.rs`): every one is a visible
//! `data-unavailable` card giving that fault as its reason, never a 500; a server that does not
//! answer is cut at the deadline (the proxy sees the service hang up); 412 exactly per
//! docs/wire-contract.md §Errors; the bearer token on every request and in no log line; a 401/403 logged
//! as an authorization problem; the response size cap; redirects and `next` links kept under the
//! base, never followed twice. No assertion on how long anything took (README §Tests).
//!
//! What is real here: the service (in-process, or its binary), its HTTP client, and hfs behind
//! the proxy for the requests the proxy forwards (the healthy half of each test, the requests
//! before a fault, the reads under `next`-link faults, redirect targets). The faults themselves
//! (a status, an HTML page, a closed connection, an endless `next` chain, a hung answer) are
//! produced by the proxy: they never reach hfs, which cannot be made to fail on demand. Tests
//! whose every request is answered by a fault run with or without hfs; those that need its data
//! are marked ignored with ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS.

use std::time::Duration;

use alemtuzumab_cds::cards::text::for_language;
use alemtuzumab_cds::cards::Language;
use alemtuzumab_cds::rules::GapReason;

use serde_json::{json, Value};

use crate::fhir_fetch::{card_texts, pointed_at};
use crate::fhir_proxy::{Behaviour, FhirProxy};
use crate::fhir_server::free_port;
use crate::helpers::*;

const DEADLINE_MS: u64 = 1000;

/// An alemtuzumab order (coded inline) with nothing prefetched: everything must come from the
/// server.
fn order_without_prefetch(fhir_server: &str) -> Value {
    let mut r = pointed_at("naive-eligible-two-dmts--order-sign.json", fhir_server);
    r.as_object_mut().unwrap().remove("prefetch");
    r
}

/// The upstream for proxies that forward: hfs (required, like every real-FHIR-server test), or
/// nothing (the proxies answer 502) when ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS (build.rs) is set.
async fn upstream() -> Option<String> {
    if cfg!(skip_real_servers) {
        None
    } else {
        Some(crate::fhir_server::hfs().await.base.clone())
    }
}

async fn faulty_app() -> TestApp {
    spawn_app_with(|raw| {
        raw.fhir.deadline_ms = DEADLINE_MS;
        raw.fhir.max_pages = 5;
    })
    .await
}

/// The reason line a `data-unavailable` card gives for `reason`, in the service's own words
/// (French, the default `rules.language`). A text carried by `reason` is given as the card shows
/// it (markdown-escaped).
fn reason_line(reason: &GapReason) -> String {
    let text = match reason {
        GapReason::OperationOutcome(s)
        | GapReason::Unreadable(s)
        | GapReason::ServerNotAllowed(s) => s.as_str(),
        _ => "",
    };
    for_language(Language::Fr).gap_reason(reason, text)
}

/// 200, a `data-unavailable` warning naming `reason`, and the reminders.
async fn assert_could_not_check(
    app: &TestApp,
    request: &Value,
    what: &str,
    reason: &GapReason,
) -> Value {
    let body = assert_some_could_not_check(app, request, what).await;
    let want = reason_line(reason);
    let details: Vec<String> = card_texts(&body)
        .into_iter()
        .filter(|c| c.0 == "data-unavailable")
        .map(|c| c.3)
        .collect();
    assert!(
        details.iter().any(|d| d.contains(&want)),
        "{what}: no data-unavailable card says {want:?}: {details:#?}"
    );
    body
}

/// 200 with a `data-unavailable` warning and the reminders, whatever the reason given (for
/// refusals whose reason names a URL the test does not spell).
async fn assert_some_could_not_check(app: &TestApp, request: &Value, what: &str) -> Value {
    let r = app.post_hook(service_for(request), request).await;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{what}: {body}");
    assert_valid_response(&body, request);
    let t = topics(&body);
    assert!(
        t.contains(&("data-unavailable".into(), "warning".into())),
        "{what}: {t:?}"
    );
    assert!(
        t.contains(&("infusion-monitoring".into(), "info".into())),
        "{what}: {t:?}"
    );
    assert!(
        t.contains(&("patient-counselling".into(), "info".into())),
        "{what}: {t:?}"
    );
    body
}

#[tokio::test]
async fn every_fhir_fault_is_a_data_unavailable_card_giving_its_reason() {
    let app = faulty_app().await;
    let upstream = upstream().await;
    let faults = [
        (
            "delay past the deadline",
            // Far past the deadline: a service that waited would get the data and no card.
            Behaviour::Delay(Duration::from_secs(60)),
            GapReason::Timeout,
        ),
        ("500", Behaviour::Status(500), GapReason::HttpStatus(500)),
        (
            "404 OperationOutcome",
            Behaviour::Status(404),
            GapReason::HttpStatus(404),
        ),
        ("HTML body", Behaviour::Html, GapReason::NotFhirJson),
        (
            "endless next chain",
            Behaviour::EndlessNext,
            GapReason::PageLimit(5),
        ),
        (
            "closes the connection",
            Behaviour::Close,
            GapReason::Unreachable,
        ),
        ("401", Behaviour::Status(401), GapReason::HttpStatus(401)),
        ("403", Behaviour::Status(403), GapReason::HttpStatus(403)),
    ];
    for (what, behaviour, reason) in faults {
        let proxy = FhirProxy::start(upstream.as_deref()).await;
        proxy.set(behaviour.clone());
        let request = order_without_prefetch(&proxy.base);
        assert_could_not_check(&app, &request, what, &reason).await;
        assert!(
            !proxy.requests().is_empty(),
            "{what}: the server was not asked"
        );
        if matches!(behaviour, Behaviour::Delay(_)) {
            // The service did not wait for the hung server: it cut every request it had made.
            let made = proxy.requests().len();
            assert_eq!(proxy.wait_hung_up(made).await, made, "{what}: not cut");
        }
        if behaviour == Behaviour::EndlessNext {
            let searches = proxy
                .requests()
                .iter()
                .filter(|r| r.target.contains("_page="))
                .count();
            assert!(searches > 0, "{what}: the next links were not followed");
            // At most `max_pages` pages per search (7 searches of order-sign with `allergies`,
            // plus the Patient read).
            assert!(
                proxy.requests().len() <= 7 * 5 + 1,
                "{what}: {}",
                proxy.requests().len()
            );
        }
    }
}

#[tokio::test]
async fn connection_refused_is_a_data_unavailable_card() {
    let app = faulty_app().await;
    let request = order_without_prefetch(&format!("http://127.0.0.1:{}/fhir", free_port()));
    assert_could_not_check(
        &app,
        &request,
        "connection refused",
        &GapReason::Unreachable,
    )
    .await;
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_not_followed() {
    let app = faulty_app().await;
    let elsewhere = FhirProxy::start(None).await;
    let proxy = FhirProxy::start(upstream().await.as_deref()).await;
    proxy.set(Behaviour::NextTo(format!(
        "{}/Condition?page=2",
        elsewhere.base
    )));
    let request = order_without_prefetch(&proxy.base);
    assert_could_not_check(
        &app,
        &request,
        "next to another origin",
        &GapReason::BadNextLink,
    )
    .await;
    assert_eq!(elsewhere.connections(), 0, "the other origin was contacted");

    // The same for a `next` link in a prefetched first page.
    let mut request = pointed_at("naive-eligible-two-dmts--order-sign.json", &proxy.base);
    proxy.set(Behaviour::Forward);
    request["prefetch"]["conditions"]["link"] =
        json!([{"relation": "next", "url": format!("{}/Condition?page=2", elsewhere.base)}]);
    assert_could_not_check(
        &app,
        &request,
        "prefetched next to another origin",
        &GapReason::BadNextLink,
    )
    .await;
    assert_eq!(elsewhere.connections(), 0, "the other origin was contacted");
}

/// Issue 17 item 5: the base path of `fhirServer` is a boundary for every request, not only the
/// first: `next` links (prefetched or from the server), redirects and `medicationReference`
/// reads that lead elsewhere on the same origin (`../admin`, `/admin`, encoded separators) are
/// not sent, so the token never leaves the base.
#[tokio::test]
async fn no_request_leaves_the_fhir_server_base_path() {
    let app = faulty_app().await;
    let proxy = FhirProxy::start(upstream().await.as_deref()).await;
    let origin = proxy
        .base
        .trim_end_matches(crate::fhir_proxy::BASE_PATH)
        .to_owned();
    let outside = [
        "../admin/Condition?page=2".to_owned(),
        "/admin/Condition?page=2".to_owned(),
        format!("{origin}/admin/Condition?page=2"),
        format!("{}/../admin/Condition?page=2", proxy.base),
        "Condition%2F..%2F..%2Fadmin?page=2".to_owned(),
        "Condition%5C..%5C..%5Cadmin?page=2".to_owned(),
    ];
    // A prefetched first page whose `next` link leads out of the base.
    for next in &outside {
        let mut request = pointed_at("naive-eligible-two-dmts--order-sign.json", &proxy.base);
        request["prefetch"]["conditions"]["link"] = json!([{"relation": "next", "url": next}]);
        assert_could_not_check(
            &app,
            &request,
            &format!("prefetched next {next}"),
            &GapReason::BadNextLink,
        )
        .await;
    }
    // A server's `next` link out of the base.
    for next in &outside {
        proxy.set(Behaviour::NextTo(next.clone()));
        let request = order_without_prefetch(&proxy.base);
        assert_could_not_check(
            &app,
            &request,
            &format!("next {next}"),
            &GapReason::BadNextLink,
        )
        .await;
    }
    // A redirect out of the base (same origin).
    proxy.set(Behaviour::RedirectTo("/admin/".to_owned()));
    let request = order_without_prefetch(&proxy.base);
    assert_some_could_not_check(&app, &request, "redirect to /admin/").await;
    // A draft order's `medicationReference` out of the base.
    proxy.set(Behaviour::Forward);
    for reference in [
        "../admin/Medication/m1",
        "../../admin/Medication/m1",
        "Medication%2F..%2F..%2Fadmin",
    ] {
        let mut request = pointed_at("naive-eligible-two-dmts--order-sign.json", &proxy.base);
        let order = &mut request["context"]["draftOrders"]["entry"][0]["resource"];
        order
            .as_object_mut()
            .unwrap()
            .remove("medicationCodeableConcept");
        order["medicationReference"] = json!({"reference": reference, "display": "Lemtrada 12 mg"});
        assert_some_could_not_check(&app, &request, &format!("medicationReference {reference}"))
            .await;
    }
    let requests = proxy.requests();
    assert!(!requests.is_empty(), "the server was never asked");
    for r in &requests {
        let path = r.path.split('?').next().unwrap_or("");
        let lower = path.to_ascii_lowercase();
        assert!(
            path.starts_with("/fhir/r4/") && !lower.contains("%2f") && !lower.contains("%5c"),
            "a request left the base, token {:?}: {}",
            r.authorization,
            r.path
        );
    }
}

/// A redirect that stays under the base is still followed, with the token.
#[cfg_attr(
    skip_real_servers,
    ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS: needs hfs"
)]
#[tokio::test]
async fn a_redirect_under_the_base_is_followed() {
    let app = faulty_app().await;
    let proxy = FhirProxy::start(upstream().await.as_deref()).await;
    let request = pointed_at("naive-eligible-two-dmts--order-sign.json", &proxy.base);
    let want = app.post_hook(service_for(&request), &request).await;
    let want: Value = want.json().await.unwrap();
    proxy.set(Behaviour::RedirectTo("/fhir/r4/moved/".to_owned()));
    let request = order_without_prefetch(&proxy.base);
    let got = app.post_hook(service_for(&request), &request).await;
    assert_eq!(got.status().as_u16(), 200);
    let got: Value = got.json().await.unwrap();
    assert_eq!(card_texts(&got), card_texts(&want));
    let requests = proxy.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.path.starts_with("/fhir/r4/moved/")
                && r.authorization.as_deref() == Some("Bearer fixture-token-1")),
        "{requests:?}"
    );
}

#[tokio::test]
async fn a_fhir_server_off_the_allow_list_is_never_contacted() {
    let app = spawn_app_with(|raw| {
        raw.fhir.allowed_servers = vec!["https://ehr.example/fhir/r4".to_owned()];
        raw.fhir.deadline_ms = DEADLINE_MS;
    })
    .await;
    let proxy = FhirProxy::start(upstream().await.as_deref()).await;
    let request = order_without_prefetch(&proxy.base);
    // The host as the card shows it, markdown-escaped (`127.` would start a numbered list).
    let host = GapReason::ServerNotAllowed("127\\.0.0.1".to_owned());
    assert_could_not_check(&app, &request, "off the allow-list", &host).await;
    // Same host and port, other path: still refused.
    let request = order_without_prefetch(&proxy.base.replace("/fhir/r4", "/other"));
    assert_could_not_check(&app, &request, "off the allow-list", &host).await;
    assert_eq!(proxy.connections(), 0, "a refused fhirServer was contacted");
}

async fn status_of(app: &TestApp, request: &Value) -> (u16, Value) {
    let r = app.post_hook(service_for(request), request).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// docs/wire-contract.md §Errors: 412 only when the data cannot be obtained **and** no alemtuzumab
/// order is recognisable.
#[tokio::test]
async fn precondition_failed_exactly_per_contract() {
    let app = faulty_app().await;
    let down = format!("http://127.0.0.1:{}/fhir", free_port());

    // patient-view, nothing prefetched, server down: 412 naming what is missing.
    for name in [
        "never-exposed--patient-view.json",
        "retreated-clean--patient-view.json",
    ] {
        let mut request = pointed_at(name, &down);
        request.as_object_mut().unwrap().remove("prefetch");
        let (status, body) = status_of(&app, &request).await;
        assert_eq!(status, 412, "{name}: {body}");
        assert_eq!(body["resourceType"], "OperationOutcome");
        let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap();
        assert!(
            diagnostics.contains("medicationAdministrations"),
            "{diagnostics}"
        );
    }

    // patient-view with everything prefetched: the server is not needed.
    let request = pointed_at("exposed-monitoring-overdue--patient-view.json", &down);
    let (status, body) = status_of(&app, &request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        topics(&body),
        vec![("liver-function".to_owned(), "warning".to_owned())]
    );

    // An alemtuzumab order: always 200 with cards (covered above), even with one key missing.
    let mut request = pointed_at("naive-one-dmt--order-sign.json", &down);
    request["prefetch"]
        .as_object_mut()
        .unwrap()
        .remove("liverLabs");
    let (status, body) = status_of(&app, &request).await;
    assert_eq!(status, 200, "{body}");
    let t = topics(&body);
    for want in [
        ("data-unavailable", "warning"),
        ("infusion-monitoring", "info"),
        ("patient-counselling", "info"),
    ] {
        assert!(t.contains(&(want.0.into(), want.1.into())), "{t:?}");
    }

    // An order whose Medication cannot be read: nothing recognisable, 412.
    let mut request = pointed_at("intolerance-short-course--order-sign.json", &down);
    request["context"]["draftOrders"]["entry"]
        .as_array_mut()
        .unwrap()
        .retain(|e| e["resource"]["resourceType"] != "Medication");
    let (status, body) = status_of(&app, &request).await;
    assert_eq!(status, 412, "{body}");
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap_or("");
    assert!(diagnostics.contains("Medication"), "{diagnostics}");

    // A non-alemtuzumab order needs no data: 200, no cards, server down or not.
    let mut request = pointed_at("non-alemtuzumab--order-sign.json", &down);
    request.as_object_mut().unwrap().remove("prefetch");
    let (status, body) = status_of(&app, &request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cards"], json!([]));
}

/// The service binary as a subprocess with trace-level JSON logs, all lines captured.
struct Service {
    served: ServedBinary,
    /// The subprocess's own store directory.
    _data_dir: tempfile::TempDir,
}

impl Service {
    fn start() -> Service {
        let data_dir = tempfile::tempdir().unwrap();
        let mut cmd = binary();
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .env("ALEMTUZUMAB_CDS__LOG__FORMAT", "json")
            .env("ALEMTUZUMAB_CDS__LOG__LEVEL", "trace")
            .env("ALEMTUZUMAB_CDS__SERVER__FIXED_TODAY", FIXTURE_TODAY)
            .env("ALEMTUZUMAB_CDS__STORE__DATA_DIR", data_dir.path())
            .env(
                "ALEMTUZUMAB_CDS__FHIR__DEADLINE_MS",
                DEADLINE_MS.to_string(),
            );
        Service {
            served: ServedBinary::start(cmd),
            _data_dir: data_dir,
        }
    }

    fn app(&self) -> TestApp {
        self.served.app()
    }

    /// Waits (bounded: 30 s) until the JSON log satisfies `ready`, then stops the process and
    /// returns its whole JSON log, both pipes drained.
    async fn stop_once(&mut self, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        for _ in 0..300 {
            if ready(&self.served.log()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.served.stop();
        self.served.log()
    }
}

#[tokio::test]
async fn the_bearer_token_is_sent_on_every_request_and_never_logged() {
    let mut service = Service::start();
    let app = service.app();
    let proxy = FhirProxy::start(upstream().await.as_deref()).await;

    // Everything from the server (hfs if installed): the token goes with each request.
    let mut request = order_without_prefetch(&proxy.base);
    request["fhirAuthorization"]["access_token"] = json!("fixture-token-secret-4711");
    let (status, body) = status_of(&app, &request).await;
    assert_eq!(status, 200, "{body}");
    // A 401 and a 403 from the FHIR server: an authorization problem in the log, a card for the
    // user.
    for code in [401, 403] {
        proxy.set(Behaviour::Status(code));
        assert_could_not_check(
            &app,
            &request,
            &code.to_string(),
            &GapReason::HttpStatus(code),
        )
        .await;
    }

    let requests = proxy.requests();
    assert!(requests.len() >= 12, "{requests:?}");
    for r in &requests {
        assert_eq!(
            r.authorization.as_deref(),
            Some("Bearer fixture-token-secret-4711"),
            "{r:?}"
        );
    }
    // /metrics counts the requests by resource type and outcome.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("cds_fhir_requests_total") && metrics.contains("http_error"),
        "{metrics}"
    );
    // The authorization lines are written before the answers they cause; the process is then
    // stopped and both pipes drained, so every line it wrote is read.
    let authorization_problem = |v: &Value, code: u64| {
        v["level"] == "WARN"
            && v["message"]
                .as_str()
                .is_some_and(|m| m.contains("authorization problem"))
            && v["status"] == code
    };
    let log = service
        .stop_once(|log| {
            log.iter().any(|v| authorization_problem(v, 401))
                && log.iter().any(|v| authorization_problem(v, 403))
        })
        .await;
    let lines: Vec<String> = log.iter().map(Value::to_string).collect();
    assert!(lines.len() > 10, "{lines:?}");
    for line in &lines {
        assert!(
            !line.contains("secret-4711"),
            "the token is in the log: {line}"
        );
    }
    for code in [401, 403] {
        assert!(
            log.iter().any(|v| authorization_problem(v, code)),
            "no authorization problem logged for {code}:\n{}",
            lines.join("\n")
        );
    }
    // Each outbound query is a span naming the resource type.
    assert!(
        log.iter()
            .any(|v| v["spans"].as_array().is_some_and(|spans| spans
                .iter()
                .any(|s| s["name"] == "fhir" && s["resource_type"] == "MedicationAdministration"))),
        "no fhir span:\n{}",
        lines.join("\n")
    );
}

/// A read answered with a resource of another type (here a searchset Bundle for
/// `Patient/{id}`) is not the patient: a could-not-check, not a patient without a birth date.
#[tokio::test]
async fn a_read_answered_with_another_resource_type_is_a_data_gap() {
    let app = faulty_app().await;
    let proxy = FhirProxy::start(None).await;
    proxy.set(Behaviour::Body(
        json!({"resourceType": "Bundle", "type": "searchset", "entry": []}).to_string(),
    ));
    let mut request = pointed_at("naive-eligible-two-dmts--order-sign.json", &proxy.base);
    request["prefetch"]
        .as_object_mut()
        .unwrap()
        .remove("patient");
    let body = assert_could_not_check(
        &app,
        &request,
        "Bundle for a read",
        &GapReason::Unreadable("Patient read answered with a Bundle".to_owned()),
    )
    .await;
    let details: Vec<String> = card_texts(&body).into_iter().map(|c| c.3).collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("patient") || d.contains("Patient")),
        "{details:?}"
    );
}

/// The proxy itself: it answers 404 outside its base path and never forwards there, so a
/// service that dropped the path of `fhirServer` would get no data.
#[tokio::test]
async fn the_proxy_serves_only_under_its_base_path() {
    let proxy = FhirProxy::start(None).await;
    let patient = json!({"resourceType": "Patient", "id": "p"}).to_string();
    proxy.set(Behaviour::Body(patient.clone()));
    let origin = proxy
        .base
        .trim_end_matches(crate::fhir_proxy::BASE_PATH)
        .to_owned();
    let http = reqwest::Client::new();
    let under = http
        .get(format!("{}/Patient/p", proxy.base))
        .send()
        .await
        .unwrap();
    assert_eq!(under.status(), 200);
    assert_eq!(under.text().await.unwrap(), patient);
    for outside in ["/Patient/p", "/fhir/r4x/Patient/p", "/fhir/Patient/p"] {
        let r = http.get(format!("{origin}{outside}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{outside}");
    }
    assert_eq!(proxy.outside_base(), 3);
}

/// `fhir.max_response_bytes`: a body over the cap is refused, a `data-unavailable` card saying
/// so; the same body under a larger cap is read.
#[tokio::test]
async fn a_response_over_max_response_bytes_is_a_data_unavailable_card() {
    let app = spawn_app_with(|raw| {
        raw.fhir.deadline_ms = DEADLINE_MS;
        raw.fhir.max_response_bytes = 4096;
    })
    .await;
    let proxy = FhirProxy::start(None).await;
    // An empty searchset padded past 4096 bytes with a long `self` link.
    let big = json!({"resourceType": "Bundle", "type": "searchset", "entry": [],
        "link": [{"relation": "self", "url": format!("{}/Condition?pad={}", proxy.base, "x".repeat(5000))}]})
    .to_string();
    assert!(big.len() > 4096);
    proxy.set(Behaviour::Body(big.clone()));
    let mut request = pointed_at("naive-eligible-two-dmts--order-sign.json", &proxy.base);
    request["prefetch"]
        .as_object_mut()
        .unwrap()
        .remove("conditions");
    assert_could_not_check(
        &app,
        &request,
        "response over the cap",
        &GapReason::Unreadable("response larger than 4096 bytes".to_owned()),
    )
    .await;
    assert_eq!(proxy.requests().len(), 1, "{:?}", proxy.requests());

    // Control: with a cap above its size, the same answer is read and nothing is missing.
    let roomy = spawn_app_with(|raw| {
        raw.fhir.deadline_ms = DEADLINE_MS;
        raw.fhir.max_response_bytes = 8192;
    })
    .await;
    let r = roomy.post_hook(service_for(&request), &request).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(
        !topics(&body).iter().any(|(t, _)| t == "data-unavailable"),
        "{body}"
    );
}

/// A redirect to another origin is not followed (the token would go with it): the other origin
/// gets no connection and the card names the refused URL.
#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let app = faulty_app().await;
    let elsewhere = FhirProxy::start(None).await;
    let proxy = FhirProxy::start(None).await;
    proxy.set(Behaviour::RedirectTo(format!("{}/", elsewhere.base)));
    let request = order_without_prefetch(&proxy.base);
    let body = assert_some_could_not_check(&app, &request, "redirect to another origin").await;
    assert!(!proxy.requests().is_empty(), "the server was not asked");
    assert_eq!(elsewhere.connections(), 0, "the other origin was contacted");
    // The card's reason, around the refused URL (shown markdown-escaped): its port is there.
    let line = reason_line(&GapReason::ServerNotAllowed("\u{1}".to_owned()));
    let (before, after) = line.split_once('\u{1}').unwrap();
    let port = url::Url::parse(&elsewhere.base)
        .unwrap()
        .port()
        .unwrap()
        .to_string();
    let details: Vec<String> = card_texts(&body).into_iter().map(|c| c.3).collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains(before.trim()) && d.contains(after.trim()) && d.contains(&port)),
        "no card names the refused redirect (port {port}): {details:#?}"
    );
}

/// A `next` link is never followed twice: a page whose `next` points at itself is read once,
/// then the chain is a `data-unavailable` card (not the page limit, not a loop).
#[tokio::test]
async fn a_next_link_is_never_followed_twice() {
    let app = faulty_app().await;
    let proxy = FhirProxy::start(None).await;
    let page2 = format!("{}/Condition?patient=p01-patient&page=2", proxy.base);
    proxy.set(Behaviour::NextTo(page2.clone()));
    // Everything prefetched; the first page of the conditions has a `next` link to page 2.
    let mut request = pointed_at("naive-eligible-two-dmts--order-sign.json", &proxy.base);
    request["prefetch"]["conditions"]["link"] = json!([{"relation": "next", "url": page2}]);
    assert_could_not_check(
        &app,
        &request,
        "next link to itself",
        &GapReason::BadNextLink,
    )
    .await;
    let targets: Vec<String> = proxy.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        vec!["Condition?patient=p01-patient&page=2".to_owned()],
        "page 2 is read exactly once"
    );
}
