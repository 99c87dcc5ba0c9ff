//! What the rules conclude: one [`Finding`] per thing the clinician must see.
//!
//! A finding carries structured data, not text: `cards::text` turns it into French or English, so
//! the wording lives in one place per language and the rules stay testable on values.
//!
//! This file holds what every rule shares: [`Finding`], [`Severity`], [`OrderRef`], the value
//! types that several rules' details carry (weak alemtuzumab records, lab results) and the
//! data-gap detail. The rule codes and the [`Detail`] variants are the registry's
//! (`rules/mod.rs`); each rule's own detail type lives in the rule's file
//! (`r1_initiation.rs` `InitiationDetail`, …).

use chrono::NaiveDate;

use super::facts::{DataGap, LabTest, MedicationSource};
use super::{Detail, RuleCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: RuleCode,
    pub severity: Severity,
    /// The draft order this finding is about (`MedicationRequest/<id>`), `None` on patient-view.
    pub order: Option<OrderRef>,
    pub detail: Detail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRef {
    pub reference: String,
    pub label: String,
    /// The date the rules evaluated the order at: the hook call's date (today), never `authoredOn`.
    pub date: NaiveDate,
    /// `authoredOn` as written on the order, shown on the card when it differs from `date`.
    pub authored_on: Option<NaiveDate>,
    /// The order's Medication could not be read; it was recognised from the reference's `display`.
    pub identified_by_display: bool,
}

// ---------------------------------------------------------------------------------------------
// Shared by several rules' details: weak alemtuzumab records (R1, R4), lab results (R3, R4)

/// An alemtuzumab record that is not evidence of administration, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct WeakExposure {
    pub reference: String,
    pub label: String,
    pub source: MedicationSource,
    pub date: Option<NaiveDate>,
    pub why: WeakExposureReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeakExposureReason {
    /// A MedicationRequest with intent proposal.
    Proposal,
    /// A MedicationRequest with intent plan (or directive/option/unknown).
    Plan,
    /// A MedicationRequest ordered but never completed (active, on-hold, stopped, draft…).
    OrderNotCompleted,
    /// A Campath (oncology) product, which does not count as MS exposure unless configured.
    Campath,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabValue {
    pub reference: String,
    pub test: LabTest,
    pub value: Option<f64>,
    pub unit: Option<String>,
    pub date: Option<NaiveDate>,
    /// The upper limit of normal used and where it came from.
    pub uln: Option<Uln>,
    /// When `value`/`unit` were converted (µkat/L → U/L), what the lab sent.
    pub converted_from: Option<OriginalValue>,
}

/// A result as the lab sent it, before unit conversion.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginalValue {
    pub value: Option<f64>,
    pub unit: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Uln {
    pub value: f64,
    pub source: UlnSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UlnSource {
    /// The Observation's `referenceRange.high`.
    ReferenceRange,
    /// The configured default, because the lab gave no reference range.
    ConfiguredDefault,
}

// ---------------------------------------------------------------------------------------------
// Could not check

#[derive(Debug, Clone, PartialEq)]
pub struct DataUnavailableDetail {
    pub gap: DataGap,
    /// The rules this gap leaves unchecked (for this hook call).
    pub blocked: Vec<RuleCode>,
}
