//! The elements of each FHIR R4 resource the rules read, as borrowed serde projections.
//!
//! A history resource (Patient, Condition, MedicationRequest/Statement/Administration,
//! Observation, AllergyIntolerance) is read straight from its JSON text into one [`Resource`]:
//! exactly the elements `fhir::facts` turns into facts, strings borrowed from the request body
//! (or the FHIR server's answer) where they hold no escapes. Nothing is built for the elements
//! the rules do not read (narrative, identifiers, notes, dosage, meta, extensions…): serde skips
//! them without building a tree (issue 13 §2, docs/architecture.md §The hook path).
//!
//! What real clients send and R4 does not allow is read as the fhirbolt path read it
//! (tests/data/real-client/, docs/stack-notes.md): `null` is absent, a single object stands for a
//! one-element array, a missing `status`/`intent`/`medication[x]` claims nothing. An element the
//! projection reads that has the wrong JSON type (a number where a code is due, an object where a
//! date is due) is an error: the caller turns it into a "could not check" finding naming the
//! resource and the element, because a condition or lab that cannot be read must not pass as
//! absent. Elements the rules never read are not checked.
//!
//! The one element name read with different shapes across the types is none: each name below
//! has one R4 type in every resource type that has it, so one projection serves them all.
//!
//! fhirbolt keeps the draft orders and the Medications (few, small, and validated whole): see
//! [`super::parse`].

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// A JSON string, borrowed from the input when it holds no escape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'a> Text<'a> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// The trimmed, non-empty text of an optional string element.
pub fn text<'s>(t: &'s Option<Text<'_>>) -> Option<&'s str> {
    t.as_ref()
        .map(|t| t.as_str().trim())
        .filter(|s| !s.is_empty())
}

/// An R4 array element (0..*): a JSON array, or a single object where real clients send one
/// (the CDS Hooks Sandbox's `reasonCode`, `category`, `coding`). `null` items are skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<T> List<T> {
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array or an object")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element::<Option<T>>()? {
                    items.extend(item);
                }
                Ok(List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| List(vec![t]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// `Coding`: system, code and display.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Coding<'a> {
    #[serde(borrow, default)]
    pub system: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub code: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub display: Option<Text<'a>>,
}

/// `CodeableConcept`: its codings and text.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct CodeableConcept<'a> {
    #[serde(borrow, default)]
    pub coding: List<Coding<'a>>,
    #[serde(borrow, default)]
    pub text: Option<Text<'a>>,
}

/// `Reference`: the reference and its display.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Reference<'a> {
    #[serde(borrow, default)]
    pub reference: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub display: Option<Text<'a>>,
}

/// `Period`: start and end, as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Period<'a> {
    #[serde(borrow, default)]
    pub start: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub end: Option<Text<'a>>,
}

/// `Quantity` (and `SimpleQuantity`): value, unit and UCUM code. The value is a JSON number
/// (R4 `decimal`); a string there is an error, as in R4.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Quantity<'a> {
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(borrow, default)]
    pub unit: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub code: Option<Text<'a>>,
}

/// `MedicationRequest.dispenseRequest`: only its validity period is read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DispenseRequest<'a> {
    #[serde(borrow, default)]
    pub validity_period: Option<Period<'a>>,
}

/// `Observation.referenceRange`: only `high` is read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ReferenceRange<'a> {
    #[serde(borrow, default)]
    pub high: Option<Quantity<'a>>,
}

/// `Observation.component`: code and quantity value.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component<'a> {
    #[serde(borrow, default)]
    pub code: CodeableConcept<'a>,
    #[serde(borrow, default)]
    pub value_quantity: Option<Quantity<'a>>,
}

/// `AllergyIntolerance.reaction`: only its substance is read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Reaction<'a> {
    #[serde(borrow, default)]
    pub substance: Option<CodeableConcept<'a>>,
}

