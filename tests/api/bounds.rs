//! Issue 17 items 2 and 4: what one hook call may make the service do is bounded. Counts only,
//! never durations (README §Tests).

use serde_json::{json, Value};

use crate::fhir_fetch::{card_texts, pointed_at};
use crate::fhir_proxy::{Behaviour, FhirProxy};
use crate::helpers::*;

/// Item 2: 200 draft orders, each pointing at its own Medication on the server, beside an
/// alemtuzumab order with everything prefetched. At most `fhir.max_medication_reads` reads reach
/// the server, and the Medications not obtained are one `data-unavailable` card, not 200.
#[tokio::test]
async fn two_hundred_medication_references_are_capped_and_shown_in_one_card() {
    let proxy = FhirProxy::start(None).await;
    proxy.set(Behaviour::Status(404));
    let app = spawn_app_with(|raw| raw.fhir.max_medication_reads = 20).await;
    let mut request = pointed_at("naive-eligible-two-dmts--order-sign.json", &proxy.base);
    let entries = request["context"]["draftOrders"]["entry"]
        .as_array_mut()
        .unwrap();
    for i in 0..200 {
        let id = format!("extra-{i:03}");
        entries.push(
            json!({"fullUrl": format!("MedicationRequest/{id}"), "resource": {
            "resourceType": "MedicationRequest", "id": id, "status": "draft", "intent": "order",
            "subject": {"reference": "Patient/p01-patient"},
            "medicationReference": {"reference": format!("Medication/m{i:03}")}}}),
        );
    }
    let r = app.post_hook(service_for(&request), &request).await;
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_valid_response(&body, &request);

    let reads: Vec<String> = proxy
        .requests()
        .into_iter()
        .map(|q| q.target)
        .filter(|t| t.starts_with("Medication/"))
        .collect();
    assert!(!reads.is_empty(), "no Medication read was sent");
    assert!(reads.len() <= 20, "{} reads: {reads:?}", reads.len());

    let cards = card_texts(&body);
    let medication_cards: Vec<_> = cards
        .iter()
        .filter(|c| c.0 == "data-unavailable" && c.3.contains("Medication/m"))
        .collect();
    assert_eq!(medication_cards.len(), 1, "{medication_cards:#?}");
    let detail = &medication_cards[0].3;
    assert!(detail.contains("200"), "{detail}");
    assert!(
        detail.contains("fhir.max\\_medication\\_reads")
            || detail.contains("fhir.max_medication_reads"),
        "{detail}"
    );
    // The answer stays small: a handful of cards, not one per reference.
    assert!(cards.len() < 15, "{} cards", cards.len());
}

/// Item 4: `selections` and draft order entries are bounded; over the bound is a 400 naming the
/// field, before any matching.
#[tokio::test]
async fn too_many_selections_or_draft_orders_is_a_400_naming_the_field() {
    let app = spawn_app().await;
    let mut body = fixture_hook("naive-one-dmt--order-select.json");
    body["context"]["selections"] = json!((0..1001)
        .map(|i| format!("MedicationRequest/s{i}"))
        .collect::<Vec<_>>());
    let r = app.post_hook("alemtuzumab-order-select", &body).await;
    assert_eq!(r.status().as_u16(), 400);
    let outcome: Value = r.json().await.unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome", "{outcome}");
    let diagnostics = outcome["issue"][0]["diagnostics"].as_str().unwrap_or("");
    assert!(diagnostics.contains("context.selections"), "{diagnostics}");

    let mut body = fixture_hook("naive-one-dmt--order-sign.json");
    let entry = body["context"]["draftOrders"]["entry"][0].clone();
    body["context"]["draftOrders"]["entry"] = json!(vec![entry; 1001]);
    let r = app.post_hook("alemtuzumab-order-sign", &body).await;
    assert_eq!(r.status().as_u16(), 400);
    let outcome: Value = r.json().await.unwrap();
    let diagnostics = outcome["issue"][0]["diagnostics"].as_str().unwrap_or("");
    assert!(
        diagnostics.contains("context.draftOrders.entry"),
        "{diagnostics}"
    );
}

/// An alemtuzumab order-sign with 999 other draft orders beside it: each draft is validated
/// whole by fhirbolt, so the call is CPU-bound work with no `.await` inside (~0.3 s in a debug
/// build on the 2-core machine), from a body of about 1 MB.
fn cpu_bound_call() -> Value {
    let mut body = fixture_hook("retreated-liver-injury--order-sign.json");
    let entries = body["context"]["draftOrders"]["entry"]
        .as_array_mut()
        .unwrap();
    let first = entries[0].clone();
    for i in 0..999 {
        let mut e = first.clone();
        let id = format!("other-{i:03}");
        e["resource"]["id"] = json!(id);
        e["resource"]["medicationCodeableConcept"] = json!({"text": "paracetamol 1 g",
            "coding": [{"system": "http://www.whocc.no/atc", "code": "N02BE01"}]});
        e["fullUrl"] = json!(format!("MedicationRequest/{id}"));
        entries.push(e);
    }
    body
}

/// Item 4, the last part: CPU-bound work runs off the actix worker (src/web/compute.rs). With
/// one worker and `server.request_timeout_ms` far under the work, the call is cut at the timeout
/// with a 503; run on the worker, the timer could not fire before the work was done and the call
/// got its 200 late. The same single worker answers `/healthz` while the work goes on. With a
/// timeout the work fits in, the same call is answered 200 with its cards.
#[tokio::test]
async fn cpu_bound_work_runs_off_the_worker_and_is_cut_at_the_request_timeout() {
    let body = cpu_bound_call();
    let app = spawn_app_with(|raw| {
        raw.server.workers = 1;
        raw.server.request_timeout_ms = 100;
    })
    .await;
    let (hook, health) = tokio::join!(app.post_hook("alemtuzumab-order-sign", &body), async {
        // Asked while the hook call is at work, on the same (only) worker.
        app.get("/healthz").await.status().as_u16()
    });
    assert_eq!(health, 200);
    assert_eq!(
        hook.status().as_u16(),
        503,
        "the CPU-bound call was not cut at the request timeout"
    );
    let outcome: Value = hook.json().await.unwrap();
    assert_eq!(outcome["issue"][0]["code"], "transient", "{outcome}");
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);

    let app = spawn_app_with(|raw| {
        raw.server.workers = 1;
        raw.server.request_timeout_ms = 120_000;
    })
    .await;
    let r = app.post_hook("alemtuzumab-order-sign", &body).await;
    assert_eq!(r.status().as_u16(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_valid_response(&answer, &body);
}
