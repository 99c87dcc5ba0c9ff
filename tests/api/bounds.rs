//! Issue 17 item 4: what one hook call may make the service do is bounded. Counts only,
//! never durations (README §Tests).

use serde_json::{json, Value};

use crate::helpers::*;

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
