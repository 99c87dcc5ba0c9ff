//! Reading FHIR R4 JSON with fhirbolt, tolerant of what real CDS Clients send: the draft orders
//! and the Medications, validated whole (few, small, and what the cards act on). The history
//! resources are read as `fhir::model` projections instead (issue 13 §2: a full typed tree of
//! every record cost ~14× a plain JSON parse).
//!
//! **This is the only place fhirbolt's generic deserializer is instantiated** (each
//! instantiation costs ~22 s of debug build, docs/stack-notes.md); everything else, tests included,
//! calls [`parse_resource`].
//!
//! Known deviations normalised before the typed parse (seen from the official CDS Hooks Sandbox
//! and EHR sandboxes, tests/data/real-client/):
//! - `null` values (fhirbolt rejects them in every mode): dropped;
//! - a single object where R4 has an array (`reasonCode`, `category`, `coding`, …): wrapped here
//!   (the array elements of the resource types the rules read, and `coding` anywhere);
//! - missing required elements that carry no clinical claim, on the resource types the rules read:
//!   `status` → `unknown`, `intent` → `order`, `subject` → `{}`, a missing `medication[x]` or
//!   Observation `code` → an empty concept (which no value set matches);
//! - codings with empty strings: accepted here, ignored by `fhir::facts` (codes must be non-empty).
//!
//! Anything else that does not fit R4 (a number where a code is due, an unknown element, an
//! unknown resource type) is an error: the caller turns it into a "could not check" finding
//! naming the resource, because a condition or lab that cannot be read must not pass as absent.
//!
//! The parse is fhirbolt's **strict** mode. Its lenient modes loop forever on an unknown element
//! whose value is an array (`Field::Unknown` never consumes the value, so the element iterator
//! never advances; found by tests/api/fuzz.rs with `"coding_": [...]`): one such request would
//! pin a worker thread for good.
//!
//! Bundles are never parsed by fhirbolt (its deserializer misreads fields after a nested
//! resource, docs/stack-notes.md): callers walk `entry[]` as `serde_json::Value` and parse each
//! `entry.resource` on its own, so one bad entry loses only itself.

use fhirbolt::model::r4::Resource;
use fhirbolt::serde::{DeserializationConfig, DeserializationMode};
use serde_json::Value;

/// Parses one FHIR R4 resource (any type, nested `contained` included) leniently.
pub fn parse_resource(mut value: Value) -> Result<Resource, String> {
    normalise(&mut value);
    parse_normalised(value)
}

/// Parses one resource from its JSON text ([`parse_resource`]).
pub fn parse_text(json: &str) -> Result<Resource, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    parse_resource(value)
}

/// The known deviations of real clients, normalised (see the module documentation).
pub fn normalise(value: &mut Value) {
    drop_nulls(value);
    fill_required(value);
    wrap_single_objects(value);
}

/// Parses a resource already [`normalise`]d.
pub fn parse_normalised(value: Value) -> Result<Resource, String> {
    // fhirbolt 0.4 panics on some shapes (an empty array where a primitive is due, found by
    // tests/api/fuzz.rs); a resource it cannot read is an error like any other, never a crash.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fhirbolt::json::from_json_value::<Resource>(
            value,
            Some(DeserializationConfig {
                mode: DeserializationMode::Strict,
            }),
        )
        .map_err(|e| e.to_string())
    }))
    .unwrap_or_else(|_| Err("the resource does not fit FHIR R4".to_owned()))
}

/// R4 array elements (0..*) of the resource types the rules read, which real clients sometimes
/// send as a single object.
fn array_elements(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        "MedicationRequest" => &[
            "category",
            "reasonCode",
            "reasonReference",
            "basedOn",
            "supportingInformation",
            "insurance",
            "note",
            "dosageInstruction",
            "detectedIssue",
            "eventHistory",
            "identifier",
            "instantiatesCanonical",
            "instantiatesUri",
        ],
        "MedicationStatement" => &[
            "basedOn",
            "partOf",
            "statusReason",
            "derivedFrom",
            "reasonCode",
            "reasonReference",
            "note",
            "dosage",
            "identifier",
        ],
        "MedicationAdministration" => &[
            "instantiates",
            "partOf",
            "statusReason",
            "supportingInformation",
            "performer",
            "reasonCode",
            "reasonReference",
            "device",
            "note",
            "eventHistory",
            "identifier",
        ],
        "Observation" => &[
            "basedOn",
            "partOf",
            "category",
            "focus",
            "performer",
            "interpretation",
            "note",
            "referenceRange",
            "hasMember",
            "derivedFrom",
            "component",
            "identifier",
        ],
        "Condition" => &[
            "category",
            "bodySite",
            "stage",
            "evidence",
            "note",
            "identifier",
        ],
        "Patient" => &[
            "name",
            "telecom",
            "address",
            "photo",
            "contact",
            "communication",
            "generalPractitioner",
            "link",
            "identifier",
        ],
        "Medication" => &["ingredient", "identifier"],
        _ => &[],
    }
}

