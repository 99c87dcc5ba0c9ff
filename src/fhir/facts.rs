//! FHIR R4 resources (fhirbolt's model) → `rules::PatientFacts`: the only file where fhirbolt
//! meets the rules.
//!
//! Codes are recognised through `rules::terminology`; dates are parsed here (fhirbolt accepts
//! malformed dates silently, docs/stack-notes.md) and a date that cannot be read is `None`, so the
//! rule says "could not check" rather than guessing.

use std::collections::HashMap;

use chrono::NaiveDate;
use fhirbolt::model::r4::resources::{
    AllergyIntolerance, AllergyIntoleranceOnset, Condition, ConditionOnset, Medication,
    MedicationAdministration, MedicationAdministrationEffective,
    MedicationAdministrationMedication, MedicationIngredientItem, MedicationRequest,
    MedicationRequestMedication, MedicationStatement, MedicationStatementEffective,
    MedicationStatementMedication, Observation, ObservationComponentValue, ObservationEffective,
    ObservationValue, Patient,
};
use fhirbolt::model::r4::types::{CodeableConcept, Quantity, Reference};
use fhirbolt::model::r4::Resource;

use crate::rules::terminology::{Terminology, VitalSign};
use crate::rules::{
    AllergyFact, BloodPressureFact, ClinicalStatus, Code, ConditionFact, LabFact, MedicationClass,
    MedicationFact, MedicationSource, MedicationStatus, ObservationStatus, RequestIntent,
    StopReason, Verification,
};

// ---------------------------------------------------------------------------------------------
// Small readers

fn text(s: &Option<fhirbolt::model::r4::types::String>) -> Option<&str> {
    s.as_ref()
        .and_then(|s| s.value.as_deref())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The non-empty (system, code) pairs of a CodeableConcept, and its text (else first display).
pub fn concept(cc: &CodeableConcept) -> (Vec<Code>, Option<String>) {
    let mut codes = Vec::with_capacity(cc.coding.len());
    let mut display = None;
    for c in &cc.coding {
        let system = c
            .system
            .as_ref()
            .and_then(|s| s.value.as_deref())
            .map(str::trim);
        let code = c
            .code
            .as_ref()
            .and_then(|s| s.value.as_deref())
            .map(str::trim);
        if let (Some(system), Some(code)) = (system, code) {
            if !system.is_empty() && !code.is_empty() {
                codes.push(Code::new(system, code));
            }
        }
        if display.is_none() {
            display = text(&c.display).map(str::to_owned);
        }
    }
    let label = text(&cc.text).map(str::to_owned).or(display);
    (codes, label)
}

fn concept_opt(cc: Option<&CodeableConcept>) -> (Vec<Code>, Option<String>) {
    cc.map(concept).unwrap_or_default()
}

/// A label for a card: the text, else `system|code`, else `fallback`.
pub(crate) fn label_of(codes: &[Code], text: Option<String>, fallback: &str) -> String {
    text.or_else(|| codes.first().map(|c| format!("{}|{}", c.system, c.code)))
        .unwrap_or_else(|| fallback.to_owned())
}

/// Reads a FHIR `date` / `dateTime` / `instant` as the calendar date written in it.
/// Partial dates (`2024`, `2024-05`) give the first day of the period, unless `latest` is set
/// (birth dates: the youngest the patient can be).
pub fn parse_date(s: &str, latest: bool) -> Option<NaiveDate> {
    let s = s.trim();
    // A full date is exactly `YYYY-MM-DD`, optionally followed by a time part (`T…`).
    if let (Some(day), Some(rest)) = (s.get(..10), s.get(10..)) {
        let b = day.as_bytes();
        let shaped = b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
        if shaped {
            return match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
                Ok(d) if rest.is_empty() || rest.starts_with('T') => Some(d),
                _ => None,
            };
        }
    }
    let mut parts = s.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    if !(1800..=2200).contains(&year) {
        return None;
    }
    match (parts.next(), parts.next()) {
        (None, _) => {
            if latest {
                NaiveDate::from_ymd_opt(year, 12, 31)
            } else {
                NaiveDate::from_ymd_opt(year, 1, 1)
            }
        }
        (Some(m), None) => {
            let month: u32 = m.parse().ok()?;
            let first = NaiveDate::from_ymd_opt(year, month, 1)?;
            if latest {
                let next = if month == 12 {
                    NaiveDate::from_ymd_opt(year + 1, 1, 1)?
                } else {
                    NaiveDate::from_ymd_opt(year, month + 1, 1)?
                };
                next.pred_opt()
            } else {
                Some(first)
            }
        }
        _ => None,
    }
}

