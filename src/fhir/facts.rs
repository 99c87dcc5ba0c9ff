//! FHIR R4 resources → `rules::PatientFacts`: the only file where FHIR meets the rules.
//!
//! History resources are read as `fhir::model` projections (the elements the rules use, borrowed
//! from the request); Medications are validated whole by fhirbolt (`fhir::parse`) and indexed
//! here. Codes are recognised through `terminology`; dates are parsed here (a date that
//! cannot be read is `None`, so the rule says "could not check" rather than guessing).

use std::collections::HashMap;

use chrono::NaiveDate;
use fhirbolt::model::r4::resources::{Medication, MedicationIngredientItem};

use super::model::{self, text, CodeableConcept, Contained, Quantity, Reference, Resource, Text};
use crate::rules::{
    AllergyFact, BloodPressureFact, ClinicalStatus, Code, ConditionFact, LabFact, MedicationClass,
    MedicationFact, MedicationSource, MedicationStatus, ObservationStatus, RequestIntent,
    StopReason, Verification,
};
use crate::terminology::{Terminology, VitalSign};

// ---------------------------------------------------------------------------------------------
// Small readers

/// The non-empty (system, code) pairs of a CodeableConcept, and its text (else first display).
pub fn concept(cc: &CodeableConcept<'_>) -> (Vec<Code>, Option<String>) {
    let mut codes = Vec::with_capacity(cc.coding.0.len());
    let mut display = None;
    for c in cc.coding.iter() {
        let system = c.system.as_ref().map(|s| s.as_str().trim());
        let code = c.code.as_ref().map(|s| s.as_str().trim());
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

fn concept_opt(cc: Option<&CodeableConcept<'_>>) -> (Vec<Code>, Option<String>) {
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

/// The calendar date of an optional date/dateTime/instant element.
fn date_of(v: &Option<Text<'_>>) -> Option<NaiveDate> {
    v.as_ref().and_then(|s| parse_date(s.as_str(), false))
}

fn period_start(p: &Option<model::Period<'_>>) -> Option<NaiveDate> {
    p.as_ref().and_then(|p| date_of(&p.start))
}

fn period_end(p: &Option<model::Period<'_>>) -> Option<NaiveDate> {
    p.as_ref().and_then(|p| date_of(&p.end))
}

fn decimal(q: &Quantity<'_>) -> Option<f64> {
    q.value.filter(|v| v.is_finite())
}

fn unit(q: &Quantity<'_>) -> Option<String> {
    text(&q.unit).or_else(|| text(&q.code)).map(str::to_owned)
}

/// A code element's value, trimmed ("" when absent).
fn code_value<'s>(c: &'s Option<Text<'_>>) -> &'s str {
    c.as_ref().map_or("", |t| t.as_str().trim())
}

/// The first non-empty code of a status CodeableConcept.
fn status_code<'s>(cc: Option<&'s CodeableConcept<'_>>) -> Option<&'s str> {
    cc.and_then(|cc| {
        cc.coding
            .iter()
            .find_map(|c| c.code.as_ref().map(Text::as_str).filter(|s| !s.is_empty()))
    })
}

/// `clinicalStatus` of a Condition or an AllergyIntolerance (the allergy codes are a subset).
fn clinical_status(cc: Option<&CodeableConcept<'_>>) -> ClinicalStatus {
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
fn verification(cc: Option<&CodeableConcept<'_>>) -> Verification {
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
    /// A Medication read by fhirbolt: its code and ingredient codes.
    fn from_medication(m: &Medication) -> Self {
        let mut codes = Vec::new();
        let mut text = None;
        if let Some(cc) = m.code.as_deref() {
            let (c, t) = bolt_concept(cc);
            codes = c;
            text = t;
        }
        for ing in &m.ingredient {
            if let MedicationIngredientItem::CodeableConcept(cc) = &ing.item {
                codes.extend(bolt_concept(cc).0);
            }
        }
        Self { codes, text }
    }

    /// A Medication contained in a record: the same elements, from the projection.
    fn from_contained(m: &Contained<'_>) -> Self {
        let (mut codes, text) = concept_opt(m.code.as_ref());
        for ing in m.ingredient.iter() {
            if let Some(cc) = &ing.item_codeable_concept {
                codes.extend(concept(cc).0);
            }
        }
        Self { codes, text }
    }

    fn from_concept(cc: &CodeableConcept<'_>) -> Self {
        let (codes, text) = concept(cc);
        Self { codes, text }
    }
}

/// [`concept`] of a fhirbolt CodeableConcept (Medications are read by fhirbolt).
fn bolt_concept(cc: &fhirbolt::model::r4::types::CodeableConcept) -> (Vec<Code>, Option<String>) {
    let s = |v: &Option<fhirbolt::model::r4::types::String>| {
        v.as_ref()
            .and_then(|s| s.value.as_deref())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
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
            display = s(&c.display);
        }
    }
    (codes, s(&cc.text).or(display))
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
        let id =
            m.id.as_ref()
                .and_then(|i| i.value.as_deref())
                .filter(|s| !s.is_empty());
        if let Some(id) = id {
            self.by_reference
                .insert(format!("Medication/{id}"), concept.clone());
        }
        if let Some(url) = full_url.filter(|u| !u.is_empty()) {
            self.by_reference.insert(url.to_owned(), concept);
        }
    }

    /// Adds the entries of `other` this index does not hold (those it holds win).
    pub fn insert_missing_from(&mut self, other: MedicationIndex) {
        for (reference, concept) in other.by_reference {
            self.by_reference.entry(reference).or_insert(concept);
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
pub enum MedicationRef<'r, 'a> {
    Concept(&'r CodeableConcept<'a>),
    Reference(&'r Reference<'a>),
    Missing,
}

/// The outcome of resolving a record's medication.
pub enum Resolved {
    Found(MedicationConcept),
    /// A `medicationReference` that is neither contained nor in the index (the reference).
    Unresolved(String),
    Missing,
}

/// `medication[x]` of a MedicationRequest, Statement or Administration.
pub fn medication_of<'r, 'a>(r: &'r Resource<'a>) -> MedicationRef<'r, 'a> {
    match (&r.medication_codeable_concept, &r.medication_reference) {
        (Some(cc), _) => MedicationRef::Concept(cc),
        (None, Some(reference)) => MedicationRef::Reference(reference),
        (None, None) => MedicationRef::Missing,
    }
}

pub fn resolve(r: &Resource<'_>, index: &MedicationIndex) -> Resolved {
    match medication_of(r) {
        MedicationRef::Concept(cc) => Resolved::Found(MedicationConcept::from_concept(cc)),
        MedicationRef::Missing => Resolved::Missing,
        MedicationRef::Reference(reference_element) => {
            let reference = text(&reference_element.reference).unwrap_or("");
            if let Some(local) = reference.strip_prefix('#') {
                let found = r.contained.iter().find_map(|c| {
                    let medication =
                        c.resource_type.as_ref().map(Text::as_str) == Some("Medication");
                    let id = c.id.as_ref().map(Text::as_str).filter(|s| !s.is_empty());
                    (medication && id == Some(local)).then(|| MedicationConcept::from_contained(c))
                });
                return match found {
                    Some(c) => Resolved::Found(c),
                    None => Resolved::Unresolved(reference.to_owned()),
                };
            }
            if reference.is_empty() {
                // A reference with only a display: use it as text.
                return match text(&reference_element.display) {
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
                        c.text = text(&reference_element.display).map(str::to_owned);
                    }
                    Resolved::Found(c)
                }
                None => Resolved::Unresolved(reference.to_owned()),
            }
        }
    }
}

/// The `display` of a record's `medicationReference`, trimmed, if any.
pub fn reference_display(r: &Resource<'_>) -> Option<String> {
    match medication_of(r) {
        MedicationRef::Reference(reference) => text(&reference.display).map(str::to_owned),
        _ => None,
    }
}

/// The `medicationReference` a MedicationRequest, Statement or Administration needs resolved,
/// if it cannot be resolved locally (contained or indexed); `None` for other types.
pub fn unresolved_reference(r: &Resource<'_>, index: &MedicationIndex) -> Option<String> {
    if !matches!(
        r.resource_type(),
        "MedicationRequest" | "MedicationStatement" | "MedicationAdministration"
    ) {
        return None;
    }
    match resolve(r, index) {
        Resolved::Unresolved(reference) if !reference.starts_with('#') => Some(reference),
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

    fn stop_reason<'r>(
        &self,
        reasons: impl IntoIterator<Item = &'r CodeableConcept<'r>>,
    ) -> StopReason {
        for cc in reasons {
            let (codes, text) = concept(cc);
            match self.terminology.stop_reason(&codes, text.as_deref()) {
                StopReason::None => {}
                found => return found,
            }
        }
        StopReason::None
    }

    /// A MedicationRequest of the history (a draft order goes through the same reading).
    pub fn medication_request(
        &self,
        mr: &Resource<'_>,
    ) -> Result<MedicationFact, UnresolvedMedication> {
        let m = self.medication(mr)?;
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
            .and_then(|d| d.validity_period.clone());
        let start = date_of(&mr.authored_on).or_else(|| period_start(&validity));
        let end = period_end(&validity);
        Ok(MedicationFact {
            reference: mr.reference(),
            intent: Some(RequestIntent::parse(code_value(&mr.intent))),
            source: MedicationSource::Request,
            class: self.classify(&m),
            label: label_of(&m.codes, m.text.clone(), "MedicationRequest"),
            status,
            start,
            end,
            stop_reason: self.stop_reason(mr.status_reason.iter().chain(mr.reason_code.iter())),
        })
    }

    pub fn medication_statement(
        &self,
        ms: &Resource<'_>,
    ) -> Result<MedicationFact, UnresolvedMedication> {
        let m = self.medication(ms)?;
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
        let (start, end) = match (&ms.effective_date_time, &ms.effective_period) {
            // A single date on a statement still being taken means "taking since then"
            // (docs/clinical-rules.md §2, pulsed DMTs): ongoing, no end. A completed or stopped one
            // keeps start = end (its length is unknown, never invented).
            (Some(d), _) if status.is_ongoing() => (date_of(&Some(d.clone())), None),
            (Some(d), _) => {
                let d = date_of(&Some(d.clone()));
                (d, d)
            }
            (None, p @ Some(_)) => (period_start(p), period_end(p)),
            (None, None) => (None, None),
        };
        Ok(MedicationFact {
            reference: ms.reference(),
            source: MedicationSource::Statement,
            class: self.classify(&m),
            label: label_of(&m.codes, m.text.clone(), "MedicationStatement"),
            status,
            start,
            end,
            stop_reason: self.stop_reason(ms.status_reason.iter().chain(ms.reason_code.iter())),
            intent: None,
        })
    }

    pub fn medication_administration(
        &self,
        ma: &Resource<'_>,
    ) -> Result<MedicationFact, UnresolvedMedication> {
        let m = self.medication(ma)?;
        let status = match code_value(&ma.status) {
            "in-progress" => MedicationStatus::Active,
            "not-done" => MedicationStatus::NotTaken,
            "on-hold" => MedicationStatus::OnHold,
            "completed" => MedicationStatus::Completed,
            "entered-in-error" => MedicationStatus::EnteredInError,
            "stopped" => MedicationStatus::Stopped,
            _ => MedicationStatus::Unknown,
        };
        let (start, end) = match (&ma.effective_date_time, &ma.effective_period) {
            (Some(d), _) => {
                let d = date_of(&Some(d.clone()));
                (d, d)
            }
            (None, p @ Some(_)) => {
                let s = period_start(p);
                (s, period_end(p).or(s))
            }
            (None, None) => (None, None),
        };
        Ok(MedicationFact {
            reference: ma.reference(),
            source: MedicationSource::Administration,
            class: self.classify(&m),
            label: label_of(&m.codes, m.text.clone(), "MedicationAdministration"),
            status,
            start,
            end,
            stop_reason: self.stop_reason(ma.status_reason.iter()),
            intent: None,
        })
    }

    fn medication(&self, r: &Resource<'_>) -> Result<MedicationConcept, UnresolvedMedication> {
        match resolve(r, self.medications) {
            Resolved::Found(c) => Ok(c),
            Resolved::Missing => Ok(MedicationConcept::default()),
            Resolved::Unresolved(reference) => Err(UnresolvedMedication(reference)),
        }
    }

    pub fn condition(&self, c: &Resource<'_>) -> ConditionFact {
        let (codes, label) = concept_opt(c.code.as_ref());
        let classes = self.terminology.condition_classes(&codes, label.as_deref());
        let onset = date_of(&c.onset_date_time)
            .or_else(|| period_start(&c.onset_period))
            .or_else(|| date_of(&c.recorded_date));
        ConditionFact {
            reference: c.reference(),
            label: label_of(&codes, label, "Condition"),
            classes,
            clinical_status: clinical_status(c.clinical_status.as_ref()),
            verification: verification(c.verification_status.as_ref()),
            onset,
        }
    }

    /// An AllergyIntolerance: `alemtuzumab` when its substance (`code`, else a
    /// `reaction.substance`) is alemtuzumab for the terminology, Campath products included
    /// whatever `rules.campath_orders` says (a hypersensitivity is to the molecule).
    pub fn allergy(&self, a: &Resource<'_>) -> AllergyFact {
        let (codes, label) = concept_opt(a.code.as_ref());
        let is_alemtuzumab = |codes: &[Code], text: Option<&str>| {
            matches!(
                self.terminology.medication_class(codes, text),
                MedicationClass::Alemtuzumab { .. }
            )
        };
        let alemtuzumab = is_alemtuzumab(&codes, label.as_deref())
            || a.reaction.iter().any(|r| {
                r.substance.as_ref().is_some_and(|cc| {
                    let (codes, text) = concept(cc);
                    is_alemtuzumab(&codes, text.as_deref())
                })
            });
        let onset = date_of(&a.onset_date_time)
            .or_else(|| period_start(&a.onset_period))
            .or_else(|| date_of(&a.recorded_date));
        AllergyFact {
            reference: a.reference(),
            label: label_of(&codes, label, "AllergyIntolerance"),
            alemtuzumab,
            clinical_status: clinical_status(a.clinical_status.as_ref()),
            verification: verification(a.verification_status.as_ref()),
            onset,
        }
    }

    pub fn birth_date(&self, p: &Resource<'_>) -> Option<NaiveDate> {
        p.birth_date
            .as_ref()
            .and_then(|d| parse_date(d.as_str(), true))
    }

    /// An Observation as a liver lab and/or blood-pressure reading; other codes give nothing.
    pub fn observation(&self, o: &Resource<'_>) -> (Option<LabFact>, Option<BloodPressureFact>) {
        let (codes, _) = concept_opt(o.code.as_ref());
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
        let date = if o.effective_date_time.is_some() {
            date_of(&o.effective_date_time)
        } else if o.effective_period.is_some() {
            period_start(&o.effective_period)
        } else {
            date_of(&o.effective_instant)
        }
        .or_else(|| date_of(&o.issued));
        if let Some(test) = self.terminology.lab_test(&codes) {
            let quantity = o.value_quantity.as_ref();
            let reference_high = o
                .reference_range
                .iter()
                .find_map(|r| r.high.as_ref().and_then(decimal));
            let lab = LabFact {
                reference: o.reference(),
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
                c.value_quantity.as_ref().and_then(decimal)
            })
        };
        let own_value = || o.value_quantity.as_ref().and_then(decimal);
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
                reference: o.reference(),
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
    use serde_json::{json, Value};

    /// The projection of a test resource (its JSON text leaked: tests only).
    fn parsed(v: Value) -> Resource<'static> {
        let json: &'static str = Box::leak(v.to_string().into_boxed_str());
        model::read(json).expect("valid test resource")
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
        let a = parsed(v);
        assert_eq!(a.resource_type(), "AllergyIntolerance");
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
            let mr = parsed(json!({
                "resourceType": "MedicationRequest", "id": "r", "status": "active",
                "intent": code, "subject": {"reference": "Patient/p"},
                "medicationCodeableConcept": {"text": "Lemtrada"}
            }));
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
            let ms = parsed(json!({
                "resourceType": "MedicationStatement", "id": "s", "status": status,
                "subject": {"reference": "Patient/p"},
                "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "L04AE01"}], "text": "Gilenya"},
                "effectiveDateTime": "2021-09-01"
            }));
            let fact = with_builder(|b| b.medication_statement(&ms)).ok().unwrap();
            assert_eq!(fact.start, day, "{status}");
            assert_eq!(fact.end, end, "{status}");
            assert!(
                matches!(fact.class, MedicationClass::Dmt { .. }),
                "{status}"
            );
        }
        // A period is read as written, ongoing or not.
        let ms = parsed(json!({
            "resourceType": "MedicationStatement", "id": "s", "status": "active",
            "subject": {"reference": "Patient/p"},
            "medicationCodeableConcept": {"text": "fingolimod"},
            "effectivePeriod": {"start": "2020-01-01", "end": "2022-01-01"}
        }));
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
