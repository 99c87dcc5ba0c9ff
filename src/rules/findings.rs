//! What the rules conclude: one [`Finding`] per thing the clinician must see.
//!
//! A finding carries structured data, not text: `cards::text` turns it into French or English, so
//! the wording lives in one place per language and the rules stay testable on values.

use chrono::NaiveDate;

use super::facts::{
    BloodPressureFact, ContraindicationKind, DataGap, ImmuneReaction, LabTest, MedicationSource,
    Profile, StopReason,
};

/// The contract's `source.topic.code` values (docs/wire-contract.md §Cards).
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
    /// The date the rules evaluated the order at: the hook call's date (today), never `authoredOn`.
    pub date: NaiveDate,
    /// `authoredOn` as written on the order, shown on the card when it differs from `date`.
    pub authored_on: Option<NaiveDate>,
    /// The order's Medication could not be read; it was recognised from the reference's `display`.
    pub identified_by_display: bool,
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
    /// Medication records on record that the terminology did not recognise (labels), listed when
    /// the DMT criterion is not met: present-but-unrecognised is never reported as "no DMT".
    pub unrecognised_medications: Vec<String>,
    /// Other things the prescriber must see before starting (each makes the card at least a
    /// warning even when every criterion is met).
    pub warnings: Vec<InitiationWarning>,
}

/// Warnings on the initiation card that are not criteria of R1.
#[derive(Debug, Clone, PartialEq)]
pub enum InitiationWarning {
    /// An alemtuzumab record that does not show the drug was given (a proposal, a plan, an order
    /// never completed, a Campath product): the patient is treated as new, but it must be checked.
    WeakExposure(WeakExposure),
    /// A serious immune reaction diagnosis in a patient with no alemtuzumab on record: an
    /// unrecorded earlier course elsewhere, or an autoimmune disease (ema-2020 contraindication).
    ImmuneReactionOnRecord {
        reaction: ImmuneReaction,
        label: String,
        onset: Option<NaiveDate>,
        reference: String,
    },
    /// Another DMT drafted in the same call: alemtuzumab is given alone (washout).
    ConcurrentDmtDraft { reference: String, label: String },
}

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
    RelapsingRemitting { label: String },
    /// The current phenotype is progressive (only progressive MS on record, or an RRMS that is
    /// inactive/resolved and a later progressive diagnosis): fails. `earlier_rrms` lists the
    /// superseded RRMS diagnoses.
    OnlyProgressive {
        labels: Vec<String>,
        earlier_rrms: Vec<String>,
    },
    /// An active RRMS and an active progressive diagnosis both on record: could not confirm, both
    /// named.
    Conflicting {
        rrms: Vec<String>,
        progressive: Vec<String>,
    },
    /// MS without subtype: RRMS not confirmed.
    Unspecified { labels: Vec<String> },
    /// No MS diagnosis recognised; `unrecognised` lists the conditions on record the terminology
    /// did not recognise (a locally coded MS may be among them).
    NoDiagnosis { unrecognised: Vec<String> },
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
    /// Cladribine tablets: both treatment years given (or 12 months since the first week).
    CountedCladribineCourse,
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
    /// The patient has alemtuzumab on record (the wording of abnormal results differs).
    pub exposed: bool,
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
    /// Exposed at an unknown date (undated records only): monitoring cannot be dated, so the card
    /// asks for the last infusion date and a panel; `last_panel` is the last complete panel.
    MonitoringUndated { last_panel: Option<NaiveDate> },
    /// Results that could not be interpreted (a unit that cannot be converted and no reference
    /// range): never a pass.
    NotInterpretable { results: Vec<LabValue> },
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
// R4

#[derive(Debug, Clone, PartialEq)]
pub struct ReAdministrationDetail {
    pub profile: Profile,
    pub first_exposure: Option<NaiveDate>,
    pub last_exposure: Option<NaiveDate>,
    pub courses: u32,
    pub signals: Vec<ReAdministrationSignal>,
    /// Non-empty when the only alemtuzumab on record is weak evidence (no administration shown):
    /// the signals are checked all the same and the card says exposure is not proven.
    pub weak_evidence: Vec<WeakExposure>,
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
    /// The order belongs to the course in progress (within `course_gap_days` of its last
    /// infusion) and would give more infusion days than the course allows (5 for the first course,
    /// 3 for later ones): a warning.
    CourseDayCount {
        course_start: NaiveDate,
        /// The day of the course this order would be (course start = day 1).
        day: u32,
        allowed_days: u32,
        /// 1 for the first course.
        course_number: u32,
    },
    /// This order would start a fifth course (the SmPC allows 2 courses and up to 2 more).
    FifthCourse { course_number: u32 },
    /// Another DMT drafted in the same call (alemtuzumab is given alone): a warning.
    ConcurrentDmtDraft { reference: String, label: String },
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
    /// A hypersensitivity to alemtuzumab (AllergyIntolerance).
    Allergy {
        reference: String,
        label: String,
        onset: Option<NaiveDate>,
    },
    /// An anticoagulant / anti-platelet drafted in the same hook call.
    DraftOrder { reference: String, label: String },
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
