use crate::helpers::{read_json, repo, spawn_app};

#[tokio::test]
async fn discovery_lists_the_three_services_exactly_as_documented() {
    // Arrange
    let app = spawn_app().await;
    // Act
    let response = app.get("/cds-services").await;
    // Assert
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let documented = read_json(repo().join("cds-hooks/discovery.json"));
    assert_eq!(
        body, documented,
        "cds-hooks/discovery.json differs from GET /cds-services; regenerate it"
    );
    // CDS Hooks 2.0.1: no null, empty string, empty array or empty object in discovery either.
    crate::helpers::assert_no_empty(&body, "$");
    let services = body["services"].as_array().unwrap();
    let ids: Vec<_> = services.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "alemtuzumab-order-sign",
            "alemtuzumab-order-select",
            "alemtuzumab-patient-view"
        ]
    );
    for s in services {
        for field in [
            "hook",
            "title",
            "description",
            "prefetch",
            "usageRequirements",
        ] {
            assert!(!s[field].is_null(), "{field} missing in {s}");
        }
        // Every prefetch template is a relative FHIR query using only the 2.0 context tokens.
        for (key, template) in s["prefetch"].as_object().unwrap() {
            let t = template.as_str().unwrap();
            let resource_type = t.split(['/', '?']).next().unwrap();
            assert!(
                resource_type.starts_with(|c: char| c.is_ascii_uppercase())
                    && resource_type.chars().all(|c| c.is_ascii_alphabetic()),
                "{key}: not a relative FHIR query: {t}"
            );
            let tokens: Vec<&str> = t
                .split("{{")
                .skip(1)
                .map(|x| x.split("}}").next().unwrap())
                .collect();
            assert!(!tokens.is_empty(), "{key}: no patient token in {t}");
            assert!(
                tokens.iter().all(|tok| *tok == "context.patientId"),
                "{key}: {t}"
            );
        }
    }
    assert_eq!(
        services[0]["prefetch"]["medicationRequests"],
        "MedicationRequest?patient={{context.patientId}}"
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_answer_without_a_jwt() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready, serde_json::json!({"status": "ready"}));
    // Open, in the Prometheus text format. What the counters count is proven in a process of
    // its own (`promises.rs::metrics_count_each_call_by_outcome_and_each_card_by_topic`): the
    // in-process test apps share one recorder, so names alone prove nothing here.
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 200);
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
}

/// Card `uuid`s differ on every call; everything else must match the documented answer.
fn without_uuids(mut v: serde_json::Value) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                o.remove("uuid");
                o.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

#[tokio::test]
async fn every_example_in_cds_hooks_gives_its_documented_response() {
    let app = spawn_app().await;
    let dir = repo().join("cds-hooks/examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".request.json") else {
            continue;
        };
        let request = read_json(&path);
        let expected = read_json(dir.join(format!("{stem}.response.json")));
        let response = app
            .post_hook(crate::helpers::service_for(&request), &request)
            .await;
        assert_eq!(response.status(), 200, "{name}");
        let body: serde_json::Value = response.json().await.unwrap();
        crate::helpers::assert_valid_response(&body, &request);
        assert_eq!(
            without_uuids(body),
            without_uuids(expected),
            "{name}: regenerate with `alemtuzumab-cds simulate cds-hooks/examples/{stem}.request.json --now 2026-11-25 --json`"
        );
        seen += 1;
    }
    assert!(seen >= 3, "one example per hook");
}

/// The liverLabs template is built from the configured terminology: a hospital's local
/// bilirubin code is asked for in discovery (and so in the EHR's prefetch).
#[tokio::test]
async fn discovery_lists_a_configured_local_liver_code() {
    let app = crate::helpers::spawn_app_with(|raw| {
        raw.terminology
            .local_codes
            .push(alemtuzumab_cds::config::RawLocalCode {
                concept: "lab:total-bilirubin".to_owned(),
                system: "urn:oid:1.2.250.1.213.1.1.5.99".to_owned(),
                code: "BILT-LOC".to_owned(),
            });
    })
    .await;
    let body: serde_json::Value = app.get("/cds-services").await.json().await.unwrap();
    for s in body["services"].as_array().unwrap() {
        let q = s["prefetch"]["liverLabs"].as_str().unwrap();
        assert!(q.contains("urn:oid:1.2.250.1.213.1.1.5.99|BILT-LOC"), "{q}");
        assert!(q.contains("http://loinc.org|14631-6"), "{q}");
        assert!(q.contains("http://loinc.org|1742-6"), "{q}");
    }
    // The default service does not list it.
    let default: serde_json::Value = spawn_app()
        .await
        .get("/cds-services")
        .await
        .json()
        .await
        .unwrap();
    assert!(!default.to_string().contains("BILT-LOC"));
}
