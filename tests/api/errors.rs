//! Every error case of the contract: status and an OperationOutcome naming the field.

use serde_json::{json, Value};

use crate::helpers::*;

async fn assert_outcome(response: reqwest::Response, status: u16, field: &str) {
    assert_eq!(response.status(), status);
    let ct = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ct.contains("json"), "{ct}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains(field),
        "diagnostics `{diagnostics}` do not name `{field}`"
    );
}

fn valid() -> Value {
    fixture_hook("naive-one-dmt--order-sign.json")
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400() {
    let app = spawn_app().await;
    let r = app
        .post_raw("/cds-services/alemtuzumab-order-sign", "{not json".into())
        .await;
    assert_outcome(r, 400, "JSON").await;
}

#[tokio::test]
async fn missing_hook_hook_instance_or_context_is_400_naming_it() {
    let app = spawn_app().await;
    for field in ["hook", "hookInstance", "context"] {
        let mut body = valid();
        body.as_object_mut().unwrap().remove(field);
        let r = app.post_hook("alemtuzumab-order-sign", &body).await;
        assert_outcome(r, 400, field).await;
    }
}

/// Issue 17 item 8: a `hookInstance` over 200 characters is 400 naming it; 200 is accepted.
#[tokio::test]
async fn a_hook_instance_over_200_characters_is_400_naming_it() {
    let app = spawn_app().await;
    let mut body = valid();
    body["hookInstance"] = json!("h".repeat(201));
    let r = app.post_hook("alemtuzumab-order-sign", &body).await;
    assert_outcome(r, 400, "hookInstance").await;
    body["hookInstance"] = json!("h".repeat(200));
    let r = app.post_hook("alemtuzumab-order-sign", &body).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_context_without_what_the_hook_requires_is_400_naming_it() {
    let app = spawn_app().await;
    let mut body = valid();
    body["context"].as_object_mut().unwrap().remove("patientId");
    assert_outcome(
        app.post_hook("alemtuzumab-order-sign", &body).await,
        400,
        "context.patientId",
    )
    .await;

    let mut body = valid();
    body["context"]
        .as_object_mut()
        .unwrap()
        .remove("draftOrders");
    assert_outcome(
        app.post_hook("alemtuzumab-order-sign", &body).await,
        400,
        "context.draftOrders",
    )
    .await;

    let mut body = fixture_hook("naive-one-dmt--order-select.json");
    body["context"]
        .as_object_mut()
        .unwrap()
        .remove("selections");
    assert_outcome(
        app.post_hook("alemtuzumab-order-select", &body).await,
        400,
        "context.selections",
    )
    .await;
}

#[tokio::test]
async fn a_hook_sent_to_the_wrong_service_is_400() {
    let app = spawn_app().await;
    let r = app.post_hook("alemtuzumab-patient-view", &valid()).await;
    assert_outcome(r, 400, "hook").await;
}

#[tokio::test]
async fn wrong_types_are_400_naming_the_field() {
    let app = spawn_app().await;
    for (field, value) in [
        ("hookInstance", json!(42)),
        ("prefetch", json!([1, 2])),
        ("fhirAuthorization", json!("token")),
        ("context", json!("p1")),
    ] {
        let mut body = valid();
        body[field] = value;
        let r = app.post_hook("alemtuzumab-order-sign", &body).await;
        assert_outcome(r, 400, field).await;
    }
    let r = app
        .post_raw("/cds-services/alemtuzumab-order-sign", "[]".into())
        .await;
    assert_outcome(r, 400, "body").await;
}

#[tokio::test]
async fn an_unknown_service_is_404() {
    let app = spawn_app().await;
    let r = app.post_hook("no-such-service", &valid()).await;
    assert_outcome(r, 404, "no-such-service").await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app_with(|raw| raw.server.body_limit_bytes = 4096).await;
    let mut body = valid();
    body["padding"] = json!("x".repeat(10_000));
    let r = app.post_hook("alemtuzumab-order-sign", &body).await;
    assert_outcome(r, 413, "limit").await;
}

#[tokio::test]
async fn a_deeply_nested_body_is_400_not_a_crash() {
    let app = spawn_app().await;
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let r = app
        .post_raw("/cds-services/alemtuzumab-order-sign", deep)
        .await;
    assert_outcome(r, 400, "JSON").await;
    // Still serving.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn patient_view_with_no_data_and_no_fhir_server_is_412() {
    let app = spawn_app().await;
    let body = json!({
        "hook": "patient-view",
        "hookInstance": "0b6cf7b0-1a3e-4f0e-9d0a-5d8a6a3c0f11",
        "context": {"userId": "Practitioner/1", "patientId": "p1"}
    });
    let r = app.post_hook("alemtuzumab-patient-view", &body).await;
    assert_outcome(r, 412, "medicationRequests").await;
}
