//! Every fixture hook request, both profiles, both languages, over HTTP.

use serde_json::{json, Value};

use crate::helpers::*;

fn expected(name: &str, profile: &str) -> Vec<(String, String)> {
    let all = read_json(repo().join("fixtures/expected.json"));
    let list = all[name][profile]
        .as_array()
        .unwrap_or_else(|| panic!("fixtures/expected.json has no {name} / {profile}"));
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|e| {
            (
                e["topic"].as_str().unwrap().to_owned(),
                e["indicator"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn check_every_fixture(profile: &str, language: &str) {
    let app = spawn_app_with(|raw| {
        raw.rules.profile = profile.to_owned();
        raw.rules.language = language.to_owned();
    })
    .await;
    let mut failures = Vec::new();
    for name in fixture_hook_names() {
        let request = fixture_hook(&name);
        let response = app.post_hook(service_for(&request), &request).await;
        assert_eq!(response.status(), 200, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_valid_response(&body, &request);
        let got = topics(&body);
        let want = expected(&name, profile);
        if got != want {
            failures.push(format!("{name} [{profile}]: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[tokio::test]
async fn every_fixture_gives_the_expected_cards_under_ansm_2019_in_french() {
    check_every_fixture("ansm-2019", "fr").await;
}

#[tokio::test]
async fn every_fixture_gives_the_expected_cards_under_ema_2020_in_english() {
    check_every_fixture("ema-2020", "en").await;
}

#[tokio::test]
async fn the_critical_initiation_card_blocks_the_draft_order_and_offers_override_reasons() {
    let app = spawn_app().await;
    let request = fixture_hook("naive-one-dmt--order-sign.json");
    let body: Value = app
        .post_hook("alemtuzumab-order-sign", &request)
        .await
        .json()
        .await
        .unwrap();
    let card = body["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"]["topic"]["code"] == "initiation-eligibility")
        .expect("an initiation card");
    assert_eq!(card["indicator"], "critical");
    assert_eq!(
        card["source"]["topic"]["system"],
        "urn:alemtuzumab-cds:rule"
    );
    assert!(card["source"]["label"]
        .as_str()
        .unwrap()
        .contains("ANSM 2019"));
    assert_eq!(card["selectionBehavior"], "at-most-one");
    let action = &card["suggestions"][0]["actions"][0];
    assert_eq!(action["type"], "delete");
    let draft_id = request["context"]["draftOrders"]["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap();
    assert_eq!(
        action["resourceId"],
        format!("MedicationRequest/{draft_id}")
    );
    let reasons = card["overrideReasons"].as_array().unwrap();
    assert!(reasons
        .iter()
        .any(|r| r["code"] == "all-other-dmts-contraindicated"));
    // The detail shows why: the DMT found, with its dates.
    let detail = card["detail"].as_str().unwrap();
    // French INN in French cards (the label on record may keep its own spelling).
    let lower = detail.to_lowercase();
    assert!(
        lower.contains("tériflunomide") || lower.contains("teriflunomide"),
        "{detail}"
    );
}

#[tokio::test]
async fn with_several_draft_orders_the_alemtuzumab_one_second_is_the_one_blocked() {
    let app = spawn_app().await;
    let request = fixture_hook("multi-order--order-sign.json");
    let entries = request["context"]["draftOrders"]["entry"]
        .as_array()
        .unwrap();
    assert_eq!(entries.len(), 2);
    let second = format!(
        "MedicationRequest/{}",
        entries[1]["resource"]["id"].as_str().unwrap()
    );
    let body: Value = app
        .post_hook("alemtuzumab-order-sign", &request)
        .await
        .json()
        .await
        .unwrap();
    assert_valid_response(&body, &request);
    let mut deletes = Vec::new();
    for card in body["cards"].as_array().unwrap() {
        for s in card["suggestions"].as_array().into_iter().flatten() {
            for a in s["actions"].as_array().into_iter().flatten() {
                if a["type"] == "delete" {
                    deletes.push(a["resourceId"].clone());
                }
            }
        }
    }
    assert!(!deletes.is_empty());
    for d in deletes {
        assert_eq!(d, second.as_str());
    }
}

#[tokio::test]
async fn a_medication_reference_to_a_prefetched_medication_is_recognised() {
    // Move the Medication of the draft bundle into the medicationRequests prefetch Bundle, as an
    // EHR does with `_include=MedicationRequest:medication`.
    let app = spawn_app().await;
    let mut request = fixture_hook("intolerance-short-course--order-sign.json");
    let entries = request["context"]["draftOrders"]["entry"]
        .as_array_mut()
        .unwrap();
    let pos = entries
        .iter()
        .position(|e| e["resource"]["resourceType"] == "Medication")
        .expect("the fixture has a Medication entry");
    let mut medication = entries.remove(pos);
    medication["search"] = json!({"mode": "include"});
    request["prefetch"]["medicationRequests"]["entry"]
        .as_array_mut()
        .unwrap()
        .push(medication);
    let body: Value = app
        .post_hook("alemtuzumab-order-sign", &request)
        .await
        .json()
        .await
        .unwrap();
    assert_valid_response(&body, &request);
    assert_eq!(
        topics(&body),
        expected("intolerance-short-course--order-sign.json", "ansm-2019")
    );
}

/// The intolerance-short-course order, whose `medicationReference` points at a Medication the
/// request no longer holds (and no FHIR server to read it from).
fn order_without_its_medication() -> Value {
    let mut request = fixture_hook("intolerance-short-course--order-sign.json");
    if let Some(entries) = request["context"]["draftOrders"]["entry"].as_array_mut() {
        entries.retain(|e| e["resource"]["resourceType"] != "Medication");
    }
    request
}

#[tokio::test]
async fn an_unresolvable_medication_reference_is_a_visible_could_not_check() {
    let app = spawn_app().await;
    let request = order_without_its_medication();
    let response = app.post_hook("alemtuzumab-order-sign", &request).await;
    // No recognisable alemtuzumab order and the medication could not be obtained: 412 per the
    // contract, with an OperationOutcome naming what is missing.
    assert_eq!(response.status(), 412);
    let oo: Value = response.json().await.unwrap();
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert!(oo["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("Medication/"));
}

#[tokio::test]
async fn data_missing_from_the_prefetch_gives_data_unavailable_cards_with_the_reminders() {
    let app = spawn_app().await;
    let mut request = fixture_hook("naive-eligible-two-dmts--order-sign.json");
    let prefetch = request["prefetch"].as_object_mut().unwrap();
    prefetch.remove("conditions");
    prefetch.insert(
        "liverLabs".into(),
        json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout", "diagnostics": "lab system timed out"}]}),
    );
    let response = app.post_hook("alemtuzumab-order-sign", &request).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_valid_response(&body, &request);
    let got = topics(&body);
    let unavailable = got.iter().filter(|(t, _)| t == "data-unavailable").count();
    assert_eq!(unavailable, 2, "{got:?}");
    assert!(got.contains(&("data-unavailable".into(), "warning".into())));
    assert!(got.contains(&("infusion-monitoring".into(), "info".into())));
    assert!(got.contains(&("patient-counselling".into(), "info".into())));
    // MS type cannot be confirmed without the conditions: R1 is not silently passed.
    assert!(
        got.iter().any(|(t, _)| t == "initiation-eligibility"),
        "{got:?}"
    );
}

#[tokio::test]
async fn strict_412_turns_could_not_check_into_412() {
    let app = spawn_app_with(|raw| raw.server.strict_412 = true).await;
    let mut request = fixture_hook("naive-eligible-two-dmts--order-sign.json");
    request["prefetch"]
        .as_object_mut()
        .unwrap()
        .remove("conditions");
    let response = app.post_hook("alemtuzumab-order-sign", &request).await;
    assert_eq!(response.status(), 412);
}

#[tokio::test]
async fn cards_are_in_the_configured_language() {
    let fr = spawn_app().await;
    let en = spawn_app_with(|raw| raw.rules.language = "en".into()).await;
    let request = fixture_hook("naive-one-dmt--order-sign.json");
    let label = |body: Value| {
        body["cards"][0]["source"]["label"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let fr_label = label(
        fr.post_hook("alemtuzumab-order-sign", &request)
            .await
            .json()
            .await
            .unwrap(),
    );
    let en_label = label(
        en.post_hook("alemtuzumab-order-sign", &request)
            .await
            .json()
            .await
            .unwrap(),
    );
    assert!(en_label.starts_with("Alemtuzumab safety"), "{en_label}");
    assert_ne!(fr_label, en_label);
}

#[tokio::test]
async fn a_local_dmt_code_from_configuration_is_counted() {
    // naive-one-dmt has one DMT; add a second, coded only with a hospital-local code.
    let app = spawn_app_with(|raw| {
        raw.terminology
            .local_codes
            .push(alemtuzumab_cds::config::RawLocalCode {
                concept: "dmt:fingolimod".into(),
                system: "urn:oid:1.2.250.1.999.1".into(),
                code: "FINGO-LOCAL".into(),
            })
    })
    .await;
    let mut request = fixture_hook("naive-one-dmt--order-sign.json");
    let patient = request["context"]["patientId"].as_str().unwrap().to_owned();
    request["prefetch"]["medicationStatements"]["entry"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "fullUrl": "MedicationStatement/local-fingo",
            "resource": {
                "resourceType": "MedicationStatement", "id": "local-fingo", "status": "completed",
                "medicationCodeableConcept": {"coding": [{"system": "urn:oid:1.2.250.1.999.1", "code": "FINGO-LOCAL"}]},
                "subject": {"reference": format!("Patient/{patient}")},
                "effectivePeriod": {"start": "2019-01-10", "end": "2021-03-01"}
            },
            "search": {"mode": "match"}
        }));
    let body: Value = app
        .post_hook("alemtuzumab-order-sign", &request)
        .await
        .json()
        .await
        .unwrap();
    let got = topics(&body);
    assert!(
        !got.iter().any(|(t, _)| t == "initiation-eligibility"),
        "the local code was not counted: {got:?}"
    );
}

/// Issue 11 point 8: the same unreadable Medication, but the reference's `display` names
/// Lemtrada. A high-risk order is never a silent 412: 200 with the reminders and a
/// data-unavailable card for what could not be read.
#[tokio::test]
async fn an_unreadable_medication_whose_display_names_lemtrada_gives_cards_not_412() {
    let app = spawn_app().await;
    let mut request = order_without_its_medication();
    let entries = request["context"]["draftOrders"]["entry"]
        .as_array_mut()
        .unwrap();
    let order = entries
        .iter_mut()
        .find(|e| e["resource"]["resourceType"] == "MedicationRequest")
        .expect("the fixture has a draft order");
    order["resource"]["medicationReference"]["display"] =
        json!("LEMTRADA 12 mg, solution à diluer pour perfusion");
    let response = app.post_hook("alemtuzumab-order-sign", &request).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_valid_response(&body, &request);
    let got = topics(&body);
    for want in [
        ("infusion-monitoring", "info"),
        ("patient-counselling", "info"),
        ("data-unavailable", "warning"),
    ] {
        assert!(
            got.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} missing: {got:?}"
        );
    }
    let unavailable = body["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"]["topic"]["code"] == "data-unavailable")
        .unwrap();
    assert!(
        unavailable.to_string().contains("Medication/"),
        "the card names the unreadable Medication: {unavailable}"
    );
}

/// Issue 12 item 4: every card of every hook answer links its profile's source, as configured
/// (`[rules] source_url_ansm_2019` / `source_url_ema_2020`), so the EHR's "Source" link works.
#[tokio::test]
async fn every_card_links_the_configured_source_of_its_profile() {
    const ANSM: &str = "https://intranet.hopital.example/docs/lemtrada-ansm-2019.pdf";
    const EMA: &str = "https://intranet.hopital.example/docs/lemtrada-ema-2020.pdf";
    for (profile, url) in [("ansm-2019", ANSM), ("ema-2020", EMA)] {
        let app = spawn_app_with(|raw| {
            raw.rules.profile = profile.to_owned();
            raw.rules.source_url_ansm_2019 = ANSM.to_owned();
            raw.rules.source_url_ema_2020 = EMA.to_owned();
        })
        .await;
        let mut cards = 0;
        for name in fixture_hook_names() {
            let request = fixture_hook(&name);
            let response = app.post_hook(service_for(&request), &request).await;
            assert_eq!(response.status(), 200, "{name}");
            let body: Value = response.json().await.unwrap();
            for card in body["cards"].as_array().unwrap() {
                assert_eq!(card["source"]["url"], url, "{name} ({profile}): {card}");
                cards += 1;
            }
        }
        assert!(cards > 0, "{profile}: the fixtures give cards");
    }
}
