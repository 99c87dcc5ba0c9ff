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
    for (path, body) in requests {
        let r = app.post_raw(&path, body.to_string()).await;
        let status = r.status().as_u16();
        let answer: Value = r.json().await.unwrap();
        if body["hook"] == "patient-view" {
            // No medication history in its prefetch and no reachable FHIR server here.
            assert!(status == 200 || status == 412, "{path}: {status} {answer}");
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
