//! Every word a card shows, one file per language: `fr.rs` and `en.rs` implement [`Texts`].
//!
//! The renderers (`cards/mod.rs` and one file per rule, `cards/r1_initiation.rs` …) decide *what*
//! to say and the markdown layout; these files decide *how* it is said. Arguments that come from
//! the EHR (labels, references) arrive already escaped for markdown; dates arrive already formatted
//! by the language's own [`Texts::fmt_date`] (French prose `25/11/2026`, English ISO `2026-11-25`)
//! and numbers with the language's decimal separator, so a reviewer only has to read sentences.

use chrono::NaiveDate;

use crate::rules::{
    ContraindicationKind, Criterion, DataSet, DmtCourseStatus, GapReason, ImmuneReaction, LabTest,
    MedicationSource, Profile, RuleCode, StopReason, UlnSource, WeakExposureReason,
};

use super::format::SUMMARY_MAX_CHARS;
use super::{Language, OverrideReason};

mod en;
mod fr;

/// The wording of one language.
pub fn for_language(language: Language) -> &'static dyn Texts {
    match language {
        Language::Fr => &fr::Fr,
        Language::En => &en::En,
    }
}

/// One lab result, ready to be put into words.
pub struct LabLine<'a> {
    pub test: LabTest,
    /// Formatted value, `None` when there is no numeric value (or it is NaN/infinite).
    pub value: Option<String>,
    /// Escaped unit.
    pub unit: Option<&'a str>,
    pub date: Option<String>,
    /// Formatted upper limit of normal and where it came from.
    pub uln: Option<(String, UlnSource)>,
    /// Formatted value / ULN ratio, when both are known.
    pub ratio: Option<String>,
    /// Escaped `Observation/<id>`.
    pub reference: &'a str,
    /// What the lab sent before unit conversion (formatted value and unit), when converted.
    pub original: Option<String>,
}

/// One DMT course, ready to be put into words.
pub struct DmtLine<'a> {
    /// Escaped label as on record.
    pub label: &'a str,
    /// Escaped ingredient key.
    pub ingredient: &'a str,
    pub source: MedicationSource,
    pub start: Option<String>,
    pub end: Option<String>,
    pub ongoing: bool,
    pub months: Option<u32>,
    pub stop_reason: StopReason,
    pub status: DmtCourseStatus,
}

/// The signal kinds of R4, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    LiverLab,
    HysLaw,
    LabNotAssessable,
    Diagnosis,
    CourseInterval,
    /// One infusion day too many in the course in progress.
    CourseDayCount,
    /// A fifth course.
    FifthCourse,
    /// Another DMT drafted in the same call.
    ConcurrentDmt,
}

impl SignalKind {
    /// Most serious first: the order of the summary.
    pub const ORDER: [SignalKind; 8] = [
        SignalKind::HysLaw,
        SignalKind::LiverLab,
        SignalKind::Diagnosis,
        SignalKind::CourseInterval,
        SignalKind::LabNotAssessable,
        SignalKind::FifthCourse,
        SignalKind::CourseDayCount,
        SignalKind::ConcurrentDmt,
    ];

    /// Liver and immune signals: the ones R4's "rigorous evaluation" is about. The schedule
    /// signals (interval, day count, fifth course) and a concurrent draft never ask for it
    /// (clinical rules §5).
    pub fn needs_rigorous_evaluation(self) -> bool {
        matches!(
            self,
            SignalKind::HysLaw
                | SignalKind::LiverLab
                | SignalKind::Diagnosis
                | SignalKind::LabNotAssessable
        )
    }

    /// Course schedule signals.
    pub fn is_schedule(self) -> bool {
        matches!(
            self,
            SignalKind::CourseInterval | SignalKind::CourseDayCount | SignalKind::FifthCourse
        )
    }
}

/// The kinds of warning on the initiation card, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitiationWarningKind {
    WeakExposure,
    ImmuneReaction,
    ConcurrentDmt,
}

/// An alemtuzumab record that does not prove administration, ready to be put into words.
pub struct WeakLine<'a> {
    pub label: &'a str,
    pub reference: &'a str,
    pub source: MedicationSource,
    pub date: Option<String>,
    pub why: WeakExposureReason,
}

