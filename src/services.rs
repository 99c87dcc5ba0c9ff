//! The three CDS services and their prefetch templates: the only place they are defined. The
//! discovery document (`GET /cds-services`) is built here from them; `cds-hooks/discovery.json` is
//! a copy of what this produces and a test keeps them equal. The same templates give the searches
//! sent to `fhirServer` when a key is not prefetched (`fhir::gather`). The data sets behind the
//! templates (key, query, hooks) are declared once, in `src/rules/data_sets.rs`.

use serde_json::Value;

use crate::rules::{Code, DataQuery, DataSetSpec, HookKind, DATA_SETS};
use crate::terminology::Terminology;
use crate::wire::discovery::{Discovery, ServiceDefinition};

/// One prefetch template of the contract: a row of [`DATA_SETS`] with its query text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefetchTemplate {
    /// The data set's row: its resource types, whether it is a read, the rules it blocks.
    pub spec: &'static DataSetSpec,
    pub key: &'static str,
    /// The FHIR query with CDS Hooks 2.0 tokens only.
    pub query: String,
    pub hooks: &'static [HookKind],
}

/// The prefetch templates of docs/wire-contract.md §Prefetch templates, plus `bloodPressure` (the
/// contract allows vital-sign keys) for the ema-2020 uncontrolled-hypertension check: one per row
/// of [`DATA_SETS`] (`src/rules/data_sets.rs`), in its order.
///
/// Built once at start-up from the configured [`Terminology`] (held in
/// `fhir::GatherSettings`): the `liverLabs` query lists every liver-test code the terminology
/// accepts ([`Terminology::lab_codes`], local codes included), so a result the rules would read
/// is never one the query leaves out. The same templates give the discovery document and the
/// searches sent to `fhirServer` when a key is not prefetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefetchTemplates {
    templates: Vec<PrefetchTemplate>,
}

impl Default for PrefetchTemplates {
    /// The templates of the default terminology (no local codes).
    fn default() -> Self {
        Self::new(&Terminology::default())
    }
}

impl PrefetchTemplates {
    pub fn new(terminology: &Terminology) -> Self {
        let templates = DATA_SETS
            .iter()
            .map(|spec| PrefetchTemplate {
                spec,
                key: spec.key,
                query: query_text(spec.query, terminology),
                hooks: spec.hooks,
            })
            .collect();
        Self { templates }
    }

    /// The prefetch templates a hook needs.
    pub fn for_hook(&self, hook: HookKind) -> impl Iterator<Item = &PrefetchTemplate> {
        self.templates
            .iter()
            .filter(move |t| t.hooks.contains(&hook))
    }

    /// The template of a key.
    pub fn get(&self, key: &str) -> Option<&PrefetchTemplate> {
        self.templates.iter().find(|t| t.key == key)
    }
}

/// The query text of a data set: `{{context.patientId}}` its only token; an observation query
/// lists the codes of its value set in the terminology.
fn query_text(query: DataQuery, terminology: &Terminology) -> String {
    match query {
        DataQuery::Read(ty) => format!("{ty}/{{{{context.patientId}}}}"),
        DataQuery::Search(ty) => format!("{ty}?patient={{{{context.patientId}}}}"),
        DataQuery::Observations(codes) => observation_query(&terminology.query_codes(codes)),
    }
}

/// `Observation?patient={{context.patientId}}&code=<system>|<code>,…&_sort=-date`.
fn observation_query(codes: &[Code]) -> String {
    let tokens: Vec<String> = codes
        .iter()
        .map(|c| format!("{}|{}", token_part(&c.system), token_part(&c.code)))
        .collect();
    format!(
        "Observation?patient={{{{context.patientId}}}}&code={}&_sort=-date",
        tokens.join(",")
    )
}

/// One side of a `system|code` search token: FHIR search escaping (`\`, `|`, `,`, `$` preceded
/// by a backslash), then percent-encoding of what a URL query cannot carry as is. LOINC codes and
/// `http://…` systems stay readable.
fn token_part(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '|' | ',' | '$') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    let mut out = String::with_capacity(escaped.len());
    for b in escaped.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~:/@!'()*;=".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The three services of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub id: &'static str,
    pub hook: HookKind,
}

pub const SERVICES: [Service; 3] = [
    Service {
        id: "alemtuzumab-order-sign",
        hook: HookKind::OrderSign,
    },
    Service {
        id: "alemtuzumab-order-select",
        hook: HookKind::OrderSelect,
    },
    Service {
        id: "alemtuzumab-patient-view",
        hook: HookKind::PatientView,
    },
];

