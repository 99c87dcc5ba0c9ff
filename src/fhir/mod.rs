//! FHIR access: from a hook request to the facts the rules need.
//!
//! Prefetch first ([`prefetch`]), then the EHR's FHIR server for what is missing ([`client`]);
//! resources are parsed once each with fhirbolt ([`parse`]) and only those the rules use, then
//! turned into `rules::PatientFacts` ([`facts`]). Anything that could not be obtained becomes a
//! [`DataGap`], which the rules turn into a visible "could not check" finding.

pub mod facts;
pub mod parse;
pub mod prefetch;

use std::collections::HashSet;

use chrono::NaiveDate;
use fhirbolt::model::r4::Resource;
use serde_json::{Map, Value};

use crate::rules::terminology::Terminology;
use crate::rules::{
    DataGap, DataSet, DraftOrder, GapReason, HookKind, MedicationClass, PatientFacts,
};
use crate::wire::context::HookContext;
use crate::wire::discovery::templates_for;
use crate::wire::request::HookRequest;

use facts::{FactBuilder, MedicationIndex, Resolved};
use parse::{parse_resource, reference_of, resource_type};
use prefetch::{bundle_entries, Entry, Prefetched};

/// What the FHIR side needs from configuration.
#[derive(Debug, Clone)]
pub struct GatherSettings {
    pub terminology: Terminology,
    /// `rules.campath_orders`: treat Campath (oncology) products as alemtuzumab for MS.
    pub campath_is_alemtuzumab: bool,
}

/// Everything the rules need for one hook call.
#[derive(Debug, Default)]
pub struct HookData {
    pub facts: PatientFacts,
    /// The alemtuzumab draft orders to evaluate.
    pub orders: Vec<DraftOrder>,
    /// Draft orders whose medication could not be identified (unresolved reference, unreadable).
    pub unidentified_orders: Vec<String>,
    /// Every draft order considered (for the audit), as `MedicationRequest/<id>`.
    pub draft_orders: Vec<String>,
    /// The prefetch keys that were used as sent.
    pub from_prefetch: Vec<String>,
}

impl HookData {
    /// Whether anything in this call is (or may be) an alemtuzumab order.
    pub fn has_alemtuzumab_order(&self) -> bool {
        !self.orders.is_empty()
    }
}

/// Whether a URL's host is a loopback address (`localhost`, 127.0.0.0/8, `[::1]`).
pub fn is_loopback_host(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The data set behind a prefetch key of the contract.
pub fn data_set(key: &str) -> Option<DataSet> {
    Some(match key {
        "patient" => DataSet::Patient,
        "conditions" => DataSet::Conditions,
        "medicationRequests" => DataSet::MedicationRequests,
        "medicationStatements" => DataSet::MedicationStatements,
        "medicationAdministrations" => DataSet::MedicationAdministrations,
        "liverLabs" => DataSet::LiverLabs,
        "bloodPressure" => DataSet::BloodPressure,
        _ => return None,
    })
}

/// The resource types a data set may hold; others are ignored unparsed.
fn wanted_types(data: &DataSet) -> &'static [&'static str] {
    match data {
        DataSet::Patient => &["Patient"],
        DataSet::Conditions => &["Condition"],
        DataSet::MedicationRequests => &["MedicationRequest"],
        DataSet::MedicationStatements => &["MedicationStatement"],
        DataSet::MedicationAdministrations => &["MedicationAdministration"],
        DataSet::LiverLabs | DataSet::BloodPressure => &["Observation"],
        DataSet::Medication(_) | DataSet::Resource(_) => &["Medication"],
    }
}

