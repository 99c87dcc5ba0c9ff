//! Records shaped as hospitals keep them (issue 11), over HTTP: what the card says, not only its
//! topic. `hooks.rs` checks every fixture's topics and indicators; these check the content that
//! makes each case safe.

use serde_json::{json, Value};

use crate::helpers::*;

async fn answer(profile: &str, language: &str, fixture: &str) -> Vec<Value> {
    let app = spawn_app_with(|raw| {
        raw.rules.profile = profile.to_owned();
        raw.rules.language = language.to_owned();
    })
    .await;
    let request = fixture_hook(fixture);
    let response = app.post_hook(service_for(&request), &request).await;
    assert_eq!(response.status(), 200, "{fixture}");
    let body: Value = response.json().await.unwrap();
    assert_valid_response(&body, &request);
    body["cards"].as_array().cloned().unwrap_or_default()
}

fn card<'a>(cards: &'a [Value], topic: &str) -> &'a Value {
    cards
        .iter()
        .find(|c| c["source"]["topic"]["code"] == topic)
        .unwrap_or_else(|| panic!("no {topic} card in {cards:#?}"))
}

fn detail(card: &Value) -> &str {
    card["detail"].as_str().unwrap_or_default()
}

/// Point 1: a proposal never given does not make the patient "re-treated": R1 blocks the minor
/// with PPMS, and the card names the proposal so the pharmacist can check it.
#[tokio::test]
async fn a_proposal_for_alemtuzumab_keeps_the_initiation_check_on() {
    let cards = answer(
        "ansm-2019",
        "en",
        "proposal-only-ppms-teen--order-sign.json",
    )
    .await;
    let initiation = card(&cards, "initiation-eligibility");
    assert_eq!(initiation["indicator"], "critical");
    assert!(
        detail(initiation).contains("MedicationRequest/p19-mr-alemtuzumab-proposal"),
        "{}",
        detail(initiation)
    );
    assert!(cards
        .iter()
        .all(|c| c["source"]["topic"]["code"] != "re-administration"));
    // A minor is not offered "all other DMTs contraindicated" (point 12).
    let reasons: Vec<&str> = initiation["overrideReasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(
        !reasons.contains(&"all-other-dmts-contraindicated"),
        "{reasons:?}"
    );
    assert!(!reasons.is_empty());
}

/// Point 2: an order pended on 2026-06-01 and signed on 2026-11-25 is judged on 2026-11-25: the
/// liver panel of 2026-05-20 is stale, and the card shows both dates.
#[tokio::test]
async fn a_pended_order_is_judged_at_the_call_date() {
    let cards = answer(
        "ansm-2019",
        "fr",
        "pended-draft-stale-panel--order-sign.json",
    )
    .await;
    let liver = card(&cards, "liver-function");
    assert_eq!(liver["indicator"], "warning");
    assert!(detail(liver).contains("25/11/2026"), "{}", detail(liver));
    assert!(detail(liver).contains("01/06/2026"), "{}", detail(liver));
    // The patient who turned 18 since authoredOn is not blocked as a minor.
    let cards = answer("ansm-2019", "en", "turned-18-since-draft--order-sign.json").await;
    assert!(cards
        .iter()
        .all(|c| c["source"]["topic"]["code"] != "initiation-eligibility"));
}

/// Point 5: HIV and hypersensitivity to alemtuzumab are contraindications under the default
/// profile too, each with its evidence.
#[tokio::test]
async fn hiv_and_hypersensitivity_are_checked_under_ansm_2019() {
    for (fixture, evidence) in [
        ("hiv-contraindication--order-sign.json", "Condition/p25-"),
        (
            "alemtuzumab-hypersensitivity--order-sign.json",
            "AllergyIntolerance/p26-",
        ),
    ] {
        let cards = answer("ansm-2019", "en", fixture).await;
        let ci = card(&cards, "contraindication");
        assert_eq!(ci["indicator"], "critical", "{fixture}");
        assert!(detail(ci).contains(evidence), "{fixture}: {}", detail(ci));
        assert!(
            ci["suggestions"][0]["actions"][0]["type"] == "delete",
            "{fixture}: {ci:#}"
        );
    }
}