pub fn service(id: &str) -> Option<Service> {
    SERVICES.iter().copied().find(|s| s.id == id)
}

/// The service answering the hook named `hook` (its wire name, [`HookKind::as_str`]).
pub fn service_for_hook(hook: &str) -> Option<Service> {
    let kind = HookKind::from_name(hook)?;
    SERVICES.iter().copied().find(|s| s.hook == kind)
}

const ORDER_USAGE: &str = "Send every draft MedicationRequest in context.draftOrders. Alemtuzumab is recognised by \
RxNorm (117055, 1594658 and related), ATC (L04AG06, L04AA34, L01XC04), SNOMED CT (129472003), or by the text \
\"alemtuzumab\"/\"lemtrada\"; a medicationReference must be contained, an entry of draftOrders or of a prefetch \
Bundle, or readable from fhirServer. Provide the prefetch keys, or fhirServer with fhirAuthorization (read access \
to Patient, Condition, MedicationRequest, MedicationStatement, MedicationAdministration, Medication, Observation, \
AllergyIntolerance). \
Calls are signed with a JWT (ES384 or RS384) whose aud is this service's URL.";

const VIEW_USAGE: &str = "Provide the prefetch keys, or fhirServer with fhirAuthorization (read access to \
MedicationRequest, MedicationStatement, MedicationAdministration, Medication, Observation). Calls are signed with \
a JWT (ES384 or RS384) whose aud is this service's URL.";