/// Gathers the facts of a hook call from its prefetch only (no FHIR server). Keys that are
/// absent, failed or incomplete become gaps.
pub fn gather_from_prefetch(
    req: HookRequest,
    hook: HookKind,
    settings: &GatherSettings,
) -> HookData {
    let HookRequest {
        context,
        mut prefetch,
        ..
    } = req;
    let mut keys = Vec::new();
    for t in templates_for(hook) {
        let single = t.key.eq("patient").then_some("Patient");
        keys.push((t.key, Prefetched::classify(prefetch.remove(t.key), single)));
    }
    let mut resolved = Vec::new();
    let mut gaps = Vec::new();
    let mut used = Vec::new();
    for (key, state) in keys {
        let Some(data) = data_set(key) else { continue };
        match state {
            Prefetched::Null => {
                used.push(key.to_owned());
                resolved.push((data, Vec::new()));
            }
            Prefetched::Resource(r) => {
                used.push(key.to_owned());
                resolved.push((
                    data,
                    vec![Entry {
                        full_url: None,
                        resource: r,
                    }],
                ));
            }
            Prefetched::Complete(entries) => {
                used.push(key.to_owned());
                resolved.push((data, entries));
            }
            Prefetched::Partial { entries, .. } => {
                // Without a FHIR server the remaining pages cannot be read: use what we have,
                // and say the data is incomplete.
                resolved.push((data.clone(), entries));
                gaps.push(DataGap {
                    data,
                    reason: GapReason::NotProvided,
                });
            }
            Prefetched::Absent => gaps.push(DataGap {
                data,
                reason: GapReason::NotProvided,
            }),
            Prefetched::Error(text) => gaps.push(DataGap {
                data,
                reason: GapReason::OperationOutcome(text),
            }),
            Prefetched::Invalid(what) => gaps.push(DataGap {
                data,
                reason: GapReason::Unreadable(what),
            }),
        }
    }
    let mut data = build(context, resolved, gaps, settings);
    data.from_prefetch = used;
    data
}

/// Turns the resources of each data set into facts, with the draft orders of the context.
pub fn build(
    context: HookContext,
    resolved: Vec<(DataSet, Vec<Entry>)>,
    mut gaps: Vec<DataGap>,
    settings: &GatherSettings,
) -> HookData {
    let mut index = MedicationIndex::default();
    // `_include`d Medications may sit in any search result.
    for (_, entries) in &resolved {
        index_medications(entries, &mut index, &mut gaps);
    }

    let mut data = HookData::default();
    let (draft_bundle, selections) = match context {
        HookContext::OrderSign(c) => (Some(c.draft_orders), None),
        HookContext::OrderSelect(c) => (Some(c.draft_orders), Some(c.selections)),
        HookContext::PatientView(_) => (None, None),
    };
    if let Some(bundle) = draft_bundle {
        draft_orders(bundle, selections, &mut index, settings, &mut data, &mut gaps);
        if data.orders.is_empty() && data.unidentified_orders.is_empty() {
            // Nothing to check: skip parsing the history altogether (the hot path for the many
            // orders that are not alemtuzumab).
            return data;
        }
    }
    let draft_refs: HashSet<String> = data.draft_orders.iter().cloned().collect();

    let builder = FactBuilder {
        terminology: &settings.terminology,
        medications: &index,
        campath_is_alemtuzumab: settings.campath_is_alemtuzumab,
    };
    let facts = &mut data.facts;
    for (set, entries) in resolved {
        let wanted = wanted_types(&set);
        for entry in entries {
            let Some(ty) = resource_type(&entry.resource) else {
                continue;
            };
            if !wanted.contains(&ty) {
                continue;
            }
            let reference = reference_of(&entry.resource);
            if draft_refs.contains(&reference) {
                continue; // the draft order itself, echoed by the EHR's search
            }
            let resource = match parse_resource(entry.resource) {
                Ok(r) => r,
                Err(e) => {
                    gaps.push(DataGap {
                        data: DataSet::Resource(reference),
                        reason: GapReason::Unreadable(e),
                    });
                    continue;
                }
            };
            let medication = match &resource {
                Resource::Patient(p) => {
                    facts.birth_date = builder.birth_date(p);
                    None
                }
                Resource::Condition(c) => {
                    facts.conditions.push(builder.condition(c));
                    None
                }
                Resource::Observation(o) => {
                    let (lab, bp) = builder.observation(o);
                    facts.labs.extend(lab);
                    facts.blood_pressures.extend(bp);
                    None
                }
                Resource::MedicationRequest(r) => Some(builder.medication_request(r)),
                Resource::MedicationStatement(r) => Some(builder.medication_statement(r)),
                Resource::MedicationAdministration(r) => {
                    Some(builder.medication_administration(r))
                }
                _ => None,
            };
            match medication {
                Some(Ok(m)) => facts.medications.push(m),
                Some(Err(facts::UnresolvedMedication(r))) => gaps.push(DataGap {
                    data: DataSet::Medication(r),
                    reason: GapReason::NotProvided,
                }),
                None => {}
            }
        }
    }
    dedup_gaps(&mut gaps);
    data.facts.gaps = gaps;
    data
}

