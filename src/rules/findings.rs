//! What the rules conclude: one [`Finding`] per thing the clinician must see.
//!
//! A finding carries structured data, not text: `cards::text` turns it into French or English, so
//! the wording lives in one place per language and the rules stay testable on values.

use chrono::NaiveDate;

use super::facts::{
    BloodPressureFact, ContraindicationKind, DataGap, ImmuneReaction, LabTest, MedicationSource,
    Profile, StopReason,
};

/// The contract's `source.topic.code` values (cds-contract.md §Cards).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleCode {
    InitiationEligibility,
    Contraindication,
    ReAdministration,
    LiverFunction,
    InfusionMonitoring,
    PatientCounselling,
    DataUnavailable,
}

impl RuleCode {
    pub const ALL: [RuleCode; 7] = [
        RuleCode::InitiationEligibility,
        RuleCode::Contraindication,
        RuleCode::ReAdministration,
        RuleCode::LiverFunction,
        RuleCode::InfusionMonitoring,
        RuleCode::PatientCounselling,
        RuleCode::DataUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleCode::InitiationEligibility => "initiation-eligibility",
            RuleCode::InfusionMonitoring => "infusion-monitoring",
            RuleCode::LiverFunction => "liver-function",
            RuleCode::ReAdministration => "re-administration",
            RuleCode::PatientCounselling => "patient-counselling",
            RuleCode::Contraindication => "contraindication",
            RuleCode::DataUnavailable => "data-unavailable",
        }
    }
}

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
    /// The date the rules evaluated the order at (authoredOn or today).
    pub date: NaiveDate,
}

/// The structured content of a finding, one variant per rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    Initiation(InitiationDetail),
    InfusionMonitoring(InfusionMonitoringDetail),
    Liver(LiverDetail),
    ReAdministration(ReAdministrationDetail),
    Counselling(CounsellingDetail),
    Contraindication(ContraindicationDetail),
    DataUnavailable(DataUnavailableDetail),
}

// ---------------------------------------------------------------------------------------------
// R1

