//! The requests of the official CDS Hooks Sandbox, exactly as captured
//! (`tests/data/real-client/`, see the README there).

use serde_json::Value;

use crate::helpers::*;

/// The captured Sandbox requests, committed with the tests.
pub const SANDBOX_REQUESTS: &str = "tests/data/real-client/cds-hooks-sandbox-requests.json";

fn sandbox_requests() -> Vec<(String, Value)> {
    // read_json fails the test, naming the file, if it is missing.
    let captured = read_json(repo().join(SANDBOX_REQUESTS));
    captured["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "POST" && r["body"]["hook"].is_string())
        .map(|r| {
            let path = r["path"]
                .as_str()
                .unwrap()
                .replace("example-", "alemtuzumab-");
            (path, r["body"].clone())
        })
        .collect()
}

#[tokio::test]
async fn every_sandbox_hook_call_is_answered_without_error() {
    let app = spawn_app().await;
    let requests = sandbox_requests();
    assert!(requests.len() >= 5);
    for (path, mut body) in requests {
        if body["hook"] == "patient-view" {
            // Its `fhirServer` (the Sandbox's, on port 9200) replaced by a port nobody listens
            // on: the answer must not depend on what else runs on this machine.
            let closed = format!("http://127.0.0.1:{}", crate::fhir_server::free_port());
            body["fhirServer"] = serde_json::json!(closed);
        }
        let r = app.post_raw(&path, body.to_string()).await;
        let status = r.status().as_u16();
        let answer: Value = r.json().await.unwrap();
        if body["hook"] == "patient-view" {
            // Only `patient` and `conditions` prefetched and the FHIR server unreachable: no
            // medication history, so nothing safety-relevant can be said: 412 naming what is
            // missing (docs/wire-contract.md §Errors).
            assert_eq!(status, 412, "{path}: {answer}");
            assert_eq!(answer["resourceType"], "OperationOutcome", "{answer}");
            let diagnostics = answer["issue"][0]["diagnostics"].as_str().unwrap_or("");
            assert!(
                diagnostics.contains("medicationAdministrations"),
                "{diagnostics}"
            );
        } else {
            // None of the Sandbox's orders is alemtuzumab (a draft without medication,
            // acetaminophen, ServiceRequests): no cards.
            assert_eq!(status, 200, "{path}: {answer}");
            assert_eq!(answer["cards"], serde_json::json!([]), "{path}");
        }
    }
}

#[tokio::test]
async fn the_sandbox_quirks_on_an_alemtuzumab_order_are_evaluated() {
    // Single-object reasonCode and category, Bundle without type, codings with empty strings.
    let app = spawn_app().await;
    let request = fixture_hook("sandbox-quirks--order-select.json");
    assert!(request["context"]["draftOrders"].get("type").is_none());
    let r = app.post_hook("alemtuzumab-order-select", &request).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_valid_response(&body, &request);
    let got = topics(&body);
    assert!(
        got.contains(&("infusion-monitoring".into(), "info".into())),
        "{got:?}"
    );
}
