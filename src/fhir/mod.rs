//! FHIR access: from a hook request to the facts the rules need.
//!
//! Prefetch first ([`prefetch`]), then the EHR's FHIR server for what is missing ([`client`]);
//! resources are parsed once each with fhirbolt ([`parse`]) and only those the rules use, then
//! turned into `rules::PatientFacts` ([`facts`]). Anything that could not be obtained becomes a
//! [`DataGap`], which the rules turn into a visible "could not check" finding.

pub mod client;
pub mod facts;
pub mod model;
pub mod parse;
pub mod prefetch;

use std::collections::HashSet;
use std::time::Instant;

use chrono::NaiveDate;
use fhirbolt::model::r4::Resource as FhirResource;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::rules::{
    DataGap, DataSet, DraftOrder, GapReason, HookKind, MedicationClass, MedicationStatus,
    PatientFacts,
};
use crate::services::{PrefetchTemplate, PrefetchTemplates};
use crate::terminology::Terminology;
use crate::wire::context::HookContext;
use crate::wire::request::HookRequest;

use client::{fill_template, FhirClient, FhirTarget};
use facts::{FactBuilder, MedicationIndex, Resolved};
use parse::{parse_resource, parse_text, reference_of, resource_type};
use prefetch::{Entry, Prefetched};

/// What the FHIR side needs from configuration.
#[derive(Debug, Clone)]
pub struct GatherSettings {
    pub terminology: Terminology,
    /// `rules.campath_orders`: treat Campath (oncology) products as alemtuzumab for MS.
    pub campath_is_alemtuzumab: bool,
    /// The prefetch templates built from `terminology` (the `liverLabs` codes): what discovery
    /// advertises and what is searched on `fhirServer` when a key is not prefetched.
    pub templates: PrefetchTemplates,
}

impl GatherSettings {
    pub fn new(terminology: Terminology, campath_is_alemtuzumab: bool) -> Self {
        let templates = PrefetchTemplates::new(&terminology);
        Self {
            terminology,
            campath_is_alemtuzumab,
            templates,
        }
    }
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
    /// The queries sent to the FHIR server (keys, or `Medication/<id>` reads).
    pub from_fhir: Vec<String>,
}

impl HookData {
    /// Whether anything in this call is (or may be) an alemtuzumab order.
    pub fn has_alemtuzumab_order(&self) -> bool {
        !self.orders.is_empty()
    }
}

/// A data set's entries once obtained, and how many of the first came from the prefetch (the
/// rest from the FHIR server).
struct Obtained<'a> {
    set: DataSet,
    entries: Vec<Entry<'a>>,
    from_prefetch: usize,
    /// Why the set could not be obtained.
    error: Option<DataGap>,
}

/// How one data set was completed (stage 3): its entries and how many came from the prefetch,
/// whether the FHIR server was asked, whether the prefetch was used.
struct Fetched<'a> {
    result: Result<(Vec<Entry<'a>>, usize), GapReason>,
    fetched: bool,
    from_prefetch: bool,
}

impl<'a> Fetched<'a> {
    fn new(
        result: Result<(Vec<Entry<'a>>, usize), GapReason>,
        fetched: bool,
        from_prefetch: bool,
    ) -> Self {
        Self {
            result,
            fetched,
            from_prefetch,
        }
    }
}

/// What the prefetch holds for each template of the hook, as JSON text not yet read.
type RawPrefetch<'s, 'r> = Vec<(&'s PrefetchTemplate, Option<&'r RawValue>)>;

/// The prefetch classified per key ([`prefetch::Prefetched`]).
type Classified<'s, 'r> = Vec<(&'s PrefetchTemplate, Prefetched<'r>)>;

/// Classifies every key of the prefetch (a read's key must hold that one resource).
fn classify<'s, 'r>(raw: &RawPrefetch<'s, 'r>) -> Classified<'s, 'r> {
    raw.iter()
        .map(|(t, raw)| {
            (
                *t,
                Prefetched::classify(*raw, t.spec.query.single_resource()),
            )
        })
        .collect()
}

/// The draft-orders Bundle of an order hook, and the selections of order-select.
type DraftOrders = (Map<String, Value>, Option<Vec<String>>);

/// The draft orders of the context ([`DraftOrders`]); none for patient-view.
fn draft_orders_of(context: HookContext) -> Option<DraftOrders> {
    match context {
        HookContext::OrderSign(c) => Some((c.draft_orders, None)),
        HookContext::OrderSelect(c) => Some((c.draft_orders, Some(c.selections))),
        HookContext::PatientView(_) => None,
    }
}

/// Gathers the facts of a hook call: prefetch first, then the FHIR server for what is missing
/// (when `client` is given and `fhirServer` is allowed), all queries concurrently under
/// `deadline`. Whatever cannot be obtained becomes a gap. The stages are [`Gatherer`]'s methods.
///
/// The prefetch is read only as far as the call needs: a call without an alemtuzumab order
/// never reads it (the hot path for the many orders that are not alemtuzumab); otherwise each
/// resource of a data set is read once, as the `fhir::model` projection of what the rules use.
pub async fn gather(
    req: HookRequest<'_>,
    hook: HookKind,
    settings: &GatherSettings,
    client: Option<&FhirClient>,
    deadline: Instant,
) -> HookData {
    let HookRequest {
        context,
        mut prefetch,
        fhir_server,
        fhir_authorization,
        ..
    } = req;
    let token = fhir_authorization.map(|a| a.access_token);
    let gatherer = Gatherer::new(settings, client, &context, fhir_server, token, deadline);
    // 1. What the prefetch holds, key by key, kept as JSON text until needed.
    let raw: RawPrefetch<'_, '_> = settings
        .templates
        .for_hook(hook)
        .map(|t| (t, prefetch.remove(t.key)))
        .collect();
    drop(prefetch);
    gatherer.run(context, &raw).await
}

/// One hook call's gathering, one method per stage of [`gather`]: the draft orders and their
/// Medications (2), the data sets completed from the server (3), each resource read once (4),
/// the facts (5). It holds what the stages share: the Medication index, the gaps in the order
/// they are found, the read budget.
struct Gatherer<'a> {
    settings: &'a GatherSettings,
    client: Option<&'a FhirClient>,
    /// Where to send queries, or why none can be sent.
    target: Result<FhirTarget, GapReason>,
    patient_id: String,
    data: HookData,
    /// Every Medication read so far (draft Bundle, prefetch, server), by reference.
    index: MedicationIndex,
    gaps: Vec<DataGap>,
    /// Medications of the prefetch Bundles that cannot be read: their gaps come first.
    prefetch_medication_gaps: Vec<DataGap>,
    /// `fhir.max_medication_reads`, and what is left of it for this call.
    max_reads: u32,
    reads_left: usize,
}

