//! Every word a card shows, one file per language: `fr.rs` (`Fr`) and `en.rs` (`En`).
//!
//! The renderers (`cards/mod.rs` and one file per rule, `cards/r1_initiation.rs` …) decide *what*
//! to say and the markdown layout; these files decide *how* it is said. Arguments that come from
//! the EHR (labels, references) arrive already escaped for markdown; dates arrive already formatted
//! by the language's own [`Texts::fmt_date`] (French prose `25/11/2026`, English ISO `2026-11-25`)
//! and numbers with the language's decimal separator, so a reviewer only has to read sentences.
//!
//! Where the words are declared: [`Texts`], here, holds what several cards share (names, the
//! parts every card opens with, the lab and weak-exposure lines); each card module declares the
//! words only its card says in its own trait, a subtrait of [`Texts`] (`InitiationTexts` in
//! `cards/r1_initiation.rs`, `InfusionTexts`, `LiverTexts`, `ReadminTexts`, `CounsellingTexts`,
//! `ContraindicationTexts` in `cards/contraindications.rs`, `DataUnavailableTexts`), with the
//! types only that card uses. `fr.rs` and `en.rs` implement every one of these traits, one
//! `impl` block a card in the order of the cards, so a language cannot miss a word (it would not
//! compile) and adding a rule does not touch this file.

use chrono::NaiveDate;

use crate::rules::{
    ContraindicationKind, Criterion, DataSet, GapReason, ImmuneReaction, LabTest, MedicationSource,
    Profile, RuleCode, UlnSource, WeakExposureReason,
};

use super::format::SUMMARY_MAX_CHARS;
use super::{Language, OverrideReason};

mod en;
mod fr;

pub(crate) use en::En;
pub(crate) use fr::Fr;

/// The wording of one language.
pub fn for_language(language: Language) -> &'static dyn Texts {
    match language {
        Language::Fr => &Fr,
        Language::En => &En,
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

/// An alemtuzumab record that does not prove administration, ready to be put into words.
pub struct WeakLine<'a> {
    pub label: &'a str,
    pub reference: &'a str,
    pub source: MedicationSource,
    pub date: Option<String>,
    pub why: WeakExposureReason,
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

/// The words several cards share. One implementation per language; a method per sentence or
/// name. The words of one card only are in that card's own subtrait (module docs).
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

    // --- Lines several rules show -------------------------------------------------------------
    /// One alemtuzumab record that does not prove administration (R1 and R4).
    fn weak_exposure_record(&self, line: &WeakLine<'_>) -> String;
    /// One lab result (R3 and R4).
    fn lab_line(&self, lab: &LabLine<'_>) -> String;
}