/// `Medication.ingredient`: the `itemCodeableConcept` is read (an `itemReference` names no code).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingredient<'a> {
    #[serde(borrow, default)]
    pub item_codeable_concept: Option<CodeableConcept<'a>>,
}

/// A contained resource: what resolving `medicationReference: "#id"` reads of a contained
/// Medication (its code and ingredient codes); other contained types are ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contained<'a> {
    #[serde(borrow, default)]
    pub resource_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub code: Option<CodeableConcept<'a>>,
    #[serde(borrow, default)]
    pub ingredient: List<Ingredient<'a>>,
}

/// One history resource: the union of the elements read of every type (each name has one R4
/// type wherever it appears). `resource_type` says which of them apply.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource<'a> {
    #[serde(borrow, default)]
    pub resource_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub contained: List<Contained<'a>>,
    // Patient
    #[serde(borrow, default)]
    pub birth_date: Option<Text<'a>>,
    // Status and coded elements
    #[serde(borrow, default)]
    pub status: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub intent: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub code: Option<CodeableConcept<'a>>,
    #[serde(borrow, default)]
    pub clinical_status: Option<CodeableConcept<'a>>,
    #[serde(borrow, default)]
    pub verification_status: Option<CodeableConcept<'a>>,
    #[serde(borrow, default)]
    pub status_reason: List<CodeableConcept<'a>>,
    #[serde(borrow, default)]
    pub reason_code: List<CodeableConcept<'a>>,
    // medication[x]
    #[serde(borrow, default)]
    pub medication_codeable_concept: Option<CodeableConcept<'a>>,
    #[serde(borrow, default)]
    pub medication_reference: Option<Reference<'a>>,
    // Dates
    #[serde(borrow, default)]
    pub authored_on: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub dispense_request: Option<DispenseRequest<'a>>,
    #[serde(borrow, default)]
    pub effective_date_time: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub effective_period: Option<Period<'a>>,
    #[serde(borrow, default)]
    pub effective_instant: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub issued: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub onset_date_time: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub onset_period: Option<Period<'a>>,
    #[serde(borrow, default)]
    pub recorded_date: Option<Text<'a>>,
    // Observation values
    #[serde(borrow, default)]
    pub value_quantity: Option<Quantity<'a>>,
    #[serde(borrow, default)]
    pub reference_range: List<ReferenceRange<'a>>,
    #[serde(borrow, default)]
    pub component: List<Component<'a>>,
    // AllergyIntolerance
    #[serde(borrow, default)]
    pub reaction: List<Reaction<'a>>,
}

impl Resource<'_> {
    /// `resourceType`, or "" when absent.
    pub fn resource_type(&self) -> &str {
        self.resource_type.as_ref().map_or("", Text::as_str)
    }

    /// `Type/id` (or `Type` without an id), for facts, gaps and messages.
    pub fn reference(&self) -> String {
        reference_string(self.resource_type(), &self.id)
    }
}

/// `Type/id`, or `Type` when the id is absent or empty.
pub fn reference_string(ty: &str, id: &Option<Text<'_>>) -> String {
    let ty = if ty.is_empty() { "Resource" } else { ty };
    match id.as_ref().map(Text::as_str).filter(|s| !s.is_empty()) {
        Some(id) => format!("{ty}/{id}"),
        None => ty.to_owned(),
    }
}

/// What every resource starts with: enough to skip it, or to name it when it cannot be read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Head<'a> {
    #[serde(borrow, default)]
    pub resource_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub id: Option<Text<'a>>,
}

/// Reads the head of a resource's JSON text leniently: a `resourceType` or `id` of the wrong
/// type, or text that is not an object, gives an empty head rather than an error.
pub fn head(json: &str) -> Head<'_> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Loose<'a> {
        #[serde(borrow, default, rename = "resourceType")]
        resource_type: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow, default)]
        id: Option<&'a serde_json::value::RawValue>,
    }
    let Ok(loose) = serde_json::from_str::<Loose<'_>>(json) else {
        return Head::default();
    };
    fn string(raw: Option<&serde_json::value::RawValue>) -> Option<Text<'_>> {
        raw.and_then(|r| serde_json::from_str::<Text<'_>>(r.get()).ok())
    }
    Head {
        resource_type: string(loose.resource_type),
        id: string(loose.id),
    }
}