fn date_of(v: &Option<String>) -> Option<NaiveDate> {
    v.as_deref().and_then(|s| parse_date(s, false))
}

fn decimal(q: &Quantity) -> Option<f64> {
    q.value
        .as_ref()
        .and_then(|d| d.value.as_deref())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

fn unit(q: &Quantity) -> Option<String> {
    text(&q.unit)
        .or_else(|| {
            q.code
                .as_ref()
                .and_then(|c| c.value.as_deref())
                .map(str::trim)
                .filter(|s| !s.is_empty())
        })
        .map(str::to_owned)
}

fn id_of(id: &Option<fhirbolt::model::r4::types::Id>) -> Option<&str> {
    id.as_ref()
        .and_then(|i| i.value.as_deref())
        .filter(|s| !s.is_empty())
}

fn reference_string(ty: &str, id: &Option<fhirbolt::model::r4::types::Id>) -> String {
    match id_of(id) {
        Some(id) => format!("{ty}/{id}"),
        None => ty.to_owned(),
    }
}

fn code_value(c: &fhirbolt::model::r4::types::Code) -> &str {
    c.value.as_deref().map(str::trim).unwrap_or("")
}

fn status_code(cc: Option<&CodeableConcept>) -> Option<&str> {
    cc.and_then(|cc| {
        cc.coding
            .iter()
            .find_map(|c| c.code.as_ref()?.value.as_deref())
    })
}

/// `clinicalStatus` of a Condition or an AllergyIntolerance (the allergy codes are a subset).
fn clinical_status(cc: Option<&CodeableConcept>) -> ClinicalStatus {
    match status_code(cc).map(str::trim) {
        Some("active") => ClinicalStatus::Active,
        Some("recurrence") => ClinicalStatus::Recurrence,
        Some("relapse") => ClinicalStatus::Relapse,
        Some("inactive") => ClinicalStatus::Inactive,
        Some("remission") => ClinicalStatus::Remission,
        Some("resolved") => ClinicalStatus::Resolved,
        _ => ClinicalStatus::Unknown,
    }
}

/// `verificationStatus` of a Condition or an AllergyIntolerance (the allergy codes are a subset).
fn verification(cc: Option<&CodeableConcept>) -> Verification {
    match status_code(cc).map(str::trim) {
        Some("confirmed") => Verification::Confirmed,
        Some("provisional") => Verification::Provisional,
        Some("differential") => Verification::Differential,
        Some("unconfirmed") => Verification::Unconfirmed,
        Some("refuted") => Verification::Refuted,
        Some("entered-in-error") => Verification::EnteredInError,
        _ => Verification::Unknown,
    }
}

// ---------------------------------------------------------------------------------------------
// Medications and their resolution

/// What a medication is, as far as recognition goes: its codes (product and ingredients) and text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MedicationConcept {
    pub codes: Vec<Code>,
    pub text: Option<String>,
}

impl MedicationConcept {
    fn from_medication(m: &Medication) -> Self {
        let (mut codes, text) = concept_opt(m.code.as_deref());
        for ing in &m.ingredient {
            if let MedicationIngredientItem::CodeableConcept(cc) = &ing.item {
                codes.extend(concept(cc).0);
            }
        }
        Self { codes, text }
    }

    fn from_concept(cc: &CodeableConcept) -> Self {
        let (codes, text) = concept(cc);
        Self { codes, text }
    }
}

/// `Medication` resources known to this hook call (draft-order and prefetch bundles, `_include`d
/// entries, reads from the FHIR server), by `Medication/<id>` and by full URL.
#[derive(Debug, Default)]
pub struct MedicationIndex {
    by_reference: HashMap<String, MedicationConcept>,
}

