//! FHIR faults through the fault-injecting proxy (`fhir_proxy.rs`): every one is a visible
//! `data-unavailable` card giving that fault as its reason, never a 500; a server that does not
//! answer is cut at the deadline (the proxy sees the service hang up); 412 exactly per
//! docs/wire-contract.md §Errors; the bearer token on every request and in no log line. No assertion
//! on how long anything took (README §Tests).

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

    // An order whose Medication cannot be read: nothing recognisable, 412.
    let mut request = pointed_at("intolerance-short-course--order-sign.json", &down);
    request["context"]["draftOrders"]["entry"]
        .as_array_mut()
        .unwrap()
        .retain(|e| e["resource"]["resourceType"] != "Medication");
    let (status, body) = status_of(&app, &request).await;
    assert_eq!(status, 412, "{body}");

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

    fn lines(&self) -> Vec<String> {
        self.served.lines()
    }
}

#[tokio::test]
async fn the_bearer_token_is_sent_on_every_request_and_never_logged() {
    let service = Service::start();
    let app = service.app();
    let proxy = FhirProxy::start(upstream().await.as_deref()).await;

    // Everything from the server (hfs if installed): the token goes with each request.
    let mut request = order_without_prefetch(&proxy.base);
    request["fhirAuthorization"]["access_token"] = json!("fixture-token-secret-4711");
    let (status, body) = status_of(&app, &request).await;
    assert_eq!(status, 200, "{body}");
    // A 401 from the FHIR server: an authorization problem in the log, a card for the user.
    proxy.set(Behaviour::Status(401));
    let body = assert_could_not_check(&app, &request, "401", &GapReason::HttpStatus(401)).await;
    assert!(!card_texts(&body).is_empty());

    let requests = proxy.requests();
    assert!(requests.len() >= 12, "{requests:?}");
    for r in &requests {
        assert_eq!(
            r.authorization.as_deref(),
            Some("Bearer fixture-token-secret-4711"),
            "{r:?}"
        );
    }
    // Let the last lines arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = service.lines();
    assert!(lines.len() > 10, "{lines:?}");
    for line in &lines {
        assert!(
            !line.contains("secret-4711"),
            "the token is in the log: {line}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("authorization problem") && l.contains("401")),
        "no authorization problem logged:\n{}",
        lines.join("\n")
    );
    // Each outbound query is a span naming the resource type.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"fhir\"") && l.contains("MedicationAdministration")),
        "no fhir span:\n{}",
        lines.join("\n")
    );
    // And /metrics counts them by resource type and outcome.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("cds_fhir_requests_total") && metrics.contains("http_error"),
        "{metrics}"
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