/// Reads a history resource from its JSON text. The error names the element that could not be
/// read (`code.coding[0].code: invalid type: integer `86406008`, expected a string`).
pub fn read(json: &str) -> Result<Resource<'_>, String> {
    match serde_json::from_str::<Resource<'_>>(json) {
        Ok(r) => Ok(r),
        // Only on the error path: the path of the element costs a second reading.
        Err(_) => Err(located_error(json)),
    }
}

/// The error of reading `json` as a [`Resource`], with the path of the element at fault.
fn located_error(json: &str) -> String {
    let mut de = serde_json::Deserializer::from_str(json);
    match serde_path_to_error::deserialize::<_, Resource<'_>>(&mut de) {
        Ok(_) => "the resource does not fit FHIR R4".to_owned(),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            // serde_json's position is in the resource's text, not the request: useless to a reader.
            let inner = match inner.rfind(" at line ") {
                Some(at) => inner[..at].to_owned(),
                None => inner,
            };
            if path.is_empty() || path == "." {
                inner
            } else {
                format!("{path}: {inner}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let json = r#"{"resourceType": "Condition", "id": "c\u00e91", "code": {"text": "SEP"}}"#;
        let r = read(json).unwrap();
        assert!(matches!(
            r.resource_type.as_ref().unwrap().0,
            Cow::Borrowed(_)
        ));
        assert!(matches!(r.id.as_ref().unwrap().0, Cow::Owned(_)));
        assert_eq!(r.reference(), "Condition/cé1");
    }

    #[test]
    fn single_objects_nulls_and_unknown_elements_are_read_as_real_clients_send_them() {
        let r = read(
            r#"{"resourceType": "MedicationRequest", "id": "x", "status": null,
                "reasonCode": {"coding": {"system": "http://snomed.info/sct", "code": "24700007"}},
                "note": [{"text": "n"}], "dosageInstruction": 5, "contained": null,
                "statusReason": [null, {"text": "stopped"}]}"#,
        )
        .unwrap();
        assert_eq!(r.status, None);
        assert_eq!(r.reason_code.0.len(), 1);
        assert_eq!(r.reason_code.0[0].coding.0.len(), 1);
        assert_eq!(r.status_reason.0.len(), 1);
        assert!(r.contained.0.is_empty());
    }

    #[test]
    fn a_read_element_of_the_wrong_type_is_an_error_naming_it() {
        let e = read(
            r#"{"resourceType": "Condition", "id": "c1",
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": 24700007}]}}"#,
        )
        .unwrap_err();
        assert!(
            e.starts_with("code.coding[0].code: invalid type: integer"),
            "{e}"
        );
        assert!(!e.contains("line"), "{e}");
        let e = read(r#"{"resourceType": "Observation", "valueQuantity": {"value": "3.2"}}"#)
            .unwrap_err();
        assert!(e.starts_with("valueQuantity.value:"), "{e}");
        assert!(read("[1, 2]").is_err());
        assert!(read(r#"{"resourceType": "Patient", "birthDate": {"y": 1}}"#).is_err());
    }

    #[test]
    fn the_head_of_anything_is_read_without_failing() {
        let h = head(r#"{"id": "7", "resourceType": "Medication", "code": 5}"#);
        assert_eq!(h.resource_type.unwrap().as_str(), "Medication");
        assert_eq!(h.id.unwrap().as_str(), "7");
        let h = head(r#"{"id": ["x"], "resourceType": 3}"#);
        assert!(h.resource_type.is_none() && h.id.is_none());
        assert!(head("not json").resource_type.is_none());
    }
}