impl<'a> Gatherer<'a> {
    fn new(
        settings: &'a GatherSettings,
        client: Option<&'a FhirClient>,
        context: &HookContext,
        fhir_server: Option<String>,
        token: Option<String>,
        deadline: Instant,
    ) -> Self {
        let target = match (client, fhir_server) {
            (Some(c), Some(server)) => match c.check_server(&server) {
                Ok(base) => Ok(FhirTarget {
                    base,
                    token,
                    deadline,
                    spent: Default::default(),
                }),
                Err(e) => {
                    if let GapReason::ServerNotAllowed(host) = &e {
                        tracing::warn!(host = %host, "fhirServer is not on fhir.allowed_servers: no request sent");
                    }
                    Err(e)
                }
            },
            _ => Err(GapReason::NotProvided),
        };
        let max_reads = client.map_or(0, |c| c.settings().max_medication_reads);
        Self {
            settings,
            client,
            target,
            patient_id: context.patient_id().to_owned(),
            data: HookData::default(),
            index: MedicationIndex::default(),
            gaps: Vec::new(),
            prefetch_medication_gaps: Vec::new(),
            max_reads,
            reads_left: max_reads as usize,
        }
    }

    /// Stages 2 to 5, in order; `raw` is stage 1 (the prefetch by key, unread).
    async fn run(mut self, context: HookContext, raw: &RawPrefetch<'a, '_>) -> HookData {
        let mut classified = None;
        if let Some((bundle, selections)) = draft_orders_of(context) {
            // 2. The draft orders and their Medications.
            let drafts = parse_draft_orders(
                bundle,
                selections,
                &mut self.index,
                &mut self.data,
                &mut self.gaps,
            );
            let drafts = projections(&drafts);
            classified = self.resolve_draft_medications(&drafts, raw).await;
            classify_draft_orders(
                &drafts,
                &self.index,
                self.settings,
                &mut self.data,
                &mut self.gaps,
            );
            if self.data.orders.is_empty() && self.data.unidentified_orders.is_empty() {
                // Nothing to check: no history read, no query sent (the hot path for the many
                // orders that are not alemtuzumab).
                return self.data;
            }
        }
        let classified = classified.unwrap_or_else(|| classify(raw));
        // 3. Complete the data sets.
        let obtained = self.complete(classified).await;
        // 4. Read each resource once, then the Medications the history points at.
        let records = self.read_entries(&obtained);
        let missing: Vec<String> = records
            .iter()
            .filter_map(|r| facts::unresolved_reference(r, &self.index))
            .collect();
        self.read_medications(missing).await;
        // 5. Facts.
        self.build_facts(&records);
        self.finish()
    }

