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

/// Issue 17 item 11: a POST whose Content-Type is not JSON is 415 naming Content-Type (a web
/// page can send `text/plain` without a preflight); JSON with parameters is accepted.
#[tokio::test]
async fn a_post_that_is_not_json_by_content_type_is_415() {
    let app = spawn_app().await;
    let hook = valid().to_string();
    let feedback = json!({"feedback": [{"card": "c", "outcome": "overridden",
        "outcomeTimestamp": "2026-11-25T01:10:23.110Z",
        "overrideReason": {"userComment": "forged"}}]})
    .to_string();
    let hook_path = "/cds-services/alemtuzumab-order-sign";
    let feedback_path = "/cds-services/alemtuzumab-order-sign/feedback";
    for (path, body) in [(hook_path, &hook), (feedback_path, &feedback)] {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            None,
        ] {
            let mut r = app
                .client
                .post(format!("{}{path}", app.address))
                .body(body.clone());
            if let Some(ct) = content_type {
                r = r.header("Content-Type", ct);
            }
            let resp = r.send().await.expect("sent");
            assert_outcome(resp, 415, "Content-Type").await;
        }
        for content_type in ["application/json; charset=utf-8", "application/fhir+json"] {
            let resp = app
                .client
                .post(format!("{}{path}", app.address))
                .header("Content-Type", content_type)
                .body(body.clone())
                .send()
                .await
                .expect("sent");
            assert_eq!(resp.status(), 200, "{path} {content_type}");
        }
    }
}

/// Issue 17 item 11: in local mode (no auth) a Host that is not loopback is 403 naming Host
/// (DNS rebinding); localhost, 127.x and [::1], with a port, are served, and probes stay open.
#[tokio::test]
async fn local_mode_serves_only_a_loopback_host() {
    let app = spawn_app().await;
    let send = |host: &'static str, path: &'static str| {
        let r = app
            .client
            .post(format!("{}{path}", app.address))
            .header("Host", host)
            .header("Content-Type", "application/json")
            .body(valid().to_string());
        async move { r.send().await.expect("sent") }
    };
    let hook_path = "/cds-services/alemtuzumab-order-sign";
    for host in [
        "evil.example",
        "evil.example:8080",
        "10.0.0.1:8080",
        "127.0.0.1.nip.io",
    ] {
        assert_outcome(send(host, hook_path).await, 403, "Host").await;
        let r = app
            .client
            .get(format!("{}/cds-services", app.address))
            .header("Host", host)
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 403, "{host}");
        let r = app
            .client
            .get(format!("{}/healthz", app.address))
            .header("Host", host)
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 200, "{host}");
    }
    for host in ["localhost:8080", "localhost", "127.0.0.1:9", "[::1]:8080"] {
        assert_eq!(send(host, hook_path).await.status(), 200, "{host}");
    }
}

/// A closed test bench (`auth.allow_unauthenticated`) is reached by its own host name: only
/// the Content-Type check applies there (issue 17 item 11).
#[tokio::test]
async fn a_test_bench_serves_its_own_host_name_but_still_requires_json() {
    let app = spawn_app_with(|raw| raw.auth.allow_unauthenticated = true).await;
    let post = |content_type: &'static str| {
        app.client
            .post(format!(
                "{}/cds-services/alemtuzumab-order-sign",
                app.address
            ))
            .header("Host", "bench.hospital.example:8080")
            .header("Content-Type", content_type)
            .body(valid().to_string())
            .send()
    };
    assert_eq!(post("application/json").await.expect("sent").status(), 200);
    assert_outcome(post("text/plain").await.expect("sent"), 415, "Content-Type").await;
}