impl MedicationIndex {
    pub fn insert(&mut self, m: &Medication, full_url: Option<&str>) {
        let concept = MedicationConcept::from_medication(m);
        if let Some(id) = id_of(&m.id) {
            self.by_reference
                .insert(format!("Medication/{id}"), concept.clone());
        }
        if let Some(url) = full_url.filter(|u| !u.is_empty()) {
            self.by_reference.insert(url.to_owned(), concept);
        }
    }

    /// Looks up a reference as written (`Medication/1`, an absolute URL ending in it, `urn:uuid:…`).
    pub fn get(&self, reference: &str) -> Option<&MedicationConcept> {
        if let Some(c) = self.by_reference.get(reference) {
            return Some(c);
        }
        // An absolute reference `https://ehr/fhir/Medication/1` matches `Medication/1`.
        let tail = reference.rsplit_once("/Medication/").map(|(_, id)| id)?;
        let tail = tail.split('/').next().unwrap_or(tail); // drop `/_history/n`
        self.by_reference.get(&format!("Medication/{tail}"))
    }

    pub fn len(&self) -> usize {
        self.by_reference.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_reference.is_empty()
    }
}

/// How a record names its medication.
pub enum MedicationRef<'a> {
    Concept(&'a CodeableConcept),
    Reference(&'a Reference),
    Missing,
}

/// The outcome of resolving a record's medication.
pub enum Resolved {
    Found(MedicationConcept),
    /// A `medicationReference` that is neither contained nor in the index (the reference).
    Unresolved(String),
    Missing,
}

pub fn resolve(
    med: MedicationRef<'_>,
    contained: &[Resource],
    index: &MedicationIndex,
) -> Resolved {
    match med {
        MedicationRef::Concept(cc) => Resolved::Found(MedicationConcept::from_concept(cc)),
        MedicationRef::Missing => Resolved::Missing,
        MedicationRef::Reference(r) => {
            let reference = text(&r.reference).unwrap_or("");
            if let Some(local) = reference.strip_prefix('#') {
                let found = contained.iter().find_map(|c| match c {
                    Resource::Medication(m) if id_of(&m.id) == Some(local) => {
                        Some(MedicationConcept::from_medication(m))
                    }
                    _ => None,
                });
                return match found {
                    Some(c) => Resolved::Found(c),
                    None => Resolved::Unresolved(reference.to_owned()),
                };
            }
            if reference.is_empty() {
                // A reference with only a display: use it as text.
                return match text(&r.display) {
                    Some(d) => Resolved::Found(MedicationConcept {
                        codes: Vec::new(),
                        text: Some(d.to_owned()),
                    }),
                    None => Resolved::Missing,
                };
            }
            match index.get(reference) {
                Some(c) => {
                    let mut c = c.clone();
                    if c.text.is_none() {
                        c.text = text(&r.display).map(str::to_owned);
                    }
                    Resolved::Found(c)
                }
                None => Resolved::Unresolved(reference.to_owned()),
            }
        }
    }
}

pub fn request_medication(mr: &MedicationRequest) -> MedicationRef<'_> {
    match &mr.medication {
        MedicationRequestMedication::CodeableConcept(cc) => MedicationRef::Concept(cc),
        MedicationRequestMedication::Reference(r) => MedicationRef::Reference(r),
        MedicationRequestMedication::Invalid => MedicationRef::Missing,
    }
}

fn statement_medication(ms: &MedicationStatement) -> MedicationRef<'_> {
    match &ms.medication {
        MedicationStatementMedication::CodeableConcept(cc) => MedicationRef::Concept(cc),
        MedicationStatementMedication::Reference(r) => MedicationRef::Reference(r),
        MedicationStatementMedication::Invalid => MedicationRef::Missing,
    }
}

fn administration_medication(ma: &MedicationAdministration) -> MedicationRef<'_> {
    match &ma.medication {
        MedicationAdministrationMedication::CodeableConcept(cc) => MedicationRef::Concept(cc),
        MedicationAdministrationMedication::Reference(r) => MedicationRef::Reference(r),
        MedicationAdministrationMedication::Invalid => MedicationRef::Missing,
    }
}

