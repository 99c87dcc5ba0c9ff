//! Classifying what the CDS Client put under each prefetch key (docs/wire-contract.md §Prefetch templates).
//!
//! | Value under the key | Meaning | What the service does |
//! |---|---|---|
//! | key absent | not prefetched | query `fhirServer` |
//! | `null` | the client has no data (CDS Hooks 2.0) | no resources, no query |
//! | `OperationOutcome` | the client's prefetch failed | query `fhirServer` |
//! | a resource (`patient`) | the data | use it |
//! | searchset `Bundle` without `next` | complete | use it |
//! | searchset `Bundle` with `next` | first page(s) only | use it, fetch the remaining pages |
//!
//! A value is read once, as a [`RawBundle`]: the links, and each entry's `resource` kept as JSON
//! text (`&RawValue`, borrowed from the request body) for `fhir::model` to read only when the
//! rules need it. The FHIR server's pages go through the same reader (`fhir::client`).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::model::{head, List, Text};

/// One `entry` of a Bundle: its `fullUrl` and `resource` (JSON text: borrowed from the request
/// body, or owned when it came from the FHIR server).
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub full_url: Option<String>,
    pub resource: Cow<'a, RawValue>,
}

impl Entry<'_> {
    /// The entry with its resource owned (for entries read from a FHIR server's answer).
    pub fn into_owned(self) -> Entry<'static> {
        Entry {
            full_url: self.full_url,
            resource: Cow::Owned(self.resource.into_owned()),
        }
    }
}

impl PartialEq for Entry<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.full_url == other.full_url && self.resource.get() == other.resource.get()
    }
}

#[derive(Debug, Clone)]
pub enum Prefetched<'a> {
    Absent,
    Null,
    Resource(Cow<'a, RawValue>),
    Complete(Vec<Entry<'a>>),
    Partial {
        entries: Vec<Entry<'a>>,
        next: String,
    },
    /// An OperationOutcome: its diagnostics (trimmed).
    Error(String),
    /// Something else (an array, a string, a Bundle of another shape): what it was.
    Invalid(String),
}

impl PartialEq for Prefetched<'_> {
    fn eq(&self, other: &Self) -> bool {
        use Prefetched::*;
        match (self, other) {
            (Absent, Absent) | (Null, Null) => true,
            (Resource(a), Resource(b)) => a.get() == b.get(),
            (Complete(a), Complete(b)) => a == b,
            (
                Partial {
                    entries: a,
                    next: n,
                },
                Partial {
                    entries: b,
                    next: m,
                },
            ) => a == b && n == m,
            (Error(a), Error(b)) | (Invalid(a), Invalid(b)) => a == b,
            _ => false,
        }
    }
}

/// What is read of a prefetch value or a FHIR server's answer: its type, links, entries (each
/// resource as JSON text) and, for an OperationOutcome, its issues. Everything else is skipped.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawBundle<'a> {
    #[serde(borrow, default)]
    pub resource_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    link: List<Link<'a>>,
    #[serde(borrow, default)]
    entry: List<RawEntry<'a>>,
    #[serde(borrow, default)]
    issue: Option<&'a RawValue>,
}

#[derive(Debug, Default, Deserialize)]
struct Link<'a> {
    #[serde(borrow, default)]
    relation: Option<Text<'a>>,
    #[serde(borrow, default)]
    url: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry<'a> {
    #[serde(borrow, default)]
    full_url: Option<Text<'a>>,
    #[serde(borrow, default)]
    resource: Option<&'a RawValue>,
    #[serde(borrow, default)]
    search: Option<Search<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Search<'a> {
    #[serde(borrow, default)]
    mode: Option<Text<'a>>,
}

/// Whether a JSON text is an object (its first character, JSON text has no leading space here).
fn is_object(raw: &str) -> bool {
    raw.trim_start().starts_with('{')
}

impl<'a> RawBundle<'a> {
    /// Reads a JSON object as a Bundle-shaped value; `Err` says what could not be read.
    pub fn read(raw: &'a str) -> Result<Self, String> {
        serde_json::from_str(raw).map_err(|e| {
            let e = e.to_string();
            match e.rfind(" at line ") {
                Some(at) => e[..at].to_owned(),
                None => e,
            }
        })
    }

    pub fn resource_type(&self) -> Option<&str> {
        self.resource_type.as_ref().map(Text::as_str)
    }

    /// The `link` with `relation: next`, if any.
    pub fn next_link(&self) -> Option<String> {
        self.link
            .iter()
            .find(|l| l.relation.as_ref().map(Text::as_str) == Some("next"))
            .and_then(|l| l.url.as_ref())
            .map(Text::as_str)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
    }

    /// The entries, borrowed. Entries without a resource (or whose resource is not an object),
    /// and `search.mode = outcome` entries (a server's notes about the search), are skipped.
    pub fn entries(&self) -> Vec<Entry<'a>> {
        self.entry
            .iter()
            .filter_map(|e| {
                let outcome = e
                    .search
                    .as_ref()
                    .and_then(|s| s.mode.as_ref())
                    .map(Text::as_str)
                    == Some("outcome");
                let resource = e.resource?;
                if outcome || !is_object(resource.get()) {
                    return None;
                }
                Some(Entry {
                    full_url: e.full_url.as_ref().map(|u| u.as_str().to_owned()),
                    resource: Cow::Borrowed(resource),
                })
            })
            .collect()
    }

    /// The diagnostics (else details text, else code) of an OperationOutcome's issues, trimmed.
    pub fn outcome_text(&self) -> String {
        let issues = self
            .issue
            .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
            .unwrap_or(Value::Null);
        outcome_text(&serde_json::json!({ "issue": issues }))
    }
}