    /// Stage 2: an order's Medication missing from the draft Bundle is looked for among the
    /// prefetch's `_include`d Medications (the prefetch is classified for that, and the
    /// classification returned for stage 3), then read from the server.
    async fn resolve_draft_medications<'r>(
        &mut self,
        drafts: &[(String, model::Resource<'_>)],
        raw: &RawPrefetch<'a, 'r>,
    ) -> Option<Classified<'a, 'r>> {
        let unresolved = |index: &MedicationIndex| -> Vec<String> {
            drafts
                .iter()
                .filter_map(|(_, mr)| facts::unresolved_reference(mr, index))
                .collect()
        };
        let mut missing = unresolved(&self.index);
        let mut classified = None;
        if !missing.is_empty() {
            let states = classify(raw);
            self.index_prefetch_medications(&states);
            classified = Some(states);
            missing = unresolved(&self.index);
        }
        self.read_medications(missing).await;
        classified
    }

    /// The Medications of the prefetch Bundles, added to the index; the draft Bundle's own
    /// Medications win over the prefetch's (as written).
    fn index_prefetch_medications(&mut self, classified: &Classified<'_, '_>) {
        let mut from_prefetch = MedicationIndex::default();
        for (_, state) in classified {
            if let Prefetched::Complete(entries) | Prefetched::Partial { entries, .. } = state {
                for e in entries {
                    if model::head(e.resource.get())
                        .resource_type
                        .is_some_and(|t| t.as_str() == "Medication")
                    {
                        index_medication(e, &mut from_prefetch, &mut self.prefetch_medication_gaps);
                    }
                }
            }
        }
        self.index.insert_missing_from(from_prefetch);
    }

    /// Stage 3: every data set of the hook completed concurrently (what is absent or failed
    /// queried, the remaining pages read), in the templates' order.
    async fn complete<'r>(&mut self, classified: Classified<'a, 'r>) -> Vec<Obtained<'r>> {
        let this = &*self;
        let fetches = classified.into_iter().map(|(t, state)| async move {
            let fetched = this.obtain(t, state).await;
            (t, fetched)
        });
        let results = futures::future::join_all(fetches).await;
        let mut obtained = Vec::new();
        for (t, f) in results {
            if f.fetched {
                self.data.from_fhir.push(t.key.to_owned());
            }
            if f.from_prefetch {
                self.data.from_prefetch.push(t.key.to_owned());
            }
            let set = t.spec.set.clone();
            obtained.push(match f.result {
                Ok((entries, from_prefetch)) => Obtained {
                    set,
                    entries,
                    from_prefetch,
                    error: None,
                },
                Err(reason) => Obtained {
                    set: set.clone(),
                    entries: Vec::new(),
                    from_prefetch: 0,
                    error: Some(DataGap { data: set, reason }),
                },
            });
        }
        obtained
    }

    /// One data set from its prefetch state: used as sent, its remaining pages read, or queried
    /// when absent or unreadable.
    async fn obtain<'r>(&self, t: &PrefetchTemplate, state: Prefetched<'r>) -> Fetched<'r> {
        let done = Fetched::new;
        match state {
            Prefetched::Null => done(Ok((Vec::new(), 0)), false, true),
            Prefetched::Resource(r) => {
                let entry = Entry {
                    full_url: None,
                    resource: r,
                };
                done(Ok((vec![entry], 1)), false, true)
            }
            Prefetched::Complete(entries) => {
                let n = entries.len();
                done(Ok((entries, n)), false, true)
            }
            Prefetched::Partial { entries, next } => {
                let n = entries.len();
                match (self.client, &self.target) {
                    (Some(c), Ok(target)) => {
                        let query = fill_template(&t.query, &self.patient_id);
                        let resource_type = query.split(['?', '/']).next().unwrap_or("");
                        let all = c.remaining_pages(target, &next, entries, resource_type);
                        done(all.await.map(|all| (all, n)), true, true)
                    }
                    (_, Err(e)) => done(Err(e.clone()), false, true),
                    (None, _) => done(Err(GapReason::NotProvided), false, true),
                }
            }
            Prefetched::Absent | Prefetched::Error(_) | Prefetched::Invalid(_) => {
                let why = match state {
                    Prefetched::Error(text) => GapReason::OperationOutcome(text),
                    Prefetched::Invalid(what) => GapReason::Unreadable(what),
                    _ => GapReason::NotProvided,
                };
                self.query(t, why).await
            }
        }
    }

    /// A data set the prefetch does not hold (or holds unreadable), asked of the server: a
    /// read for a single resource, else a search. Without a server to ask, the prefetch's own
    /// problem (`why`) is the reason, unless the server was refused.
    async fn query<'r>(&self, t: &PrefetchTemplate, why: GapReason) -> Fetched<'r> {
        let (result, fetched) = match (self.client, &self.target) {
            (Some(c), Ok(target)) => {
                let query = fill_template(&t.query, &self.patient_id);
                let r = if t.spec.query.single_resource().is_some() {
                    c.read(target, &query).await.map(|resource| {
                        vec![Entry {
                            full_url: None,
                            resource: std::borrow::Cow::Owned(resource),
                        }]
                    })
                } else {
                    c.search(target, &query).await
                };
                (r.map(|entries| (entries, 0)), true)
            }
            (_, Err(GapReason::ServerNotAllowed(h))) => {
                (Err(GapReason::ServerNotAllowed(h.clone())), false)
            }
            _ => (Err(why), false),
        };
        Fetched {
            result,
            fetched,
            from_prefetch: false,
        }
    }

    /// Stage 4: each resource of the data sets read once, in the data sets' order: Medications
    /// (fhirbolt) to the index, the set's own types as projections (the drafts echoed by a
    /// search left out), others ignored unread. Gaps, in order: a set that could not be
    /// obtained or its Medications', then the resources that could not be read.
    fn read_entries<'o>(&mut self, obtained: &'o [Obtained<'_>]) -> Vec<model::Resource<'o>> {
        let draft_refs: HashSet<&str> = self.data.draft_orders.iter().map(String::as_str).collect();
        let mut records: Vec<model::Resource<'o>> = Vec::new();
        let mut unreadable = Vec::new();
        for o in obtained {
            self.gaps.extend(o.error.clone());
            let wanted = o.set.resource_types();
            for (i, entry) in o.entries.iter().enumerate() {
                let text = entry.resource.get();
                let read = model::read(text);
                let ty = match &read {
                    Ok(r) => r.resource_type().to_owned(),
                    Err(_) => model::head(text)
                        .resource_type
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                };
                if ty == "Medication" {
                    let medication_gaps = if i < o.from_prefetch {
                        &mut self.prefetch_medication_gaps
                    } else {
                        &mut self.gaps
                    };
                    index_medication(entry, &mut self.index, medication_gaps);
                    continue;
                }
                if !wanted.contains(&ty.as_str()) {
                    continue;
                }
                match read {
                    Ok(r) if draft_refs.contains(r.reference().as_str()) => {} // the draft itself, echoed by a search
                    Ok(r) => records.push(r),
                    Err(e) => {
                        let reference = head_reference(text);
                        if !draft_refs.contains(reference.as_str()) {
                            unreadable.push(DataGap {
                                data: DataSet::Resource(reference),
                                reason: GapReason::Unreadable(e),
                            });
                        }
                    }
                }
            }
        }
        self.gaps.append(&mut unreadable);
        records
    }

    /// Stage 5: the facts, each record by its type; a medication record whose Medication was
    /// not obtained is a gap.
    fn build_facts(&mut self, records: &[model::Resource<'_>]) {
        let builder = FactBuilder {
            terminology: &self.settings.terminology,
            medications: &self.index,
            campath_is_alemtuzumab: self.settings.campath_is_alemtuzumab,
        };
        let facts = &mut self.data.facts;
        for r in records {
            let medication = match r.resource_type() {
                "Patient" => {
                    facts.birth_date = builder.birth_date(r);
                    None
                }
                "Condition" => {
                    facts.conditions.push(builder.condition(r));
                    None
                }
                "Observation" => {
                    let (lab, bp) = builder.observation(r);
                    facts.labs.extend(lab);
                    facts.blood_pressures.extend(bp);
                    None
                }
                "AllergyIntolerance" => {
                    facts.allergies.push(builder.allergy(r));
                    None
                }
                "MedicationRequest" => Some(builder.medication_request(r)),
                "MedicationStatement" => Some(builder.medication_statement(r)),
                "MedicationAdministration" => Some(builder.medication_administration(r)),
                _ => None,
            };
            match medication {
                Some(Ok(m)) => facts.medications.push(m),
                // A failed read of that Medication is already a gap; `dedup_gaps` keeps the first.
                Some(Err(facts::UnresolvedMedication(r))) => self.gaps.push(DataGap {
                    data: DataSet::Medication(r),
                    reason: GapReason::NotProvided,
                }),
                None => {}
            }
        }
    }

    /// The gaps in their final order (the prefetch Bundles' unreadable Medications first),
    /// deduplicated and the Medication ones grouped; the facts sorted by reference, so the same
    /// record gives the same cards whatever order the prefetch or the server lists the
    /// resources in (a server's search order is not the EHR's prefetch order).
    fn finish(mut self) -> HookData {
        let mut gaps = std::mem::take(&mut self.prefetch_medication_gaps);
        gaps.append(&mut self.gaps);
        dedup_gaps(&mut gaps);
        group_medication_gaps(&mut gaps, self.max_reads);
        let facts = &mut self.data.facts;
        facts
            .conditions
            .sort_by(|a, b| a.reference.cmp(&b.reference));
        facts
            .medications
            .sort_by(|a, b| a.reference.cmp(&b.reference));
        facts.labs.sort_by(|a, b| a.reference.cmp(&b.reference));
        facts
            .blood_pressures
            .sort_by(|a, b| a.reference.cmp(&b.reference));
        facts
            .allergies
            .sort_by(|a, b| a.reference.cmp(&b.reference));
        facts.gaps = gaps;
        self.data
    }

    /// Reads `Medication`s by reference, deduplicated, at most [`MEDICATION_READ_CONCURRENCY`]
    /// at a time and at most `reads_left` for the whole call (`fhir.max_medication_reads`,
    /// shared by stages 2 and 4); the references beyond are not read. Every failure is a gap.
    async fn read_medications(&mut self, mut references: Vec<String>) {
        use futures::StreamExt;

        references.sort();
        references.dedup();
        if references.is_empty() {
            return;
        }
        let (Some(client), Ok(target)) = (self.client, &self.target) else {
            for r in references {
                self.gaps.push(DataGap {
                    data: DataSet::Medication(r),
                    reason: match &self.target {
                        Err(GapReason::ServerNotAllowed(h)) => {
                            GapReason::ServerNotAllowed(h.clone())
                        }
                        _ => GapReason::NotProvided,
                    },
                });
            }
            return;
        };
        let n = references.len().min(self.reads_left);
        self.reads_left -= n;
        let over = references.split_off(n);
        // `client.read` keeps the base-path boundary check of every read (issue 17 item 5).
        let reads = references.into_iter().map(|r| async move {
            let result = client.read(target, &r).await;
            (r, result)
        });
        let mut results: Vec<(String, Result<Box<RawValue>, GapReason>)> =
            futures::stream::iter(reads)
                .buffer_unordered(MEDICATION_READ_CONCURRENCY)
                .collect()
                .await;
        // Completion order is the network's: the gaps keep the references' order.
        results.sort_by(|a, b| a.0.cmp(&b.0));
        for (reference, result) in results {
            self.data.from_fhir.push(reference.clone());
            let parsed = result.and_then(|v| parse_text(v.get()).map_err(GapReason::Unreadable));
            match parsed {
                Ok(FhirResource::Medication(m)) => {
                    self.index.insert(&m, Some(&reference));
                }
                Ok(_) => self.gaps.push(DataGap {
                    data: DataSet::Medication(reference),
                    reason: GapReason::Unreadable("not a Medication".to_owned()),
                }),
                Err(reason) => self.gaps.push(DataGap {
                    data: DataSet::Medication(reference),
                    reason,
                }),
            }
        }
        // After those read, so the gaps keep the references' order.
        for r in over {
            self.gaps.push(DataGap {
                data: DataSet::Medication(r),
                reason: read_limit(client.settings().max_medication_reads, 1),
            });
        }
    }
}

/// The projections of the parsed draft orders (fhirbolt accepted the same JSON).
fn projections(drafts: &[(String, Value)]) -> Vec<(String, model::Resource<'_>)> {
    drafts
        .iter()
        .filter_map(|(reference, value)| {
            model::Resource::deserialize(value)
                .ok()
                .map(|r| (reference.clone(), r))
        })
        .collect()
}

/// `Type/id` of a resource that could not be read, from its head.
fn head_reference(text: &str) -> String {
    let head = model::head(text);
    model::reference_string(
        head.resource_type.as_ref().map_or("", |t| t.as_str()),
        &head.id,
    )
}

/// `Medication` reads of one hook call in flight at once (issue 17 item 2): 1 000 references
/// all started together exhausted the process's file descriptors.
pub const MEDICATION_READ_CONCURRENCY: usize = 8;

/// Distinct `Medication` gaps of a call named one by one; beyond, they are grouped into one
/// gap ([`group_medication_gaps`]), so one card rather than one per reference.
pub const MEDICATION_GAPS_NAMED: usize = 3;

fn read_limit(max: u32, not_read: u32) -> GapReason {
    GapReason::CallLimit {
        setting: "fhir.max_medication_reads",
        limit: u64::from(max),
        not_read,
    }
}

/// Replaces the `Medication` gaps of a call by one when there are more than
/// [`MEDICATION_GAPS_NAMED`]: it names how many were not obtained, the first few references, and
/// how many were over `fhir.max_medication_reads`. Its reason is that limit when it was reached,
/// else the first gap's. Call after [`dedup_gaps`].
fn group_medication_gaps(gaps: &mut Vec<DataGap>, max_reads: u32) {
    let count = gaps
        .iter()
        .filter(|g| matches!(g.data, DataSet::Medication(_)))
        .count();
    if count <= MEDICATION_GAPS_NAMED {
        return;
    }
    let mut named = Vec::new();
    let mut over_limit = 0usize;
    let mut first_reason = None;
    let mut at = None;
    let mut i = 0;
    gaps.retain(|g| {
        let keep = match &g.data {
            DataSet::Medication(r) => {
                if named.len() < MEDICATION_GAPS_NAMED {
                    named.push(r.clone());
                }
                if matches!(
                    &g.reason,
                    GapReason::CallLimit {
                        setting: "fhir.max_medication_reads",
                        ..
                    }
                ) {
                    over_limit += 1;
                }
                first_reason.get_or_insert_with(|| g.reason.clone());
                at.get_or_insert(i);
                false
            }
            _ => true,
        };
        i += 1;
        keep
    });
    let reason = if over_limit > 0 {
        read_limit(max_reads, u32::try_from(over_limit).unwrap_or(u32::MAX))
    } else {
        first_reason.unwrap_or(GapReason::NotProvided)
    };
    let grouped = DataGap {
        data: DataSet::Medication(format!(
            "{count} referenced Medications not obtained: {}, …",
            named.join(", ")
        )),
        reason,
    };
    // Where the first one was: the other gaps keep their order.
    let at = at.unwrap_or(0).min(gaps.len());
    gaps.insert(at, grouped);
}

fn dedup_gaps(gaps: &mut Vec<DataGap>) {
    let mut seen = HashSet::new();
    gaps.retain(|g| seen.insert(g.data.clone()));
}

/// Reads a Medication entry with fhirbolt into `index`; one that cannot be read is a gap.
fn index_medication(e: &Entry<'_>, index: &mut MedicationIndex, gaps: &mut Vec<DataGap>) {
    match parse_text(e.resource.get()) {
        Ok(FhirResource::Medication(m)) => index.insert(&m, e.full_url.as_deref()),
        Ok(_) => {}
        Err(err) => gaps.push(DataGap {
            data: DataSet::Resource(head_reference(e.resource.get())),
            reason: GapReason::Unreadable(err),
        }),
    }
}

/// The draft orders of the context: every MedicationRequest (order-sign) or those named in
/// `selections` (order-select), each validated whole by fhirbolt (strict) and normalised
/// (`fhir::parse`), as `(MedicationRequest/<id>, JSON)`. Medications of the bundle go to the
/// index; a draft that cannot be read is unidentified and a gap.
fn parse_draft_orders(
    bundle: Map<String, Value>,
    selections: Option<Vec<String>>,
    index: &mut MedicationIndex,
    data: &mut HookData,
    gaps: &mut Vec<DataGap>,
) -> Vec<(String, Value)> {
    let entries = draft_entries(bundle);
    for (full_url, resource) in &entries {
        if resource_type(resource) == Some("Medication") {
            match parse_resource(resource.clone()) {
                Ok(FhirResource::Medication(m)) => index.insert(&m, full_url.as_deref()),
                Ok(_) => {}
                Err(err) => gaps.push(DataGap {
                    data: DataSet::Resource(reference_of(resource)),
                    reason: GapReason::Unreadable(err),
                }),
            }
        }
    }
    // Indexed once, each entry looked up once: linear in `selections` + entries (issue 17
    // item 4; both are bounded in src/wire/context.rs). A selection is `MedicationRequest/<id>`
    // or the bare id.
    let selections: Option<HashSet<String>> = selections.map(|s| s.into_iter().collect());
    let selected = |reference: &str| match &selections {
        None => true,
        Some(sel) => {
            sel.contains(reference)
                || reference
                    .strip_prefix("MedicationRequest/")
                    .is_some_and(|id| sel.contains(id))
        }
    };
    let mut out = Vec::new();
    for (_, mut resource) in entries {
        if resource_type(&resource) != Some("MedicationRequest") {
            continue;
        }
        let reference = reference_of(&resource);
        if !selected(&reference) {
            continue;
        }
        data.draft_orders.push(reference.clone());
        parse::normalise(&mut resource);
        let read = parse::parse_normalised(resource.clone()).and_then(|_| {
            // The projection the facts are read from; fhirbolt accepted the same JSON.
            model::Resource::deserialize(&resource)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        match read {
            Ok(()) => out.push((reference, resource)),
            Err(e) => {
                data.unidentified_orders.push(reference.clone());
                gaps.push(DataGap {
                    data: DataSet::Resource(reference),
                    reason: GapReason::Unreadable(e),
                });
            }
        }
    }
    out
}

/// `(fullUrl, resource)` of each entry of the draft-orders Bundle; entries without a resource
/// object, and `search.mode = outcome` entries, are skipped.
fn draft_entries(mut bundle: Map<String, Value>) -> Vec<(Option<String>, Value)> {
    let Some(Value::Array(entries)) = bundle.remove("entry") else {
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
            Some((full_url, resource))
        })
        .collect()
}

/// Recognises alemtuzumab among the parsed draft orders; the other drafts are classified like
/// the history (`PatientFacts::other_drafts`, status `Draft`) when there is an alemtuzumab order.
///
/// A `medicationReference` that cannot be read but whose `display` names alemtuzumab/Lemtrada
/// (terminology text matching) is an alemtuzumab order `identified_by_display`: the rules run
/// and the Medication's gap still gives its data-unavailable card (issue 11 point 8), never a 412.
fn classify_draft_orders(
    drafts: &[(String, model::Resource<'_>)],
    index: &MedicationIndex,
    settings: &GatherSettings,
    data: &mut HookData,
    gaps: &mut Vec<DataGap>,
) {
    let builder = FactBuilder {
        terminology: &settings.terminology,
        medications: index,
        campath_is_alemtuzumab: settings.campath_is_alemtuzumab,
    };
    let mut others = Vec::new();
    for (reference, mr) in drafts {
        let reference = reference.clone();
        let authored_on: Option<NaiveDate> = mr
            .authored_on
            .as_ref()
            .and_then(|d| facts::parse_date(d.as_str(), false));
        let concept = match facts::resolve(mr, index) {
            Resolved::Found(c) => c,
            Resolved::Missing => continue,
            Resolved::Unresolved(med) => {
                // A failed read of that Medication is already a gap; `dedup_gaps` keeps the first.
                gaps.push(DataGap {
                    data: DataSet::Medication(med),
                    reason: GapReason::NotProvided,
                });
                let display = facts::reference_display(mr);
                let by_display = display.as_ref().map(|d| {
                    builder.classify(&facts::MedicationConcept {
                        codes: Vec::new(),
                        text: Some(d.clone()),
                    })
                });
                match (display, by_display) {
                    (Some(label), Some(MedicationClass::Alemtuzumab { campath })) => {
                        data.orders.push(DraftOrder {
                            reference,
                            label,
                            authored_on,
                            campath,
                            identified_by_display: true,
                        });
                    }
                    _ => data.unidentified_orders.push(reference),
                }
                continue;
            }
        };
        match builder.classify(&concept) {
            MedicationClass::Alemtuzumab { campath } => data.orders.push(DraftOrder {
                reference,
                label: facts::label_of(&concept.codes, concept.text, "alemtuzumab"),
                authored_on,
                campath,
                identified_by_display: false,
            }),
            _ => others.push((reference, mr)),
        }
    }
    if data.orders.is_empty() {
        return; // not an alemtuzumab call: the other drafts are not looked at (hot path)
    }
    for (reference, mr) in others {
        if let Ok(mut fact) = builder.medication_request(mr) {
            fact.reference = reference;
            fact.status = MedicationStatus::Draft;
            data.facts.other_drafts.push(fact);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{ClinicalStatus, MedicationStatus};
    use serde_json::{json, Value};

    fn searchset(resources: Vec<Value>) -> Value {
        json!({"resourceType": "Bundle", "type": "searchset",
            "entry": resources.into_iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()})
    }

    /// An order-sign call with every prefetch key (empty unless given) and no FHIR server.
    fn order_sign(drafts: Vec<Value>, allergies: Vec<Value>) -> HookRequest<'static> {
        let entries: Vec<Value> = drafts
            .into_iter()
            .map(|r| {
                let id = r["id"].as_str().unwrap_or("").to_owned();
                json!({"fullUrl": format!("MedicationRequest/{id}"), "resource": r})
            })
            .collect();
        let body = json!({
            "hook": "order-sign",
            "hookInstance": "7b1c3c6e-9d2a-4c44-8a53-0f7d1c2b3a41",
            "context": {"userId": "Practitioner/x", "patientId": "p",
                "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": entries}},
            "prefetch": {
                "patient": {"resourceType": "Patient", "id": "p", "birthDate": "1990-01-01"},
                "conditions": searchset(vec![]),
                "medicationRequests": searchset(vec![]),
                "medicationStatements": searchset(vec![]),
                "medicationAdministrations": searchset(vec![]),
                "liverLabs": searchset(vec![]),
                "bloodPressure": searchset(vec![]),
                "allergies": searchset(allergies),
            }
        });
        crate::wire::request::read_leaked(&body).expect("valid request")
    }

    fn draft(id: &str, medication: Value) -> Value {
        let mut r = json!({"resourceType": "MedicationRequest", "id": id, "status": "draft",
            "intent": "order", "subject": {"reference": "Patient/p"}, "authoredOn": "2026-11-20"});
        let obj = r.as_object_mut().unwrap();
        for (k, v) in medication.as_object().unwrap() {
            obj.insert(k.clone(), v.clone());
        }
        r
    }

    fn lemtrada() -> Value {
        json!({"medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1594658"}], "text": "Lemtrada 12 mg"}})
    }

    async fn run(req: HookRequest<'static>) -> HookData {
        let settings = GatherSettings::new(Terminology::default(), false);
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        gather(req, HookKind::OrderSign, &settings, None, deadline).await
    }

    #[tokio::test]
    async fn an_unreadable_medication_named_lemtrada_by_its_display_is_an_alemtuzumab_order() {
        let unreadable = |id: &str, display: &str| {
            draft(
                id,
                json!({"medicationReference": {"reference": format!("Medication/{id}-med"), "display": display}}),
            )
        };
        let data = run(order_sign(
            vec![
                unreadable("d1", "LEMTRADA 12 mg/1,2 mL, solution à diluer"),
                unreadable("d2", "Tysabri 300 mg"),
            ],
            vec![],
        ))
        .await;
        assert_eq!(data.orders.len(), 1, "{:?}", data.orders);
        let order = &data.orders[0];
        assert_eq!(order.reference, "MedicationRequest/d1");
        assert!(order.identified_by_display);
        assert_eq!(order.label, "LEMTRADA 12 mg/1,2 mL, solution à diluer");
        assert_eq!(order.authored_on, NaiveDate::from_ymd_opt(2026, 11, 20));
        assert!(!order.campath);
        assert!(data.has_alemtuzumab_order());
        // The Tysabri one cannot be classified: unidentified, and both Medications are gaps.
        assert_eq!(data.unidentified_orders, ["MedicationRequest/d2"]);
        for med in ["Medication/d1-med", "Medication/d2-med"] {
            assert!(
                data.facts.has_gap(&DataSet::Medication(med.to_owned())),
                "{med}: {:?}",
                data.facts.gaps
            );
        }
        // Without a display naming alemtuzumab, nothing is an order (the 412 path).
        let data = run(order_sign(
            vec![draft(
                "d3",
                json!({"medicationReference": {"reference": "Medication/x"}}),
            )],
            vec![],
        ))
        .await;
        assert!(data.orders.is_empty());
        assert_eq!(data.unidentified_orders, ["MedicationRequest/d3"]);
    }

    #[tokio::test]
    async fn the_other_drafts_of_an_alemtuzumab_call_are_classified_as_drafts() {
        let rivaroxaban = draft(
            "riva",
            json!({"medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "B01AF01"}], "text": "Xarelto 20 mg"}}),
        );
        let fingolimod = draft(
            "fingo",
            json!({"medicationCodeableConcept": {"text": "fingolimod 0.5 mg"}}),
        );
        let paracetamol = draft(
            "para",
            json!({"medicationCodeableConcept": {"text": "paracetamol 1 g"}}),
        );
        let data = run(order_sign(
            vec![
                draft("alem", lemtrada()),
                rivaroxaban.clone(),
                fingolimod,
                paracetamol,
            ],
            vec![],
        ))
        .await;
        assert_eq!(data.orders.len(), 1);
        let others = &data.facts.other_drafts;
        let by_ref = |r: &str| others.iter().find(|m| m.reference == r).unwrap();
        assert_eq!(others.len(), 3, "{others:?}");
        assert_eq!(
            by_ref("MedicationRequest/riva").class,
            MedicationClass::Antithrombotic
        );
        assert!(matches!(
            by_ref("MedicationRequest/fingo").class,
            MedicationClass::Dmt { .. }
        ));
        assert_eq!(
            by_ref("MedicationRequest/para").class,
            MedicationClass::Other
        );
        for m in others {
            assert_eq!(m.status, MedicationStatus::Draft, "{m:?}");
            assert_eq!(m.start, NaiveDate::from_ymd_opt(2026, 11, 20));
        }
        // The drafts are not history.
        assert!(data.facts.medications.is_empty());

        // Without alemtuzumab, nothing is looked at (the hot path returns early).
        let data = run(order_sign(vec![rivaroxaban], vec![])).await;
        assert!(data.orders.is_empty());
        assert!(data.facts.other_drafts.is_empty());
        assert!(data.from_prefetch.is_empty());
    }

    #[tokio::test]
    async fn prefetched_allergies_become_facts() {
        let data = run(order_sign(
            vec![draft("alem", lemtrada())],
            vec![
                json!({"resourceType": "AllergyIntolerance", "id": "al1",
                    "patient": {"reference": "Patient/p"},
                    "clinicalStatus": {"coding": [{"code": "active"}]},
                    "code": {"text": "alemtuzumab"}}),
                json!({"resourceType": "Condition", "id": "not-an-allergy"}),
            ],
        ))
        .await;
        assert!(data.from_prefetch.iter().any(|k| k == "allergies"));
        assert_eq!(data.facts.allergies.len(), 1, "{:?}", data.facts.allergies);
        let a = &data.facts.allergies[0];
        assert_eq!(a.reference, "AllergyIntolerance/al1");
        assert!(a.alemtuzumab);
        assert_eq!(a.clinical_status, ClinicalStatus::Active);
        assert!(data.facts.gaps.is_empty(), "{:?}", data.facts.gaps);

        // Absent and no server: a gap on the allergies data set (a data-unavailable card).
        let mut req = order_sign(vec![draft("alem", lemtrada())], vec![]);
        req.prefetch.remove("allergies");
        let data = run(req).await;
        assert!(
            data.facts.has_gap(&DataSet::Allergies),
            "{:?}",
            data.facts.gaps
        );
    }

    /// A FHIR server on loopback that answers every read 404 (after a short pause, so reads
    /// overlap), counting the requests and the most in flight at once.
    async fn counting_server() -> (
        String,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/fhir", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let (r, p) = (requests.clone(), peak.clone());
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (r, p, f) = (r.clone(), p.clone(), in_flight.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    r.fetch_add(1, Ordering::SeqCst);
                    let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    let body = r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}"#;
                    let answer = format!(
                        "HTTP/1.1 404 Not Found\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    f.fetch_sub(1, Ordering::SeqCst);
                    let _ = conn.write_all(answer.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        (base, requests, peak)
    }

    #[tokio::test]
    async fn medication_reads_are_capped_bounded_in_concurrency_and_their_gaps_grouped() {
        use std::sync::atomic::Ordering;
        let (base, requests, peak) = counting_server().await;
        let mut drafts = vec![draft("alem", lemtrada())];
        for i in 0..200 {
            drafts.push(draft(
                &format!("d{i}"),
                json!({"medicationReference": {"reference": format!("Medication/m{i:03}")}}),
            ));
        }
        let mut req = order_sign(drafts, vec![]);
        req.fhir_server = Some(base);
        let settings = GatherSettings::new(Terminology::default(), false);
        let client = FhirClient::new(&client::FhirSettings {
            allowed_servers: Vec::new(),
            deadline: std::time::Duration::from_secs(20),
            max_pages: 10,
            max_response_bytes: 1 << 20,
            max_call_response_bytes: 64 << 20,
            max_medication_reads: 50,
            max_concurrent_requests: 64,
        })
        .unwrap();
        let deadline = Instant::now() + std::time::Duration::from_secs(20);
        let data = gather(req, HookKind::OrderSign, &settings, Some(&client), deadline).await;

        assert_eq!(requests.load(Ordering::SeqCst), 50, "reads sent");
        let most = peak.load(Ordering::SeqCst);
        assert!(
            (1..=MEDICATION_READ_CONCURRENCY).contains(&most),
            "{most} reads at once"
        );
        let medication_gaps: Vec<&DataGap> = data
            .facts
            .gaps
            .iter()
            .filter(|g| matches!(g.data, DataSet::Medication(_)))
            .collect();
        assert_eq!(medication_gaps.len(), 1, "{medication_gaps:?}");
        let gap = medication_gaps[0];
        assert!(
            gap.data.key().starts_with("200 referenced Medications"),
            "{:?}",
            gap.data
        );
        assert!(gap.data.key().contains("Medication/m000"), "{:?}", gap.data);
        assert_eq!(
            gap.reason,
            GapReason::CallLimit {
                setting: "fhir.max_medication_reads",
                limit: 50,
                not_read: 150,
            }
        );
        // The alemtuzumab order is still checked.
        assert_eq!(data.orders.len(), 1);
    }

    #[test]
    fn a_few_medication_gaps_stay_named_one_by_one() {
        let gap = |r: &str| DataGap {
            data: DataSet::Medication(r.to_owned()),
            reason: GapReason::Timeout,
        };
        let mut gaps = vec![
            DataGap {
                data: DataSet::Conditions,
                reason: GapReason::Timeout,
            },
            gap("Medication/a"),
            gap("Medication/b"),
        ];
        let before = gaps.clone();
        group_medication_gaps(&mut gaps, 50);
        assert_eq!(gaps, before);
        gaps.extend(["Medication/c", "Medication/d"].map(gap));
        group_medication_gaps(&mut gaps, 50);
        assert_eq!(gaps.len(), 2, "{gaps:?}");
        assert_eq!(gaps[0].data, DataSet::Conditions);
        assert_eq!(
            gaps[1].data.key(),
            "4 referenced Medications not obtained: Medication/a, Medication/b, Medication/c, …"
        );
        assert_eq!(gaps[1].reason, GapReason::Timeout);
    }

    #[test]
    fn selections_match_both_a_reference_and_a_bare_id() {
        let entries: Vec<Value> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| {
                json!({"resource": {"resourceType": "MedicationRequest", "id": id,
                "status": "draft", "intent": "order", "subject": {"reference": "Patient/p"},
                "medicationCodeableConcept": {"text": "x"}}})
            })
            .collect();
        let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": entries});
        let Value::Object(bundle) = bundle else {
            unreachable!()
        };
        let mut index = MedicationIndex::default();
        let mut data = HookData::default();
        let mut gaps = Vec::new();
        let selections = vec![
            "MedicationRequest/a".to_owned(),
            "c".to_owned(),
            "MedicationRequest/zz".to_owned(),
        ];
        let drafts = parse_draft_orders(
            bundle.clone(),
            Some(selections),
            &mut index,
            &mut data,
            &mut gaps,
        );
        let refs: Vec<&str> = drafts.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(refs, ["MedicationRequest/a", "MedicationRequest/c"]);
        assert_eq!(
            data.draft_orders,
            ["MedicationRequest/a", "MedicationRequest/c"]
        );
        // order-sign: every draft.
        let mut data = HookData::default();
        let drafts = parse_draft_orders(bundle, None, &mut index, &mut data, &mut gaps);
        assert_eq!(drafts.len(), 4);
        assert!(gaps.is_empty(), "{gaps:?}");
    }
}
