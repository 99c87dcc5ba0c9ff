//! The discovery document (`GET /cds-services`): the three services and their prefetch templates.
//!
//! This is the only place the services are defined; `cds-hooks/discovery.json` is a copy of what
//! this produces and a test keeps them equal.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::rules::HookKind;

/// CDS Hooks 2.0 discovery response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discovery {
    pub services: Vec<ServiceDefinition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDefinition {
    /// The hook this service should be invoked on.
    pub hook: String,
    /// The human-friendly name of this service.
    pub title: String,
    /// The description of this service.
    pub description: String,
    /// The {id} portion of the URL to this service which is available at `{baseUrl}/cds-services/{id}`.
    pub id: String,
    /// An object containing key/value pairs of FHIR queries that this service is requesting the CDS Client to perfom and provide on each service call.
    pub prefetch: Map<String, Value>,
    /// Human-friendly description of any preconditions for the use of this CDS Service.
    pub usage_requirements: String,
}

/// One prefetch template of the contract, and the hooks that need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefetchTemplate {
    pub key: &'static str,
    /// The FHIR query with CDS Hooks 2.0 tokens only.
    pub query: &'static str,
    pub hooks: &'static [HookKind],
}

const ORDERS: &[HookKind] = &[HookKind::OrderSign, HookKind::OrderSelect];
const ALL: &[HookKind] = &[
    HookKind::OrderSign,
    HookKind::OrderSelect,
    HookKind::PatientView,
];

/// The prefetch templates of cds-contract.md §Prefetch templates, plus `bloodPressure` (the
/// contract allows vital-sign keys) for the ema-2020 uncontrolled-hypertension check.
pub const PREFETCH_TEMPLATES: &[PrefetchTemplate] = &[
    PrefetchTemplate {
        key: "patient",
        query: "Patient/{{context.patientId}}",
        hooks: ORDERS,
    },
    PrefetchTemplate {
        key: "conditions",
        query: "Condition?patient={{context.patientId}}",
        hooks: ORDERS,
    },
    PrefetchTemplate {
        key: "medicationRequests",
        query: "MedicationRequest?patient={{context.patientId}}",
        hooks: ALL,
    },
    PrefetchTemplate {
        key: "medicationStatements",
        query: "MedicationStatement?patient={{context.patientId}}",
        hooks: ALL,
    },
    PrefetchTemplate {
        key: "medicationAdministrations",
        query: "MedicationAdministration?patient={{context.patientId}}",
        hooks: ALL,
    },
    PrefetchTemplate {
        key: "liverLabs",
        query: "Observation?patient={{context.patientId}}&code=http://loinc.org|1742-6,http://loinc.org|1920-8,http://loinc.org|1975-2&_sort=-date",
        hooks: ALL,
    },
    PrefetchTemplate {
        key: "bloodPressure",
        query: "Observation?patient={{context.patientId}}&code=http://loinc.org|85354-9,http://loinc.org|8480-6,http://loinc.org|8462-4&_sort=-date",
        hooks: ORDERS,
    },
];

/// The prefetch templates a hook needs.
pub fn templates_for(hook: HookKind) -> impl Iterator<Item = &'static PrefetchTemplate> {
    PREFETCH_TEMPLATES
        .iter()
        .filter(move |t| t.hooks.contains(&hook))
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

pub fn hook_name(hook: HookKind) -> &'static str {
    match hook {
        HookKind::OrderSign => "order-sign",
        HookKind::OrderSelect => "order-select",
        HookKind::PatientView => "patient-view",
    }
}

const ORDER_USAGE: &str = "Send every draft MedicationRequest in context.draftOrders. Alemtuzumab is recognised by \
RxNorm (117055, 1594658 and related), ATC (L04AG06, L04AA34, L01XC04), SNOMED CT (129472003), or by the text \
\"alemtuzumab\"/\"lemtrada\"; a medicationReference must be contained, an entry of draftOrders or of a prefetch \
Bundle, or readable from fhirServer. Provide the prefetch keys, or fhirServer with fhirAuthorization (read access \
to Patient, Condition, MedicationRequest, MedicationStatement, MedicationAdministration, Medication, Observation). \
Calls are signed with a JWT (ES384 or RS384) whose aud is this service's URL.";

const VIEW_USAGE: &str = "Provide the prefetch keys, or fhirServer with fhirAuthorization (read access to \
MedicationRequest, MedicationStatement, MedicationAdministration, Medication, Observation). Calls are signed with \
a JWT (ES384 or RS384) whose aud is this service's URL.";

/// The discovery document.
pub fn discovery() -> Discovery {
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
                    hook: hook_name(s.hook).to_owned(),
                    title: title.to_owned(),
                    description: description.to_owned(),
                    id: s.id.to_owned(),
                    prefetch: templates_for(s.hook)
                        .map(|t| (t.key.to_owned(), Value::String(t.query.to_owned())))
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

    #[test]
    fn three_services_one_per_hook_with_the_contract_templates() {
        let d = discovery();
        let hooks: Vec<_> = d.services.iter().map(|s| s.hook.as_str()).collect();
        assert_eq!(hooks, ["order-sign", "order-select", "patient-view"]);
        let sign = &d.services[0];
        assert_eq!(sign.prefetch["patient"], "Patient/{{context.patientId}}");
        assert_eq!(
            sign.prefetch["liverLabs"],
            "Observation?patient={{context.patientId}}&code=http://loinc.org|1742-6,http://loinc.org|1920-8,http://loinc.org|1975-2&_sort=-date"
        );
        for s in &d.services {
            for q in s.prefetch.values() {
                // CDS Hooks 2.0 prefetch tokens only.
                let q = q.as_str().unwrap();
                assert!(q.contains("{{context.patientId}}"), "{q}");
                assert!(!q.contains("{{userPractitionerId}}"), "{q}");
            }
        }
    }
}
