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

use serde_json::Value;

use super::parse::resource_type;

/// One `entry` of a Bundle: its `fullUrl` and `resource`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub full_url: Option<String>,
    pub resource: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Prefetched {
    Absent,
    Null,
    Resource(Value),
    Complete(Vec<Entry>),
    Partial {
        entries: Vec<Entry>,
        next: String,
    },
    /// An OperationOutcome: its diagnostics (trimmed).
    Error(String),
    /// Something else (an array, a string, a Bundle of another shape): what it was.
    Invalid(String),
}

impl Prefetched {
    /// Classifies the value under a key; `single` is the resource type expected for a read
    /// template (`Patient/{{context.patientId}}`), `None` for a search.
    pub fn classify(value: Option<Value>, single: Option<&str>) -> Self {
        let value = match value {
            None => return Prefetched::Absent,
            Some(Value::Null) => return Prefetched::Null,
            Some(v) => v,
        };
        match resource_type(&value) {
            Some("OperationOutcome") => Prefetched::Error(outcome_text(&value)),
            Some("Bundle") => {
                let next = next_link(&value);
                let entries = bundle_entries(value);
                match next {
                    Some(next) => Prefetched::Partial { entries, next },
                    None => Prefetched::Complete(entries),
                }
            }
            Some(ty) if Some(ty) == single => Prefetched::Resource(value),
            Some(ty) => Prefetched::Invalid(format!("a {ty} resource")),
            None => Prefetched::Invalid("not a FHIR resource".to_owned()),
        }
    }
}

/// The `link` with `relation: next`, if any.
pub fn next_link(bundle: &Value) -> Option<String> {
    bundle
        .get("link")?
        .as_array()?
        .iter()
        .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
        .and_then(|l| l.get("url"))
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
}

/// Moves the entries out of a Bundle. Entries without a resource, and `search.mode = outcome`
/// entries (a server's notes about the search), are skipped.
pub fn bundle_entries(bundle: Value) -> Vec<Entry> {
    let Value::Object(mut b) = bundle else {
        return Vec::new();
    };
    let Some(Value::Array(entries)) = b.remove("entry") else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|e| {
            let Value::Object(mut e) = e else { return None };
            let outcome = e
                .get("search")
                .and_then(|s| s.get("mode"))
                .and_then(Value::as_str)
                == Some("outcome");
            let resource = e.remove("resource")?;
            if outcome || !resource.is_object() {
                return None;
            }
            let full_url = match e.remove("fullUrl") {
                Some(Value::String(s)) => Some(s),
                _ => None,
            };
            Some(Entry { full_url, resource })
        })
        .collect()
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

    #[test]
    fn each_shape_is_classified() {
        assert_eq!(Prefetched::classify(None, None), Prefetched::Absent);
        assert_eq!(
            Prefetched::classify(Some(Value::Null), None),
            Prefetched::Null
        );
        assert!(matches!(
            Prefetched::classify(
                Some(json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout", "diagnostics": "upstream timed out"}]})),
                None
            ),
            Prefetched::Error(t) if t == "upstream timed out"
        ));
        assert!(matches!(
            Prefetched::classify(
                Some(json!({"resourceType": "Patient", "id": "p"})),
                Some("Patient")
            ),
            Prefetched::Resource(_)
        ));
        assert!(matches!(
            Prefetched::classify(Some(json!({"resourceType": "Patient"})), None),
            Prefetched::Invalid(_)
        ));
        assert!(matches!(
            Prefetched::classify(Some(json!([1])), None),
            Prefetched::Invalid(_)
        ));
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
        match Prefetched::classify(Some(b), None) {
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
            Prefetched::classify(Some(json!({"resourceType": "Bundle"})), None),
            Prefetched::Complete(vec![])
        );
    }
}