/// Point 5, ema-2020: an anticoagulant drafted in the same call is a contraindication; under
/// ansm-2019 it is not.
#[tokio::test]
async fn an_anticoagulant_drafted_with_alemtuzumab_is_an_ema_2020_contraindication() {
    let ema = answer(
        "ema-2020",
        "en",
        "concurrent-apixaban-draft--order-sign.json",
    )
    .await;
    let ci = card(&ema, "contraindication");
    assert!(detail(ci).contains("MedicationRequest/"), "{}", detail(ci));
    let ansm = answer(
        "ansm-2019",
        "en",
        "concurrent-apixaban-draft--order-sign.json",
    )
    .await;
    assert!(ansm
        .iter()
        .all(|c| c["source"]["topic"]["code"] != "contraindication"));
}

/// Issue 18 item 3: angina and cervicocephalic arterial dissection, coded as an EHR records them
/// (SNOMED CT or ICD-10) and only a history (`inactive`), on an otherwise eligible patient: under
/// ema-2020 a critical contraindication card naming the kind and the Condition; under ansm-2019
/// none.
#[tokio::test]
async fn angina_and_arterial_dissection_by_code_are_ema_2020_contraindications() {
    let app_for = |profile: &'static str| {
        spawn_app_with(move |raw| {
            raw.rules.profile = profile.to_owned();
            raw.rules.language = "en".to_owned();
        })
    };
    let (ema, ansm) = (app_for("ema-2020").await, app_for("ansm-2019").await);
    let angina = "history of angina pectoris";
    let dissection = "history of cervicocephalic arterial dissection";
    for (system, code, kind) in [
        ("http://snomed.info/sct", "194828000", angina),
        ("http://hl7.org/fhir/sid/icd-10", "I20.9", angina),
        ("http://snomed.info/sct", "230730001", dissection),
        ("http://hl7.org/fhir/sid/icd-10", "I72.0", dissection),
        ("http://hl7.org/fhir/sid/icd-10", "I72.6", dissection),
        ("http://hl7.org/fhir/sid/icd-10", "I67.0", dissection),
    ] {
        let mut request = fixture_hook("naive-eligible-two-dmts--order-sign.json");
        let id = format!("p01-history-{}", code.replace('.', "-"));
        let conditions = &mut request["prefetch"]["conditions"];
        conditions["entry"].as_array_mut().unwrap().push(json!({
            "fullUrl": format!("Condition/{id}"),
            "resource": {
                "resourceType": "Condition",
                "id": id,
                "clinicalStatus": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "inactive"
                }]},
                "verificationStatus": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "confirmed"
                }]},
                "code": {"coding": [{"system": system, "code": code}]},
                "subject": {"reference": "Patient/p01-patient"},
                "onsetDateTime": "2015-03-02"
            },
            "search": {"mode": "match"}
        }));
        conditions["total"] = json!(2);

        let r = ema.post_hook(service_for(&request), &request).await;
        assert_eq!(r.status(), 200, "{code}");
        let body: Value = r.json().await.unwrap();
        assert_valid_response(&body, &request);
        let cards = body["cards"].as_array().cloned().unwrap_or_default();
        let ci = card(&cards, "contraindication");
        assert_eq!(ci["indicator"], "critical", "{code}: {ci:#}");
        let text = detail(ci);
        assert!(
            text.to_lowercase().contains(kind),
            "{code}: {kind:?} not in {text}"
        );
        assert!(text.contains(&format!("Condition/{id}")), "{code}: {text}");

        let r = ansm.post_hook(service_for(&request), &request).await;
        assert_eq!(r.status(), 200, "{code}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["cards"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["source"]["topic"]["code"] != "contraindication"),
            "{code} under ansm-2019: {body}"
        );
    }
}