/// How old the last blood pressure is, compared with the evaluation date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BpAge {
    /// Measured on the evaluation date: the infusion baseline.
    EvaluationDay,
    /// Measured earlier (or the evaluation date is unknown): `days` before the evaluation date.
    Older { days: Option<i64> },
    /// No date on the reading.
    Undated,
}

/// The R3 situations, for the summary.
pub enum LiverSummary<'a> {
    /// Tests missing (names already localised); `days` is the window.
    PanelMissing {
        missing: &'a [&'static str],
        days: u32,
    },
    MonitoringOverdue {
        last_panel: Option<&'a str>,
    },
    /// `exposed`: alemtuzumab on record (only then "after alemtuzumab").
    Abnormal {
        tests: &'a [&'static str],
        exposed: bool,
    },
    /// Exposed at an unknown date.
    MonitoringUndated,
    NotInterpretable {
        tests: &'a [&'static str],
    },
}

/// `render(list)` with as many of `names` as fit in a summary, the rest counted ("…, + 2").
/// `names` must not be empty.
pub(crate) fn fit_names(names: &[String], render: impl Fn(&str) -> String) -> String {
    for shown in (1..=names.len()).rev() {
        let mut list = names[..shown].join(", ");
        if shown < names.len() {
            list.push_str(&format!(", + {}", names.len() - shown));
        }
        let s = render(&list);
        if s.chars().count() <= SUMMARY_MAX_CHARS || shown == 1 {
            return s;
        }
    }
    render("")
}

/// Every text of the cards. One implementation per language; a method per sentence or name.
pub trait Texts: Sync {
    // --- Names -----------------------------------------------------------------------------
    /// The decimal separator of the language.
    fn decimal_separator(&self) -> char;
    /// A date in prose (French `25/11/2026`, English `2026-11-25`).
    fn fmt_date(&self, date: NaiveDate) -> String;
    /// A DMT ingredient: the keys come in English from the terminology (`src/terminology/value_sets.rs`
    /// `default_dmts`); each language gives its INN spelling, unknown keys as they are.
    fn ingredient_name(&self, key: &str) -> String;
    /// The service name shown in `source.label`.
    fn service_name(&self) -> &'static str;
    /// Short profile name, for `source.label` ("ANSM 2019").
    fn profile_short(&self, profile: Profile) -> &'static str;
    /// The regulatory text a profile follows, one line.
    fn profile_long(&self, profile: Profile) -> &'static str;
    /// "R1 — …": rule number and title.
    fn rule_title(&self, rule: RuleCode) -> &'static str;
    /// Very short rule tag for summaries ("R1", "contre-indications").
    fn rule_tag(&self, rule: RuleCode) -> &'static str;
    /// The measure of the rule in one sentence.
    fn rule_measure(&self, rule: RuleCode, profile: Profile) -> &'static str;
    fn lab_test_name(&self, test: LabTest) -> &'static str;
    /// The kind of medication record (order, statement, administration).
    fn medication_source_name(&self, source: MedicationSource) -> &'static str;
    fn immune_reaction_name(&self, reaction: ImmuneReaction) -> &'static str;
    fn contraindication_name(&self, kind: ContraindicationKind) -> &'static str;
    /// Short name of the data set, for summaries (never carries EHR text).
    fn data_set_name(&self, data: &DataSet) -> &'static str;
    /// The data set in a detail sentence; `reference` is the escaped reference of
    /// `Medication(_)` / `Resource(_)`.
    fn data_set_detail(&self, data: &DataSet, reference: &str) -> String;
    /// Why the data is missing; `text` is the escaped free text of the reason, if any.
    fn gap_reason(&self, reason: &GapReason, text: &str) -> String;
    /// A criterion, short; `failed` (critical) or could not be confirmed (warning).
    fn criterion_short(&self, criterion: Criterion, failed: bool) -> &'static str;
    fn override_display(&self, reason: OverrideReason) -> &'static str;

    // --- Common detail parts -----------------------------------------------------------------
    fn heading_data(&self) -> &'static str;
    fn heading_missing(&self) -> &'static str;
    fn heading_attest(&self) -> &'static str;
    fn profile_line(&self, profile: Profile) -> String;
    /// `authored_on` is given only when it differs from the evaluation date `date`.
    fn order_line(
        &self,
        reference: &str,
        label: &str,
        date: &str,
        authored_on: Option<&str>,
    ) -> String;
    /// The order's Medication could not be read: recognised from the reference's display.
    fn order_identified_by_display(&self) -> &'static str;
    fn list_separator(&self) -> &'static str;
    fn unknown_date(&self) -> &'static str;
    fn delete_label(&self) -> &'static str;
    fn delete_description(&self, reference: &str) -> String;
    fn delete_not_offered(&self) -> &'static str;
    fn override_invitation(&self) -> &'static str;