impl<'a> Prefetched<'a> {
    /// Classifies the value under a key; `single` is the resource type expected for a read
    /// template (`Patient/{{context.patientId}}`), `None` for a search.
    pub fn classify(value: Option<&'a RawValue>, single: Option<&str>) -> Self {
        let raw = match value {
            None => return Prefetched::Absent,
            Some(raw) if raw.get().trim() == "null" => return Prefetched::Null,
            Some(raw) => raw,
        };
        if !is_object(raw.get()) {
            return Prefetched::Invalid("not a FHIR resource".to_owned());
        }
        let bundle = match RawBundle::read(raw.get()) {
            Ok(b) => b,
            Err(e) => {
                return match head(raw.get()).resource_type {
                    Some(ty) if ty.as_str() == "Bundle" => {
                        Prefetched::Invalid(format!("a Bundle that cannot be read: {e}"))
                    }
                    Some(ty) if Some(ty.as_str()) == single => {
                        Prefetched::Resource(Cow::Borrowed(raw))
                    }
                    Some(ty) => Prefetched::Invalid(format!("a {} resource", ty.as_str())),
                    None => Prefetched::Invalid("not a FHIR resource".to_owned()),
                }
            }
        };
        match bundle.resource_type() {
            Some("OperationOutcome") => Prefetched::Error(bundle.outcome_text()),
            Some("Bundle") => {
                let entries = bundle.entries();
                match bundle.next_link() {
                    Some(next) => Prefetched::Partial { entries, next },
                    None => Prefetched::Complete(entries),
                }
            }
            Some(ty) if Some(ty) == single => Prefetched::Resource(Cow::Borrowed(raw)),
            Some(ty) => Prefetched::Invalid(format!("a {ty} resource")),
            None => Prefetched::Invalid("not a FHIR resource".to_owned()),
        }
    }
}

/// The diagnostics (else details text, else code) of an OperationOutcome's issues, trimmed.
pub fn outcome_text(oo: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(issues) = oo.get("issue").and_then(Value::as_array) {
        for i in issues {
            let t = i
                .get("diagnostics")
                .and_then(Value::as_str)
                .or_else(|| i.get("details")?.get("text")?.as_str())
                .or_else(|| i.get("code")?.as_str());
            if let Some(t) = t {
                parts.push(t.to_owned());
            }
        }
    }
    let mut s = if parts.is_empty() {
        "OperationOutcome".to_owned()
    } else {
        parts.join("; ")
    };
    if s.chars().count() > 200 {
        s = s.chars().take(200).collect::<String>() + "…";
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn classify(v: Value) -> Prefetched<'static> {
        let raw: &'static RawValue = Box::leak(serde_json::value::to_raw_value(&v).unwrap());
        Prefetched::classify(Some(raw), None)
    }

    #[test]
    fn each_shape_is_classified() {
        assert_eq!(Prefetched::classify(None, None), Prefetched::Absent);
        let null = serde_json::value::to_raw_value(&Value::Null).unwrap();
        assert_eq!(Prefetched::classify(Some(&null), None), Prefetched::Null);
        assert!(matches!(
            classify(json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout", "diagnostics": "upstream timed out"}]})),
            Prefetched::Error(t) if t == "upstream timed out"
        ));
        let patient =
            serde_json::value::to_raw_value(&json!({"resourceType": "Patient", "id": "p"}))
                .unwrap();
        assert!(matches!(
            Prefetched::classify(Some(&patient), Some("Patient")),
            Prefetched::Resource(_)
        ));
        assert!(matches!(
            classify(json!({"resourceType": "Patient"})),
            Prefetched::Invalid(_)
        ));
        assert!(matches!(classify(json!([1])), Prefetched::Invalid(_)));
    }

    #[test]
    fn a_bundle_with_next_is_partial_and_outcome_entries_are_skipped() {
        let b = json!({
            "resourceType": "Bundle", "type": "searchset",
            "link": [{"relation": "self", "url": "http://x/Condition?patient=p"},
                     {"relation": "next", "url": "http://x/Condition?patient=p&_page=2"}],
            "entry": [
                {"fullUrl": "http://x/Condition/1", "resource": {"resourceType": "Condition", "id": "1"}, "search": {"mode": "match"}},
                {"resource": {"resourceType": "OperationOutcome"}, "search": {"mode": "outcome"}},
                {"fullUrl": "http://x/Condition/2"}
            ]
        });
        match classify(b) {
            Prefetched::Partial { entries, next } => {
                assert_eq!(entries.len(), 1);
                assert_eq!(entries[0].full_url.as_deref(), Some("http://x/Condition/1"));
                assert!(next.ends_with("_page=2"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bundle_without_type_or_entries_is_complete_and_empty() {
        assert_eq!(
            classify(json!({"resourceType": "Bundle"})),
            Prefetched::Complete(vec![])
        );
    }

    #[test]
    fn a_bundle_whose_entries_cannot_be_read_is_invalid_not_empty() {
        // A Bundle whose `entry` is not a list of entries used to give no resources: a record
        // that cannot be read must not pass as an empty one.
        for bad in [
            json!({"resourceType": "Bundle", "entry": 5}),
            json!({"resourceType": "Bundle", "entry": [{"fullUrl": 7, "resource": {}}]}),
        ] {
            assert!(
                matches!(classify(bad.clone()), Prefetched::Invalid(ref m) if m.starts_with("a Bundle that cannot be read")),
                "{bad}"
            );
        }
    }
}