/// The `display` of a MedicationRequest's `medicationReference`, trimmed, if any.
pub fn reference_display(mr: &MedicationRequest) -> Option<String> {
    match &mr.medication {
        MedicationRequestMedication::Reference(r) => text(&r.display).map(str::to_owned),
        _ => None,
    }
}

/// The `medicationReference` of a MedicationRequest that cannot be resolved locally.
pub fn unresolved_request_reference(
    mr: &MedicationRequest,
    index: &MedicationIndex,
) -> Option<String> {
    match resolve(request_medication(mr), &mr.contained, index) {
        Resolved::Unresolved(r) if !r.starts_with('#') => Some(r),
        _ => None,
    }
}

/// The `medicationReference` a history record needs resolved, if it cannot be resolved locally.
pub fn unresolved_reference(resource: &Resource, index: &MedicationIndex) -> Option<String> {
    let (med, contained) = match resource {
        Resource::MedicationRequest(r) => return unresolved_request_reference(r, index),
        Resource::MedicationStatement(r) => (statement_medication(r), &r.contained),
        Resource::MedicationAdministration(r) => (administration_medication(r), &r.contained),
        _ => return None,
    };
    match resolve(med, contained, index) {
        Resolved::Unresolved(r) if !r.starts_with('#') => Some(r),
        _ => None,
    }
}

/// Builds facts from typed resources, recognising codes through the terminology.
pub struct FactBuilder<'a> {
    pub terminology: &'a Terminology,
    pub medications: &'a MedicationIndex,
    /// When false (configuration `rules.campath_orders = false`), Campath products are not treated
    /// as alemtuzumab for MS.
    pub campath_is_alemtuzumab: bool,
}

/// A history record whose medication could not be resolved.
pub struct UnresolvedMedication(pub String);