    // --- R1 ----------------------------------------------------------------------------------
    fn initiation_summary_failed(&self, failed: &[Criterion]) -> String;
    fn initiation_summary_unconfirmed(&self, unconfirmed: &[Criterion]) -> String;
    /// Every criterion met (or none failed/unconfirmed) but warnings to check.
    fn initiation_summary_warnings(&self, kinds: &[InitiationWarningKind]) -> String;
    fn criteria_failed_line(&self, names: &str) -> String;
    fn criteria_unconfirmed_line(&self, names: &str) -> String;
    fn age_known(&self, years: u32, birth_date: &str, adult_failed: bool) -> String;
    fn age_unknown(&self) -> &'static str;
    fn ms_relapsing_remitting(&self, label: &str) -> String;
    /// `earlier_rrms`: the RRMS diagnoses a later progressive phenotype superseded.
    fn ms_only_progressive(&self, labels: &str, earlier_rrms: Option<&str>) -> String;
    fn ms_conflicting(&self, rrms: &str, progressive: &str) -> String;
    fn ms_unspecified(&self, labels: &str) -> String;
    /// `unrecognised`: conditions on record the terminology did not recognise.
    fn ms_no_diagnosis(&self, unrecognised: Option<&str>) -> String;
    fn ms_unknown(&self) -> &'static str;
    fn dmt_heading(&self) -> &'static str;
    /// `unrecognised`: medication records were present but not recognised.
    fn dmt_none(&self, unrecognised: bool) -> &'static str;
    fn unrecognised_medications_line(&self, labels: &str) -> String;
    fn heading_warnings(&self) -> &'static str;
    /// One alemtuzumab record that does not prove administration (R1 and R4).
    fn weak_exposure_record(&self, line: &WeakLine<'_>) -> String;
    fn warning_weak_exposure(&self, record: &str) -> String;
    fn warning_immune_reaction(
        &self,
        reaction: ImmuneReaction,
        label: &str,
        onset: Option<&str>,
        reference: &str,
    ) -> String;
    fn warning_concurrent_dmt(&self, label: &str, reference: &str) -> String;
    fn attest_warnings(&self) -> &'static str;
    fn dmt_line(&self, course: &DmtLine<'_>) -> String;
    fn dmt_count_line(&self, counted: usize, required: u32, ingredients: &str) -> String;
    fn attest_highly_active(&self) -> &'static str;
    fn attest_dmt_alternative(&self, profile: Profile) -> &'static str;
    fn attest_age(&self) -> &'static str;
    fn attest_ms_type(&self) -> &'static str;
    fn attest_undated(&self) -> &'static str;
    fn attest_outside_record(&self) -> &'static str;

    // --- R2 ----------------------------------------------------------------------------------
    fn infusion_summary(&self) -> &'static str;
    fn infusion_plan(&self, profile: Profile) -> Vec<&'static str>;
    /// Called the infusion baseline only when measured on the evaluation date.
    fn baseline_bp(
        &self,
        systolic: Option<&str>,
        diastolic: Option<&str>,
        date: Option<&str>,
        age: BpAge,
        reference: &str,
    ) -> String;
    fn baseline_bp_none(&self) -> &'static str;

    // --- R3 ----------------------------------------------------------------------------------
    fn liver_summary(&self, situation: &LiverSummary<'_>) -> String;
    fn liver_missing_line(&self, tests: &str, days: u32) -> String;
    fn liver_overdue_lines(
        &self,
        last_infusion: &str,
        monitor_until: &str,
        last_panel: Option<&str>,
        interval_days: u32,
    ) -> Vec<String>;
    /// Where the monthly monitoring to 48 months comes from (the SmPC, 2020), said under
    /// `ansm-2019` whose letter does not contain it.
    fn liver_monitoring_source(&self, profile: Profile) -> Option<&'static str>;
    fn liver_undated_lines(&self, last_panel: Option<&str>) -> Vec<String>;
    fn liver_abnormal_intro(&self) -> &'static str;
    fn liver_not_interpretable_intro(&self) -> &'static str;
    fn liver_latest_heading(&self) -> &'static str;
    fn liver_no_results(&self) -> &'static str;
    fn lab_line(&self, lab: &LabLine<'_>) -> String;
    fn liver_order_label(&self) -> &'static str;
    fn liver_order_description(&self) -> &'static str;
    /// `ServiceRequest.code.text`.
    fn liver_panel_text(&self) -> &'static str;
    fn liver_order_reason(&self) -> &'static str;
    fn liver_order_not_offered(&self) -> &'static str;
    fn liver_attest(&self) -> &'static str;

    // --- R4 ----------------------------------------------------------------------------------
    fn readmin_summary(&self, kinds: &[SignalKind], minimum_months: Option<u32>) -> String;
    /// The R4 measure when no liver or immune signal is present (schedule, concurrent draft).
    fn readmin_measure_schedule(&self) -> &'static str;
    fn readmin_weak_evidence_intro(&self) -> &'static str;
    fn readmin_exposure(&self, first: Option<&str>, last: Option<&str>, courses: u32) -> String;
    fn readmin_signals_heading(&self) -> &'static str;
    fn readmin_no_signal(&self) -> &'static str;
    fn signal_liver_lab(&self, lab: &str, factor: &str) -> String;
    fn signal_hys_law(&self, transaminase: &str, bilirubin: &str) -> String;
    fn signal_not_assessable(&self, lab: &str) -> String;
    fn signal_diagnosis(
        &self,
        reaction: ImmuneReaction,
        label: &str,
        onset: Option<&str>,
        reference: &str,
    ) -> String;
    fn signal_interval(&self, last_course_end: &str, months: u32, minimum_months: u32) -> String;
    fn signal_day_count(
        &self,
        course_start: &str,
        day: u32,
        allowed_days: u32,
        course_number: u32,
    ) -> String;
    fn signal_fifth_course(&self, course_number: u32) -> String;
    fn signal_concurrent_dmt(&self, label: &str, reference: &str) -> String;
    /// What to attest, by the kinds of signal present.
    fn readmin_attest(&self, rigorous: bool, schedule: bool, concurrent: bool) -> String;

    // --- R5 ----------------------------------------------------------------------------------
    fn counselling_summary(&self) -> &'static str;
    fn counselling_intro(&self) -> &'static str;
    fn counselling_days_after(&self) -> Vec<&'static str>;
    fn counselling_any_time(&self) -> Vec<&'static str>;
    fn counselling_hand_out(&self) -> &'static str;
    fn counselling_days_after_heading(&self) -> &'static str;
    fn counselling_any_time_heading(&self) -> &'static str;

    // --- Contraindications ---------------------------------------------------------------------
    fn contraindication_summary(&self, first: ContraindicationKind, others: usize) -> String;
    fn contraindication_summary_generic(&self) -> &'static str;
    fn contraindication_item(&self, kind: ContraindicationKind, evidence: &str) -> String;
    fn contraindication_none(&self) -> &'static str;
    fn evidence_condition(&self, label: &str, onset: Option<&str>, reference: &str) -> String;
    fn evidence_medication(&self, label: &str, start: Option<&str>, reference: &str) -> String;
    fn evidence_allergy(&self, label: &str, onset: Option<&str>, reference: &str) -> String;
    fn evidence_draft_order(&self, label: &str, reference: &str) -> String;
    fn evidence_blood_pressure(
        &self,
        systolic: Option<&str>,
        diastolic: Option<&str>,
        date: Option<&str>,
        systolic_threshold: Option<&str>,
        diastolic_threshold: Option<&str>,
        reference: &str,
    ) -> String;
    /// `resolvable`: some item can resolve (a history of stroke, angina, infarction or
    /// dissection does not).
    fn contraindication_attest(&self, resolvable: bool) -> &'static str;

    // --- Data unavailable ----------------------------------------------------------------------
    fn data_unavailable_summary(&self, data: &DataSet, rules: &[RuleCode]) -> String;
    fn data_missing_line(&self, data: &str) -> String;
    fn data_reason_line(&self, reason: &str) -> String;
    fn data_rules_heading(&self) -> &'static str;
    fn data_no_rule(&self) -> &'static str;
    fn data_attest(&self) -> &'static str;
}