/// The discovery document for the configured templates.
pub fn discovery(templates: &PrefetchTemplates) -> Discovery {
    Discovery {
        services: SERVICES
            .iter()
            .map(|s| {
                let (title, description, usage) = match s.hook {
                    HookKind::OrderSign => (
                        "Alemtuzumab (Lemtrada) safety check at order signature",
                        "Checks every draft alemtuzumab order against the ANSM 2019 restrictions (or the EMA 2020 \
                         SmPC, per configuration): initiation eligibility, re-administration after liver injury or \
                         serious immune reactions, liver function, contraindications; reminds infusion monitoring \
                         and patient counselling.",
                        ORDER_USAGE,
                    ),
                    HookKind::OrderSelect => (
                        "Alemtuzumab (Lemtrada) safety check at order selection",
                        "The checks of the order-sign service, run on the selected draft alemtuzumab orders so the \
                         prescriber sees them before completing the order.",
                        ORDER_USAGE,
                    ),
                    HookKind::PatientView => (
                        "Alemtuzumab (Lemtrada) follow-up",
                        "For patients who received alemtuzumab: monthly liver-function monitoring during the 48 \
                         months after the last infusion, and abnormal liver results.",
                        VIEW_USAGE,
                    ),
                };
                ServiceDefinition {
                    hook: s.hook.as_str().to_owned(),
                    title: title.to_owned(),
                    description: description.to_owned(),
                    id: s.id.to_owned(),
                    prefetch: templates
                        .for_hook(s.hook)
                        .map(|t| (t.key.to_owned(), Value::String(t.query.clone())))
                        .collect(),
                    usage_requirements: usage.to_owned(),
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terminology::{LocalCode, LOINC};

    const DEFAULT_LIVER_LABS: &str = "Observation?patient={{context.patientId}}&code=\
        http://loinc.org|1742-6,http://loinc.org|1743-4,http://loinc.org|76625-3,\
        http://loinc.org|1919-0,http://loinc.org|1920-8,http://loinc.org|30239-8,\
        http://loinc.org|14631-6,http://loinc.org|1975-2&_sort=-date";

    #[test]
    fn three_services_one_per_hook_with_the_contract_templates() {
        let d = discovery(&PrefetchTemplates::default());
        let hooks: Vec<_> = d.services.iter().map(|s| s.hook.as_str()).collect();
        assert_eq!(hooks, ["order-sign", "order-select", "patient-view"]);
        let sign = &d.services[0];
        assert_eq!(sign.prefetch["patient"], "Patient/{{context.patientId}}");
        assert_eq!(sign.prefetch["liverLabs"], DEFAULT_LIVER_LABS);
        assert_eq!(
            sign.prefetch["bloodPressure"],
            "Observation?patient={{context.patientId}}&code=http://loinc.org|55284-4,\
             http://loinc.org|85354-9,http://loinc.org|8480-6,http://loinc.org|8462-4&_sort=-date"
        );
        assert_eq!(
            sign.prefetch["medicationRequests"],
            "MedicationRequest?patient={{context.patientId}}"
        );
        assert_eq!(
            sign.prefetch["allergies"],
            "AllergyIntolerance?patient={{context.patientId}}"
        );
        assert_eq!(
            d.services[1].prefetch["allergies"],
            "AllergyIntolerance?patient={{context.patientId}}"
        );
        // Hypersensitivity is an order check: patient-view does not ask for allergies.
        assert!(!d.services[2].prefetch.contains_key("allergies"));
        for s in &d.services {
            for q in s.prefetch.values() {
                // CDS Hooks 2.0 prefetch tokens only.
                let q = q.as_str().unwrap();
                assert!(q.contains("{{context.patientId}}"), "{q}");
                assert!(!q.contains("{{userPractitionerId}}"), "{q}");
            }
        }
    }

    #[test]
    fn each_hook_has_one_spelling_and_one_service() {
        for kind in HookKind::ALL {
            assert_eq!(HookKind::from_name(kind.as_str()), Some(kind));
            let service = service_for_hook(kind.as_str()).unwrap();
            assert_eq!(service.hook, kind);
        }
        let names: Vec<_> = HookKind::ALL.iter().map(|h| h.as_str()).collect();
        assert_eq!(names, ["order-sign", "order-select", "patient-view"]);
        // The wire name is exact: no case folding, no trimming, no other hook.
        for other in [
            "Order-Sign",
            " order-sign",
            "order_sign",
            "encounter-start",
            "",
        ] {
            assert_eq!(HookKind::from_name(other), None, "{other:?}");
            assert!(service_for_hook(other).is_none(), "{other:?}");
        }
    }

    fn local(concept: &str, system: &str, code: &str) -> LocalCode {
        LocalCode {
            concept: concept.to_owned(),
            system: system.to_owned(),
            code: code.to_owned(),
        }
    }

    /// The `code=` tokens of the liverLabs query, as `(system, code)`.
    fn asked(templates: &PrefetchTemplates) -> Vec<(String, String)> {
        let q = &templates.get("liverLabs").unwrap().query;
        let codes = q.split('&').find_map(|p| p.strip_prefix("code=")).unwrap();
        codes
            .split(',')
            .map(|t| {
                let (s, c) = t.split_once('|').unwrap();
                (s.to_owned(), c.to_owned())
            })
            .collect()
    }

    /// A code accepted is a code asked for: every liver-test code of docs/clinical-rules.md §4 and a
    /// configured local code are recognised by `lab_test` **and** listed in the query; and
    /// everything the query lists is recognised.
    #[test]
    fn the_liver_query_asks_for_every_code_the_terminology_accepts() {
        let terminology = Terminology::default()
            .with_local_codes(&[
                local("lab:total-bilirubin", "urn:oid:1.2.250.1.71.1.2.7", "BILT"),
                local("lab:alt", "http://lab.chu.example/codes", "ALAT"),
            ])
            .unwrap();
        let templates = PrefetchTemplates::new(&terminology);
        let asked = asked(&templates);
        let mut accepted: Vec<Code> = [
            "1742-6", "1743-4", "76625-3", "1920-8", "1919-0", "30239-8", "1975-2", "14631-6",
        ]
        .iter()
        .map(|c| Code::new(LOINC, *c))
        .collect();
        accepted.push(Code::new("urn:oid:1.2.250.1.71.1.2.7", "BILT"));
        accepted.push(Code::new("http://lab.chu.example/codes", "ALAT"));
        for code in &accepted {
            assert!(
                terminology.lab_test(std::slice::from_ref(code)).is_some(),
                "{code:?} not accepted"
            );
            assert!(
                asked.contains(&(code.system.clone(), code.code.clone())),
                "{code:?} accepted but not asked for: {asked:?}"
            );
        }
        // Every code the terminology holds for the panel is asked for, and only those.
        let held = terminology.lab_codes();
        assert_eq!(asked.len(), held.len());
        for code in &held {
            assert!(terminology.lab_test(std::slice::from_ref(code)).is_some());
        }
        // The other templates do not depend on the terminology.
        let default = PrefetchTemplates::default();
        for key in ["patient", "conditions", "bloodPressure", "allergies"] {
            assert_eq!(templates.get(key), default.get(key), "{key}");
        }
        assert_eq!(default.get("liverLabs").unwrap().query, DEFAULT_LIVER_LABS);
    }

    #[test]
    fn search_tokens_are_escaped_and_url_safe() {
        assert_eq!(token_part("http://loinc.org"), "http://loinc.org");
        assert_eq!(token_part("1742-6"), "1742-6");
        assert_eq!(token_part("a|b,c$d\\e"), "a%5C%7Cb%5C%2Cc%5C%24d%5C%5Ce");
        assert_eq!(token_part("x&y#z w+é"), "x%26y%23z%20w%2B%C3%A9");
    }
}