impl FactBuilder<'_> {
    pub fn classify(&self, m: &MedicationConcept) -> MedicationClass {
        let class = self
            .terminology
            .medication_class(&m.codes, m.text.as_deref());
        match class {
            MedicationClass::Alemtuzumab { campath: true } if !self.campath_is_alemtuzumab => {
                MedicationClass::Other
            }
            other => other,
        }
    }

    fn stop_reason(&self, reasons: &[&CodeableConcept]) -> StopReason {
        for cc in reasons {
            let (codes, text) = concept(cc);
            match self.terminology.stop_reason(&codes, text.as_deref()) {
                StopReason::None => {}
                found => return found,
            }
        }
        StopReason::None
    }

    pub fn medication_request(
        &self,
        mr: &MedicationRequest,
    ) -> Result<MedicationFact, UnresolvedMedication> {
        let m = self.medication(request_medication(mr), &mr.contained)?;
        let status = match code_value(&mr.status) {
            "active" => MedicationStatus::Active,
            "on-hold" => MedicationStatus::OnHold,
            "cancelled" => MedicationStatus::Cancelled,
            "completed" => MedicationStatus::Completed,
            "entered-in-error" => MedicationStatus::EnteredInError,
            "stopped" => MedicationStatus::Stopped,
            "draft" => MedicationStatus::Draft,
            _ => MedicationStatus::Unknown,
        };
        let validity = mr
            .dispense_request
            .as_ref()
            .and_then(|d| d.validity_period.as_deref());
        let start = mr
            .authored_on
            .as_ref()
            .and_then(|d| date_of(&d.value))
            .or_else(|| {
                validity
                    .and_then(|p| p.start.as_ref())
                    .and_then(|d| date_of(&d.value))
            });
        let end = validity
            .and_then(|p| p.end.as_ref())
            .and_then(|d| date_of(&d.value));
        let mut reasons: Vec<&CodeableConcept> = mr.status_reason.iter().map(|b| &**b).collect();
        reasons.extend(mr.reason_code.iter());
        Ok(MedicationFact {
            reference: reference_string("MedicationRequest", &mr.id),
            intent: Some(RequestIntent::parse(code_value(&mr.intent))),
            source: MedicationSource::Request,
            class: self.classify(&m),
            label: label_of(&m.codes, m.text.clone(), "MedicationRequest"),
            status,
            start,
            end,
            stop_reason: self.stop_reason(&reasons),
        })
    }

    pub fn medication_statement(
        &self,
        ms: &MedicationStatement,
    ) -> Result<MedicationFact, UnresolvedMedication> {
        let m = self.medication(statement_medication(ms), &ms.contained)?;
        let status = match code_value(&ms.status) {
            "active" => MedicationStatus::Active,
            "completed" => MedicationStatus::Completed,
            "entered-in-error" => MedicationStatus::EnteredInError,
            "intended" => MedicationStatus::Intended,
            "stopped" => MedicationStatus::Stopped,
            "on-hold" => MedicationStatus::OnHold,
            "not-taken" => MedicationStatus::NotTaken,
            _ => MedicationStatus::Unknown,
        };
        let (start, end) = match &ms.effective {
            // A single date on a statement still being taken means "taking since then"
            // (docs/clinical-rules.md §2, pulsed DMTs): ongoing, no end. A completed or stopped one
            // keeps start = end (its length is unknown, never invented).
            Some(MedicationStatementEffective::DateTime(d)) if status.is_ongoing() => {
                (date_of(&d.value), None)
            }
            Some(MedicationStatementEffective::DateTime(d)) => {
                let d = date_of(&d.value);
                (d, d)
            }
            Some(MedicationStatementEffective::Period(p)) => (
                p.start.as_ref().and_then(|d| date_of(&d.value)),
                p.end.as_ref().and_then(|d| date_of(&d.value)),
            ),
            _ => (None, None),
        };
        let mut reasons: Vec<&CodeableConcept> = ms.status_reason.iter().collect();
        reasons.extend(ms.reason_code.iter());
        Ok(MedicationFact {
            reference: reference_string("MedicationStatement", &ms.id),
            source: MedicationSource::Statement,
            class: self.classify(&m),
            label: label_of(&m.codes, m.text.clone(), "MedicationStatement"),
            status,
            start,
            end,
            stop_reason: self.stop_reason(&reasons),
            intent: None,
        })
    }

    pub fn medication_administration(
        &self,
        ma: &MedicationAdministration,
    ) -> Result<MedicationFact, UnresolvedMedication> {
        let m = self.medication(administration_medication(ma), &ma.contained)?;
        let status = match code_value(&ma.status) {
            "in-progress" => MedicationStatus::Active,
            "not-done" => MedicationStatus::NotTaken,
            "on-hold" => MedicationStatus::OnHold,
            "completed" => MedicationStatus::Completed,
            "entered-in-error" => MedicationStatus::EnteredInError,
            "stopped" => MedicationStatus::Stopped,
            _ => MedicationStatus::Unknown,
        };
        let (start, end) = match &ma.effective {
            MedicationAdministrationEffective::DateTime(d) => {
                let d = date_of(&d.value);
                (d, d)
            }
            MedicationAdministrationEffective::Period(p) => {
                let s = p.start.as_ref().and_then(|d| date_of(&d.value));
                (s, p.end.as_ref().and_then(|d| date_of(&d.value)).or(s))
            }
            MedicationAdministrationEffective::Invalid => (None, None),
        };
        let reasons: Vec<&CodeableConcept> = ma.status_reason.iter().collect();
        Ok(MedicationFact {
            reference: reference_string("MedicationAdministration", &ma.id),
            source: MedicationSource::Administration,
            class: self.classify(&m),
            label: label_of(&m.codes, m.text.clone(), "MedicationAdministration"),
            status,
            start,
            end,
            stop_reason: self.stop_reason(&reasons),
            intent: None,
        })
    }

    fn medication(
        &self,
        med: MedicationRef<'_>,
        contained: &[Resource],
    ) -> Result<MedicationConcept, UnresolvedMedication> {
        match resolve(med, contained, self.medications) {
            Resolved::Found(c) => Ok(c),
            Resolved::Missing => Ok(MedicationConcept::default()),
            Resolved::Unresolved(r) => Err(UnresolvedMedication(r)),
        }
    }

    pub fn condition(&self, c: &Condition) -> ConditionFact {
        let (codes, label) = concept_opt(c.code.as_deref());
        let classes = self.terminology.condition_classes(&codes, label.as_deref());
        let clinical_status = clinical_status(c.clinical_status.as_deref());
        let verification = verification(c.verification_status.as_deref());
        let onset = match &c.onset {
            Some(ConditionOnset::DateTime(d)) => date_of(&d.value),
            Some(ConditionOnset::Period(p)) => p.start.as_ref().and_then(|d| date_of(&d.value)),
            _ => None,
        }
        .or_else(|| c.recorded_date.as_ref().and_then(|d| date_of(&d.value)));
        ConditionFact {
            reference: reference_string("Condition", &c.id),
            label: label_of(&codes, label, "Condition"),
            classes,
            clinical_status,
            verification,
            onset,
        }
    }

    /// An AllergyIntolerance: `alemtuzumab` when its substance (`code`, else a
    /// `reaction.substance`) is alemtuzumab for the terminology, Campath products included
    /// whatever `rules.campath_orders` says (a hypersensitivity is to the molecule).
    pub fn allergy(&self, a: &AllergyIntolerance) -> AllergyFact {
        let (codes, label) = concept_opt(a.code.as_deref());
        let is_alemtuzumab = |codes: &[Code], text: Option<&str>| {
            matches!(
                self.terminology.medication_class(codes, text),
                MedicationClass::Alemtuzumab { .. }
            )
        };
        let alemtuzumab = is_alemtuzumab(&codes, label.as_deref())
            || a.reaction.iter().any(|r| {
                r.substance.as_deref().is_some_and(|cc| {
                    let (codes, text) = concept(cc);
                    is_alemtuzumab(&codes, text.as_deref())
                })
            });
        let onset = match &a.onset {
            Some(AllergyIntoleranceOnset::DateTime(d)) => date_of(&d.value),
            Some(AllergyIntoleranceOnset::Period(p)) => {
                p.start.as_ref().and_then(|d| date_of(&d.value))
            }
            _ => None,
        }
        .or_else(|| a.recorded_date.as_ref().and_then(|d| date_of(&d.value)));
        AllergyFact {
            reference: reference_string("AllergyIntolerance", &a.id),
            label: label_of(&codes, label, "AllergyIntolerance"),
            alemtuzumab,
            clinical_status: clinical_status(a.clinical_status.as_deref()),
            verification: verification(a.verification_status.as_deref()),
            onset,
        }
    }

    pub fn birth_date(&self, p: &Patient) -> Option<NaiveDate> {
        p.birth_date
            .as_ref()
            .and_then(|d| d.value.as_deref())
            .and_then(|s| parse_date(s, true))
    }

    /// An Observation as a liver lab and/or blood-pressure reading; other codes give nothing.
    pub fn observation(&self, o: &Observation) -> (Option<LabFact>, Option<BloodPressureFact>) {
        let (codes, _) = concept(&o.code);
        let status = match code_value(&o.status) {
            "final" => ObservationStatus::Final,
            "amended" => ObservationStatus::Amended,
            "corrected" => ObservationStatus::Corrected,
            "preliminary" => ObservationStatus::Preliminary,
            "registered" => ObservationStatus::Registered,
            "cancelled" => ObservationStatus::Cancelled,
            "entered-in-error" => ObservationStatus::EnteredInError,
            _ => ObservationStatus::Unknown,
        };
        let date = match &o.effective {
            Some(ObservationEffective::DateTime(d)) => date_of(&d.value),
            Some(ObservationEffective::Period(p)) => {
                p.start.as_ref().and_then(|d| date_of(&d.value))
            }
            Some(ObservationEffective::Instant(i)) => date_of(&i.value),
            _ => None,
        }
        .or_else(|| o.issued.as_ref().and_then(|i| date_of(&i.value)));
        let reference = reference_string("Observation", &o.id);
        if let Some(test) = self.terminology.lab_test(&codes) {
            let quantity = match &o.value {
                Some(ObservationValue::Quantity(q)) => Some(&**q),
                _ => None,
            };
            let reference_high = o
                .reference_range
                .iter()
                .find_map(|r| r.high.as_deref().and_then(decimal));
            let lab = LabFact {
                reference,
                test,
                value: quantity.and_then(decimal),
                unit: quantity.and_then(unit),
                date,
                reference_high,
                status,
            };
            return (Some(lab), None);
        }
        if !status.is_valid() {
            return (None, None);
        }
        let component = |wanted: VitalSign| {
            o.component.iter().find_map(|c| {
                let (codes, _) = concept(&c.code);
                if self.terminology.vital_sign(&codes) != Some(wanted) {
                    return None;
                }
                match &c.value {
                    Some(ObservationComponentValue::Quantity(q)) => decimal(q),
                    _ => None,
                }
            })
        };
        let own_value = || match &o.value {
            Some(ObservationValue::Quantity(q)) => decimal(q),
            _ => None,
        };
        let (systolic, diastolic) = match self.terminology.vital_sign(&codes) {
            Some(VitalSign::BloodPressurePanel) => (
                component(VitalSign::Systolic),
                component(VitalSign::Diastolic),
            ),
            Some(VitalSign::Systolic) => (own_value(), component(VitalSign::Diastolic)),
            Some(VitalSign::Diastolic) => (component(VitalSign::Systolic), own_value()),
            None => return (None, None),
        };
        (
            None,
            Some(BloodPressureFact {
                reference,
                systolic,
                diastolic,
                date,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::parse::parse_resource;
    use serde_json::{json, Value};

    fn parsed(v: Value) -> Resource {
        parse_resource(v).expect("valid test resource")
    }

    fn with_builder<T>(f: impl FnOnce(&FactBuilder) -> T) -> T {
        let terminology = Terminology::default();
        let medications = MedicationIndex::default();
        f(&FactBuilder {
            terminology: &terminology,
            medications: &medications,
            campath_is_alemtuzumab: false,
        })
    }

    fn allergy(v: Value) -> AllergyFact {
        let Resource::AllergyIntolerance(a) = parsed(v) else {
            panic!("not an AllergyIntolerance")
        };
        with_builder(|b| b.allergy(&a))
    }

    const CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
    const VERIFICATION: &str =
        "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";

    #[test]
    fn an_allergy_to_alemtuzumab_is_recognised_with_its_statuses_and_onset() {
        let a = allergy(json!({
            "resourceType": "AllergyIntolerance", "id": "a1",
            "patient": {"reference": "Patient/p"},
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
            "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
            "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "117055", "display": "alemtuzumab"}],
                     "text": "Alemtuzumab (Lemtrada)"},
            "onsetDateTime": "2024-03-05T10:00:00+01:00",
            "recordedDate": "2024-04-01"
        }));
        assert_eq!(a.reference, "AllergyIntolerance/a1");
        assert_eq!(a.label, "Alemtuzumab (Lemtrada)");
        assert!(a.alemtuzumab);
        assert_eq!(a.clinical_status, ClinicalStatus::Active);
        assert_eq!(a.verification, Verification::Confirmed);
        assert_eq!(a.onset, NaiveDate::from_ymd_opt(2024, 3, 5));
        assert!(a.is_current());

        // Campath counts (the molecule) even with campath orders off; text only; recordedDate.
        let campath = allergy(json!({
            "resourceType": "AllergyIntolerance", "id": "a2",
            "patient": {"reference": "Patient/p"},
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "resolved"}]},
            "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "refuted"}]},
            "code": {"text": "MabCampath"},
            "recordedDate": "2019-06"
        }));
        assert!(campath.alemtuzumab, "{campath:?}");
        assert_eq!(campath.clinical_status, ClinicalStatus::Resolved);
        assert_eq!(campath.verification, Verification::Refuted);
        assert_eq!(campath.onset, NaiveDate::from_ymd_opt(2019, 6, 1));
        assert!(!campath.is_current());

        // A generic "drug allergy" whose reaction names the substance.
        let by_reaction = allergy(json!({
            "resourceType": "AllergyIntolerance", "id": "a3",
            "patient": {"reference": "Patient/p"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "416098002"}], "text": "Drug allergy"},
            "reaction": [{"substance": {"text": "Lemtrada"}, "manifestation": [{"text": "urticaria"}]}]
        }));
        assert!(by_reaction.alemtuzumab);
        assert_eq!(by_reaction.clinical_status, ClinicalStatus::Unknown);
        assert_eq!(by_reaction.verification, Verification::Unknown);
        assert_eq!(by_reaction.onset, None);

        // Another substance, no code at all: not alemtuzumab, a label all the same.
        let penicillin = allergy(json!({
            "resourceType": "AllergyIntolerance", "id": "a4",
            "patient": {"reference": "Patient/p"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "764146007", "display": "Penicillin"}]},
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "inactive"}]},
            "onsetDateTime": "not a date"
        }));
        assert!(!penicillin.alemtuzumab);
        assert_eq!(penicillin.label, "Penicillin");
        assert_eq!(penicillin.clinical_status, ClinicalStatus::Inactive);
        assert_eq!(penicillin.onset, None);
        let uncoded = allergy(json!({
            "resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p"}
        }));
        assert_eq!(uncoded.reference, "AllergyIntolerance");
        assert_eq!(uncoded.label, "AllergyIntolerance");
        assert!(!uncoded.alemtuzumab);
    }

    #[test]
    fn a_request_intent_is_read() {
        for (code, want) in [
            ("proposal", RequestIntent::Proposal),
            ("plan", RequestIntent::Plan),
            ("order", RequestIntent::Order),
            ("original-order", RequestIntent::Order),
            ("instance-order", RequestIntent::Order),
            ("option", RequestIntent::Other),
        ] {
            let Resource::MedicationRequest(mr) = parsed(json!({
                "resourceType": "MedicationRequest", "id": "r", "status": "active",
                "intent": code, "subject": {"reference": "Patient/p"},
                "medicationCodeableConcept": {"text": "Lemtrada"}
            })) else {
                panic!()
            };
            let fact = with_builder(|b| b.medication_request(&mr)).ok().unwrap();
            assert_eq!(fact.intent, Some(want), "{code}");
            assert_eq!(fact.status, MedicationStatus::Active);
            assert_eq!(fact.class, MedicationClass::Alemtuzumab { campath: false });
        }
    }

    /// An active (or on-hold) statement with only `effectiveDateTime` is "taking since then":
    /// ongoing; a completed or stopped one keeps start = end.
    #[test]
    fn a_statement_with_only_a_date_is_ongoing_while_active() {
        let day = NaiveDate::from_ymd_opt(2021, 9, 1);
        for (status, end) in [
            ("active", None),
            ("on-hold", None),
            ("completed", day),
            ("stopped", day),
            ("intended", day),
        ] {
            let Resource::MedicationStatement(ms) = parsed(json!({
                "resourceType": "MedicationStatement", "id": "s", "status": status,
                "subject": {"reference": "Patient/p"},
                "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "L04AE01"}], "text": "Gilenya"},
                "effectiveDateTime": "2021-09-01"
            })) else {
                panic!()
            };
            let fact = with_builder(|b| b.medication_statement(&ms)).ok().unwrap();
            assert_eq!(fact.start, day, "{status}");
            assert_eq!(fact.end, end, "{status}");
            assert!(
                matches!(fact.class, MedicationClass::Dmt { .. }),
                "{status}"
            );
        }
        // A period is read as written, ongoing or not.
        let Resource::MedicationStatement(ms) = parsed(json!({
            "resourceType": "MedicationStatement", "id": "s", "status": "active",
            "subject": {"reference": "Patient/p"},
            "medicationCodeableConcept": {"text": "fingolimod"},
            "effectivePeriod": {"start": "2020-01-01", "end": "2022-01-01"}
        })) else {
            panic!()
        };
        let fact = with_builder(|b| b.medication_statement(&ms)).ok().unwrap();
        assert_eq!(fact.end, NaiveDate::from_ymd_opt(2022, 1, 1));
    }

    #[test]
    fn dates_full_partial_and_malformed() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(parse_date("2026-11-25", false), d(2026, 11, 25));
        assert_eq!(
            parse_date("2026-11-25T23:30:00+01:00", false),
            d(2026, 11, 25)
        );
        assert_eq!(parse_date("2008", true), d(2008, 12, 31));
        assert_eq!(parse_date("2008", false), d(2008, 1, 1));
        assert_eq!(parse_date("2008-02", true), d(2008, 2, 29));
        assert_eq!(parse_date("2008-12", true), d(2008, 12, 31));
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-30",
            "20261125",
            "2026-11-25 garbage",
        ] {
            assert_eq!(parse_date(bad, false), None, "{bad}");
        }
    }
}