/// Wraps single objects where R4 has an array: the resource's own array elements (and those of
/// its contained resources), and `coding`, `extension`, `modifierExtension` at any depth.
fn wrap_single_objects(v: &mut Value) {
    fn wrap(map: &mut serde_json::Map<String, Value>, key: &str) {
        if let Some(item) = map.get_mut(key) {
            if item.is_object() {
                let single = item.take();
                *item = Value::Array(vec![single]);
            }
        }
    }
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in ["coding", "extension", "modifierExtension"] {
                    wrap(map, key);
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if let Value::Object(map) = v {
        let ty = map
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        for key in array_elements(&ty) {
            wrap(map, key);
        }
        if let Some(Value::Array(contained)) = map.get_mut("contained") {
            for c in contained.iter_mut() {
                if let Value::Object(cm) = c {
                    let ty = cm
                        .get("resourceType")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    for key in array_elements(&ty) {
                        wrap(cm, key);
                    }
                }
            }
        }
    }
    walk(v);
}

/// Fills the required elements real clients omit, with values that claim nothing.
fn fill_required(v: &mut Value) {
    let Value::Object(map) = v else { return };
    let ty = map
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let mut default = |key: &str, value: Value| {
        if !map.contains_key(key) {
            map.insert(key.to_owned(), value);
        }
    };
    match ty.as_str() {
        "MedicationRequest" | "MedicationStatement" | "MedicationAdministration" => {
            default("status", Value::String("unknown".to_owned()));
            default("subject", Value::Object(Default::default()));
            if ty == "MedicationRequest" {
                default("intent", Value::String("order".to_owned()));
            }
            if !map.contains_key("medicationCodeableConcept")
                && !map.contains_key("medicationReference")
            {
                map.insert(
                    "medicationCodeableConcept".to_owned(),
                    Value::Object(Default::default()),
                );
            }
        }
        "Observation" => {
            default("status", Value::String("unknown".to_owned()));
            default("code", Value::Object(Default::default()));
        }
        "Condition" => default("subject", Value::Object(Default::default())),
        _ => {}
    }
    if let Some(Value::Array(contained)) = map.get_mut("contained") {
        contained.iter_mut().for_each(fill_required);
    }
}

/// Removes `null` object members and array items, recursively.
fn drop_nulls(v: &mut Value) {
    // FHIR JSON has no nulls, empty strings or empty arrays. fhirbolt 0.4 panics on an empty
    // array (its element iterator unwraps a value that is not there) and spins forever on an
    // empty `Quantity.value` (both found by tests/api/fuzz.rs): drop them all, innermost first.
    fn empty(v: &Value) -> bool {
        v.is_null() || v.as_str() == Some("") || v.as_array().is_some_and(Vec::is_empty)
    }
    match v {
        Value::Object(map) => {
            map.values_mut().for_each(drop_nulls);
            map.retain(|_, item| !empty(item));
        }
        Value::Array(items) => {
            items.iter_mut().for_each(drop_nulls);
            items.retain(|item| !empty(item));
        }
        _ => {}
    }
}

/// `resourceType` of a JSON resource without parsing it.
pub fn resource_type(v: &Value) -> Option<&str> {
    v.get("resourceType").and_then(Value::as_str)
}

/// `Type/id` of a JSON resource, for messages and gap names.
pub fn reference_of(v: &Value) -> String {
    let ty = resource_type(v).unwrap_or("Resource");
    match v.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => format!("{ty}/{id}"),
        _ => ty.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_shape_that_made_fhirbolt_panic_is_read_without_a_panic() {
        // fhirbolt panics on an empty array (`"id": []`, found by tests/api/fuzz.rs); empty
        // arrays are dropped first, and `catch_unwind` stays as the last line of defence.
        let r = parse_resource(serde_json::json!({
            "resourceType": "MedicationRequest", "id": [], "status": "draft", "intent": "order",
            "medicationCodeableConcept": {}, "subject": {}
        }));
        assert!(r.is_ok(), "{r:?}");
        // A non-empty array where a string is due is still an error, never a panic.
        let r = parse_resource(serde_json::json!({
            "resourceType": "MedicationRequest", "id": ["x"], "status": "draft",
            "intent": "order", "medicationCodeableConcept": {}, "subject": {}
        }));
        assert!(r.is_err());
    }

    #[test]
    fn sandbox_single_object_reason_code_and_category_are_read() {
        let r = parse_resource(json!({
            "resourceType": "MedicationRequest", "id": "request-123", "status": "draft",
            "intent": "order", "subject": {"reference": "Patient/pat-1"},
            "category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category", "code": "community"}]},
            "medicationCodeableConcept": {"text": "Lemtrada", "coding": [{"system": "", "code": ""}]},
            "reasonCode": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}], "text": "Diabetes"}
        }))
        .unwrap();
        let Resource::MedicationRequest(mr) = r else {
            panic!("not a MedicationRequest")
        };
        assert_eq!(mr.reason_code.len(), 1);
        assert_eq!(mr.category.len(), 1);
    }

    #[test]
    fn the_sandbox_draft_without_medication_or_intent_is_read() {
        let r = parse_resource(json!({
            "resourceType": "MedicationRequest", "id": "request-123", "status": "draft",
            "subject": {"reference": "Patient/pat-1"}, "authoredOn": "2026-11-25"
        }));
        assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn an_unknown_element_holding_an_array_is_an_error_not_an_endless_loop() {
        // Regression (tests/api/fuzz.rs): fhirbolt's lenient modes never advanced past it.
        let r = parse_resource(json!({
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]},
            "category": [{"coding_": [{"code": "laboratory"}]}]
        }));
        assert!(r.is_err());
    }

    #[test]
    fn empty_arrays_are_dropped_before_fhirbolt_sees_them() {
        // fhirbolt panics on `"category": []` (caught, but then the resource would be lost).
        let r = parse_resource(json!({
            "resourceType": "Observation", "status": "final", "category": [], "note": [null],
            "code": {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]}
        }));
        assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn nulls_and_missing_status_do_not_fail_the_parse() {
        let r = parse_resource(json!({
            "resourceType": "MedicationRequest", "id": "x", "note": null,
            "subject": {"reference": "Patient/p", "display": null},
            "medicationCodeableConcept": {"text": "Lemtrada"}
        }));
        assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn contained_before_status_is_read_through_the_resource_enum() {
        // Regression: fhirbolt misreads fields after a nested resource when deserializing into a
        // concrete type (docs/stack-notes.md); the Resource enum path must keep working.
        let r = parse_resource(json!({
            "resourceType": "MedicationRequest", "id": "x",
            "contained": [{"resourceType": "Medication", "id": "med1", "code": {"text": "Lemtrada"}}],
            "status": "draft", "intent": "order", "subject": {"reference": "Patient/p"},
            "medicationReference": {"reference": "#med1"}, "authoredOn": "2026-11-25"
        }))
        .unwrap();
        let Resource::MedicationRequest(mr) = r else {
            panic!("not a MedicationRequest")
        };
        assert_eq!(mr.contained.len(), 1);
        assert_eq!(mr.status.value.as_deref(), Some("draft"));
        assert_eq!(
            mr.authored_on.and_then(|d| d.value).as_deref(),
            Some("2026-11-25")
        );
    }

    #[test]
    fn a_resource_of_the_wrong_shape_is_an_error_not_a_panic() {
        assert!(parse_resource(json!({"resourceType": "Observation", "status": 5})).is_err());
        assert!(parse_resource(json!({
            "resourceType": "Condition",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": 86406008}]}
        }))
        .is_err());
        assert!(parse_resource(json!({"resourceType": "NoSuchType"})).is_err());
        assert!(parse_resource(json!([1, 2])).is_err());
    }
}