fn dedup_gaps(gaps: &mut Vec<DataGap>) {
    let mut seen = HashSet::new();
    gaps.retain(|g| seen.insert(g.data.clone()));
}

fn index_medications(entries: &[Entry], index: &mut MedicationIndex, gaps: &mut Vec<DataGap>) {
    for e in entries {
        if resource_type(&e.resource) != Some("Medication") {
            continue;
        }
        match parse_resource(e.resource.clone()) {
            Ok(Resource::Medication(m)) => index.insert(&m, e.full_url.as_deref()),
            Ok(_) => {}
            Err(err) => gaps.push(DataGap {
                data: DataSet::Resource(reference_of(&e.resource)),
                reason: GapReason::Unreadable(err),
            }),
        }
    }
}

/// Reads the draft orders of the context: every MedicationRequest (order-sign) or those named in
/// `selections` (order-select); recognises alemtuzumab among them.
fn draft_orders(
    bundle: Map<String, Value>,
    selections: Option<Vec<String>>,
    index: &mut MedicationIndex,
    settings: &GatherSettings,
    data: &mut HookData,
    gaps: &mut Vec<DataGap>,
) {
    let entries = bundle_entries(Value::Object(bundle));
    index_medications(&entries, index, gaps);
    let selected = |reference: &str| match &selections {
        None => true,
        Some(sel) => sel.iter().any(|s| {
            s == reference
                || reference
                    .strip_prefix("MedicationRequest/")
                    .is_some_and(|id| s == id)
        }),
    };
    let builder = FactBuilder {
        terminology: &settings.terminology,
        medications: index,
        campath_is_alemtuzumab: settings.campath_is_alemtuzumab,
    };
    for entry in entries {
        if resource_type(&entry.resource) != Some("MedicationRequest") {
            continue;
        }
        let reference = reference_of(&entry.resource);
        if !selected(&reference) {
            continue;
        }
        data.draft_orders.push(reference.clone());
        let mr = match parse_resource(entry.resource) {
            Ok(Resource::MedicationRequest(mr)) => mr,
            Ok(_) => continue,
            Err(e) => {
                data.unidentified_orders.push(reference.clone());
                gaps.push(DataGap {
                    data: DataSet::Resource(reference),
                    reason: GapReason::Unreadable(e),
                });
                continue;
            }
        };
        let concept = match facts::resolve(
            facts::request_medication(&mr),
            &mr.contained,
            builder.medications,
        ) {
            Resolved::Found(c) => c,
            Resolved::Missing => continue,
            Resolved::Unresolved(med) => {
                data.unidentified_orders.push(reference.clone());
                gaps.push(DataGap {
                    data: DataSet::Medication(med),
                    reason: GapReason::NotProvided,
                });
                continue;
            }
        };
        if let MedicationClass::Alemtuzumab { campath } = builder.classify(&concept) {
            let date: Option<NaiveDate> = mr
                .authored_on
                .as_ref()
                .and_then(|d| d.value.as_deref())
                .and_then(|s| facts::parse_date(s, false));
            data.orders.push(DraftOrder {
                reference,
                label: concept
                    .text
                    .clone()
                    .or_else(|| concept.codes.first().map(|c| format!("{}|{}", c.system, c.code)))
                    .unwrap_or_else(|| "alemtuzumab".to_owned()),
                date,
                campath,
            });
        }
    }
}