#[derive(Debug, Clone, PartialEq)]
pub struct InitiationDetail {
    pub profile: Profile,
    pub age: AgeCheck,
    pub ms: MsCheck,
    /// Every DMT course found, counted or not, so the clinician sees why.
    pub dmts: Vec<DmtCourse>,
    /// Distinct ingredients with a full and adequate course.
    pub counted_ingredients: Vec<String>,
    /// What the profile requires (2 under ansm-2019, 1 under ema-2020 by default).
    pub required: u32,
    /// Criteria that fail (critical).
    pub failed: Vec<Criterion>,
    /// Criteria that could not be confirmed (warning).
    pub unconfirmed: Vec<Criterion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Criterion {
    Adult,
    RelapsingRemittingMs,
    PriorDmts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeCheck {
    /// Age in whole years at the order date, with the birth date used.
    Known { years: u32, birth_date: NaiveDate },
    /// No birth date on record.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsCheck {
    /// An RRMS diagnosis (label, onset).
    RelapsingRemitting {
        label: String,
    },
    /// Only progressive MS on record.
    OnlyProgressive {
        labels: Vec<String>,
    },
    /// MS without subtype: RRMS not confirmed.
    Unspecified {
        labels: Vec<String>,
    },
    NoDiagnosis,
    /// The conditions could not be obtained.
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DmtCourse {
    pub ingredient: String,
    /// The records grouped into this course (labels as on record).
    pub label: String,
    pub source: MedicationSource,
    pub start: Option<NaiveDate>,
    /// End date, or `None` when ongoing / unknown.
    pub end: Option<NaiveDate>,
    pub ongoing: bool,
    /// Whole months from start to end (or to the order date when ongoing).
    pub months: Option<u32>,
    pub stop_reason: StopReason,
    pub status: DmtCourseStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmtCourseStatus {
    /// Lasted at least the configured minimum.
    CountedDuration,
    /// Stopped for inefficacy: counts whatever its length.
    CountedInefficacy,
    /// Shorter than the minimum and not stopped for inefficacy.
    TooShort,
    /// No dates: listed, not counted, the clinician is asked.
    Undated,
    /// Another course of the same ingredient already counted.
    SameIngredient,
}

// ---------------------------------------------------------------------------------------------
// R2, R5

#[derive(Debug, Clone, PartialEq)]
pub struct InfusionMonitoringDetail {
    pub profile: Profile,
    /// The last recorded blood pressure, shown as the baseline to compare with.
    pub last_blood_pressure: Option<BloodPressureFact>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CounsellingDetail {
    pub profile: Profile,
}

// ---------------------------------------------------------------------------------------------
// R3

#[derive(Debug, Clone, PartialEq)]
pub struct LiverDetail {
    pub profile: Profile,
    pub situation: LiverSituation,
    /// The latest result of each test of the panel, when any.
    pub latest: Vec<LabValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LiverSituation {
    /// Before a course: no complete panel within `max_age_days` before the order date.
    /// `missing` lists the tests with no result in the window.
    PanelMissingBeforeOrder {
        missing: Vec<LabTest>,
        max_age_days: u32,
    },
    /// Monitoring (48 months after the last infusion): the last complete panel is older than
    /// `interval_days` (or there is none: `last_panel` is `None`).
    MonitoringOverdue {
        last_infusion: NaiveDate,
        monitor_until: NaiveDate,
        last_panel: Option<NaiveDate>,
        interval_days: u32,
    },
    /// Results above the upper limit of normal.
    Abnormal { results: Vec<LabValue> },
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
// R4

#[derive(Debug, Clone, PartialEq)]
pub struct ReAdministrationDetail {
    pub profile: Profile,
    pub first_exposure: Option<NaiveDate>,
    pub last_exposure: Option<NaiveDate>,
    pub courses: u32,
    pub signals: Vec<ReAdministrationSignal>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReAdministrationSignal {
    /// ALT or AST > factor × ULN, or bilirubin > factor × ULN.
    LiverLab { lab: LabValue, factor: f64 },
    /// ALT/AST > 3 × ULN and bilirubin > 2 × ULN: Hy's law.
    HysLaw {
        transaminase: LabValue,
        bilirubin: LabValue,
    },
    /// A lab that could not be judged (no unit we know and no reference range).
    LabNotAssessable { lab: LabValue },
    /// A serious immune reaction or liver-injury diagnosis after the first exposure.
    Diagnosis {
        reaction: ImmuneReaction,
        label: String,
        onset: Option<NaiveDate>,
        reference: String,
    },
    /// The order comes less than the configured minimum after the previous course.
    CourseInterval {
        last_course_end: NaiveDate,
        months: u32,
        minimum_months: u32,
    },
}

// ---------------------------------------------------------------------------------------------
// ema-2020 contraindications

#[derive(Debug, Clone, PartialEq)]
pub struct ContraindicationDetail {
    pub profile: Profile,
    pub items: Vec<ContraindicationItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContraindicationItem {
    pub kind: ContraindicationKind,
    pub evidence: ContraindicationEvidence,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ContraindicationEvidence {
    Condition {
        reference: String,
        label: String,
        onset: Option<NaiveDate>,
    },
    /// Active anticoagulant / anti-platelet therapy.
    Medication {
        reference: String,
        label: String,
        start: Option<NaiveDate>,
    },
    /// Last blood pressure at or above the configured threshold.
    BloodPressure {
        reading: BloodPressureFact,
        systolic_threshold: f64,
        diastolic_threshold: f64,
    },
}

// ---------------------------------------------------------------------------------------------
// Could not check

#[derive(Debug, Clone, PartialEq)]
pub struct DataUnavailableDetail {
    pub gap: DataGap,
    /// The rules this gap leaves unchecked (for this hook call).
    pub blocked: Vec<RuleCode>,
}
