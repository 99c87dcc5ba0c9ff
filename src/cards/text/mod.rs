//! Every word a card shows, one file per language: `fr.rs` and `en.rs` implement [`Texts`].
//!
//! The renderer (`cards/mod.rs`) decides *what* to say and the markdown layout; these files decide
//! *how* it is said. Arguments that come from the EHR (labels, references) arrive already escaped
//! for markdown; dates arrive as `YYYY-MM-DD` and numbers already formatted with the language's
//! decimal separator, so a reviewer only has to read sentences.

use crate::rules::{
    ContraindicationKind, Criterion, DataSet, DmtCourseStatus, GapReason, ImmuneReaction, LabTest,
    MedicationSource, Profile, RuleCode, StopReason, UlnSource,
};

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
    Abnormal {
        tests: &'a [&'static str],
    },
}

/// Every text of the cards. One implementation per language; a method per sentence or name.
pub trait Texts: Sync {
    // --- Names -----------------------------------------------------------------------------
    /// The decimal separator of the language.
    fn decimal_separator(&self) -> char;
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
    fn order_line(&self, reference: &str, label: &str, date: &str) -> String;
    fn list_separator(&self) -> &'static str;
    fn unknown_date(&self) -> &'static str;
    fn delete_label(&self) -> &'static str;
    fn delete_description(&self, reference: &str) -> String;
    fn delete_not_offered(&self) -> &'static str;
    fn override_invitation(&self) -> &'static str;

    // --- R1 ----------------------------------------------------------------------------------
    fn initiation_summary_failed(&self, failed: &[Criterion]) -> String;
    fn initiation_summary_unconfirmed(&self, unconfirmed: &[Criterion]) -> String;
    fn criteria_failed_line(&self, names: &str) -> String;
    fn criteria_unconfirmed_line(&self, names: &str) -> String;
    fn age_known(&self, years: u32, birth_date: &str, adult_failed: bool) -> String;
    fn age_unknown(&self) -> &'static str;
    fn ms_relapsing_remitting(&self, label: &str) -> String;
    fn ms_only_progressive(&self, labels: &str) -> String;
    fn ms_unspecified(&self, labels: &str) -> String;
    fn ms_no_diagnosis(&self) -> &'static str;
    fn ms_unknown(&self) -> &'static str;
    fn dmt_heading(&self) -> &'static str;
    fn dmt_none(&self) -> &'static str;
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
    fn baseline_bp(
        &self,
        systolic: Option<&str>,
        diastolic: Option<&str>,
        date: Option<&str>,
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
    fn liver_abnormal_intro(&self) -> &'static str;
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
    fn readmin_attest(&self) -> &'static str;

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
    fn evidence_blood_pressure(
        &self,
        systolic: Option<&str>,
        diastolic: Option<&str>,
        date: Option<&str>,
        systolic_threshold: Option<&str>,
        diastolic_threshold: Option<&str>,
        reference: &str,
    ) -> String;
    fn contraindication_attest(&self) -> &'static str;

    // --- Data unavailable ----------------------------------------------------------------------
    fn data_unavailable_summary(&self, data: &DataSet, rules: &[RuleCode]) -> String;
    fn data_missing_line(&self, data: &str) -> String;
    fn data_reason_line(&self, reason: &str) -> String;
    fn data_rules_heading(&self) -> &'static str;
    fn data_no_rule(&self) -> &'static str;
    fn data_attest(&self) -> &'static str;
}
