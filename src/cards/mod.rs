//! Turns rule [`Finding`]s into CDS Hooks cards (docs/wire-contract.md §Cards).
//!
//! [`render`] gives one card per finding, in order. This file holds what every card shares: the
//! card skeleton (rule title and measure, profile line, the order), the indicator, `source` with
//! its topic and link, the delete suggestion, the override reason codings and the lines that
//! several rules show (lab results, weak exposure records). What a finding adds to its card lives
//! next to the rule, one file per rule as in `src/rules/`:
//!
//! | Card (`source.topic.code`) | Rule | File |
//! |---|---|---|
//! | `initiation-eligibility` | R1 | `r1_initiation.rs` |
//! | `infusion-monitoring` | R2 | `r2_infusion_monitoring.rs` |
//! | `liver-function` | R3 | `r3_liver_function.rs` |
//! | `re-administration` | R4 | `r4_readministration.rs` |
//! | `patient-counselling` | R5 | `r5_patient_counselling.rs` |
//! | `contraindication` | contraindications | `contraindications.rs` |
//! | `data-unavailable` | data gaps | `data_unavailable.rs` |
//!
//! Each of these files also declares the words only its card says (its own subtrait of
//! [`text::Texts`], e.g. `InitiationTexts`, with the types only it uses) and, for the tests, its
//! sample findings (`samples()`, listed once in `SAMPLES`). The words themselves live in
//! `text/fr.rs` and `text/en.rs` (one file per language for the pharmacist's review, one `impl`
//! block per card); `text/mod.rs` declares the shared ones. `format.rs` escapes record text;
//! [`check_card`] checks every contract invariant on one card.
//!
//! A new card: its file (renderer, words trait, `samples()`), its module, dispatch and
//! indicators here, its `SAMPLES` entry, and its words in `text/fr.rs` and `text/en.rs`
//! (docs/architecture.md §"Adding a rule").
//!
//! Decisions:
//! - The card's rule (`source.topic.code`) comes from the [`Detail`] variant ([`Detail::rule`], in
//!   the rule registry `src/rules/mod.rs`), the structural truth about what the card says; a
//!   mismatching `Finding::rule` is logged.
//! - The indicator follows the finding's severity where the contract allows a choice
//!   (initiation, re-administration, contraindication), never below `critical` when an R1
//!   criterion failed, and is the contract's fixed value for the other rules.
//! - A delete suggestion is offered only when the order reference is a valid
//!   `MedicationRequest/<id>`; otherwise the detail says to cancel by hand. Likewise the
//!   liver-panel `ServiceRequest` needs a valid FHIR patient id.
//! - EHR text is markdown-escaped and capped at 300 characters; summaries never carry EHR text.
//! - Dates are formatted by the language ([`text::Texts::fmt_date`]): French prose `25/11/2026`.
//! - Override reasons follow what the card is about: on the initiation card, the failing
//!   criterion (a minor is only offered "other (documented)"); on the contraindication card,
//!   "contraindication resolved" only when some item can resolve (a history cannot); on the
//!   re-administration card, "rigorous evaluation" only for liver and immune signals.

use chrono::NaiveDate;

use crate::rules::{
    Code, Detail, Finding, LabValue, OrderRef, Profile, RuleCode, Severity, WeakExposure,
};
use crate::wire::{
    Action, ActionType, Card, Coding, Indicator, SelectionBehavior, Source, Suggestion,
};

mod check;
mod contraindications;
mod data_unavailable;
mod format;
mod r1_initiation;
mod r2_infusion_monitoring;
mod r3_liver_function;
mod r4_readministration;
mod r5_patient_counselling;
pub mod text;

/// Each card module's sample findings, which the checks of `tests.rs` render in both languages
/// (`testkit::all_findings`); `tests::every_rule_has_sample_findings` fails when a rule has none.
#[cfg(test)]
const SAMPLES: &[fn() -> Vec<Finding>] = &[
    r1_initiation::samples,
    r2_infusion_monitoring::samples,
    r3_liver_function::samples,
    r4_readministration::samples,
    r5_patient_counselling::samples,
    contraindications::samples,
    data_unavailable::samples,
];

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

pub use check::check_card;
pub use format::SUMMARY_MAX_CHARS;

use format::{clamp_summary, escape_md, fmt_number, is_relative_reference};
use text::{LabLine, Texts, WeakLine};

/// Default `source.topic.system` (configuration can change it).
pub const DEFAULT_TOPIC_SYSTEM: &str = "urn:alemtuzumab-cds:rule";
/// Default system of the override reason codes.
pub const DEFAULT_OVERRIDE_REASON_SYSTEM: &str = "urn:alemtuzumab-cds:override-reason";
const LOINC: &str = "http://loinc.org";
/// Default `source.url` of `ansm-2019` cards: the ANSM safety information page carrying the
/// letter to health professionals (DHPC) that restricted Lemtrada's use (the `ansm-2019`
/// profile's source, src/rules/facts.rs `Profile::Ansm2019`).
pub const DEFAULT_SOURCE_URL_ANSM_2019: &str = "https://ansm.sante.fr/informations-de-securite/lemtrada-alemtuzumab-restrictions-dutilisation-en-raison-deffets-indesirables-graves";
/// Default `source.url` of `ema-2020` cards: EMA's European public assessment report page for
/// Lemtrada, which holds the current SmPC and the 2020 referral outcome (the `ema-2020`
/// profile's source, src/rules/facts.rs `Profile::Ema2020`).
pub const DEFAULT_SOURCE_URL_EMA_2020: &str =
    "https://www.ema.europa.eu/en/medicines/human/EPAR/lemtrada";

/// The language of the cards (configuration `rules.language`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Language {
    #[default]
    Fr,
    En,
}

impl Language {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fr" => Some(Language::Fr),
            "en" => Some(Language::En),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }
}

/// What the renderer needs from configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct CardSettings {
    pub language: Language,
    /// `source.topic.system` (default [`DEFAULT_TOPIC_SYSTEM`]).
    pub topic_system: String,
    /// System of the override reason codings (default [`DEFAULT_OVERRIDE_REASON_SYSTEM`]).
    pub override_reason_system: String,
    /// The code of the liver panel the `create` suggestion orders (LOINC 24325-3 by default; the
    /// caller passes the terminology module's value).
    pub liver_panel_code: Code,
    /// The configured rule profile, named on cards whose finding has none of its own
    /// (`data-unavailable`).
    pub profile: Profile,
    /// `source.url` of cards under `ansm-2019` (default [`DEFAULT_SOURCE_URL_ANSM_2019`]).
    pub source_url_ansm_2019: String,
    /// `source.url` of cards under `ema-2020` (default [`DEFAULT_SOURCE_URL_EMA_2020`]).
    pub source_url_ema_2020: String,
}

impl CardSettings {
    /// The `source.url` of a card under `profile`: the configured URL, or the default when it is
    /// blank (CDS Hooks 2.0.1 forbids empty strings).
    pub fn source_url(&self, profile: Profile) -> &str {
        match profile {
            Profile::Ansm2019 => {
                non_blank(&self.source_url_ansm_2019, DEFAULT_SOURCE_URL_ANSM_2019)
            }
            Profile::Ema2020 => non_blank(&self.source_url_ema_2020, DEFAULT_SOURCE_URL_EMA_2020),
        }
    }
}

impl Default for CardSettings {
    fn default() -> Self {
        Self {
            language: Language::Fr,
            topic_system: DEFAULT_TOPIC_SYSTEM.to_string(),
            override_reason_system: DEFAULT_OVERRIDE_REASON_SYSTEM.to_string(),
            liver_panel_code: Code::new(LOINC, "24325-3"),
            profile: Profile::default(),
            source_url_ansm_2019: DEFAULT_SOURCE_URL_ANSM_2019.to_string(),
            source_url_ema_2020: DEFAULT_SOURCE_URL_EMA_2020.to_string(),
        }
    }
}

/// The override reasons the cards offer. Codes are stable across languages (the feedback
/// endpoint records them); the display is localised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverrideReason {
    /// R1, ansm-2019.
    AllOtherDmtsContraindicated,
    /// R1, ema-2020.
    RapidlyEvolvingSevereRrms,
    /// R1, both profiles.
    DmtHistoryOutsideRecord,
    /// R1, the MS type criterion (failed or not confirmed).
    RrmsConfirmedByNeurologist,
    /// R1 warning (could not confirm): the prescriber checked the criteria.
    CriteriaConfirmedDocumented,
    /// R4, liver and immune signals.
    RigorousEvaluationDocumented,
    /// R4, course schedule signals (interval, day count, fifth course).
    ScheduleDeviationDocumented,
    /// Contraindications.
    BenefitRiskDocumented,
    ContraindicationResolved,
    /// Every card that offers reasons.
    OtherDocumented,
}

impl OverrideReason {
    pub const ALL: [OverrideReason; 10] = [
        OverrideReason::AllOtherDmtsContraindicated,
        OverrideReason::RapidlyEvolvingSevereRrms,
        OverrideReason::DmtHistoryOutsideRecord,
        OverrideReason::RrmsConfirmedByNeurologist,
        OverrideReason::CriteriaConfirmedDocumented,
        OverrideReason::RigorousEvaluationDocumented,
        OverrideReason::ScheduleDeviationDocumented,
        OverrideReason::BenefitRiskDocumented,
        OverrideReason::ContraindicationResolved,
        OverrideReason::OtherDocumented,
    ];

    /// The reason with this code, if the cards offer it.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The display offered on the cards in `language`.
    pub fn display(self, language: Language) -> &'static str {
        text::for_language(language).override_display(self)
    }

    pub fn code(self) -> &'static str {
        match self {
            OverrideReason::AllOtherDmtsContraindicated => "all-other-dmts-contraindicated",
            OverrideReason::RapidlyEvolvingSevereRrms => "rapidly-evolving-severe-rrms",
            OverrideReason::DmtHistoryOutsideRecord => "dmt-history-outside-record",
            OverrideReason::RrmsConfirmedByNeurologist => "rrms-confirmed-by-neurologist",
            OverrideReason::CriteriaConfirmedDocumented => "criteria-confirmed-documented",
            OverrideReason::RigorousEvaluationDocumented => "rigorous-evaluation-documented",
            OverrideReason::ScheduleDeviationDocumented => "schedule-deviation-documented",
            OverrideReason::BenefitRiskDocumented => "benefit-risk-documented",
            OverrideReason::ContraindicationResolved => "contraindication-resolved",
            OverrideReason::OtherDocumented => "other-documented",
        }
    }
}

/// One card per finding, in the order given. `patient_id` is the hook's `context.patientId`
/// (the subject of a suggested `ServiceRequest`).
pub fn render(findings: &[Finding], patient_id: &str, settings: &CardSettings) -> Vec<Card> {
    let fallback = findings
        .iter()
        .find_map(|f| f.detail.profile())
        .unwrap_or(settings.profile);
    findings
        .iter()
        .map(|f| render_one(f, patient_id, settings, fallback).1)
        .collect()
}

/// The indicators the contract allows for a rule, most severe first.
pub(crate) fn allowed_indicators(rule: RuleCode) -> &'static [Indicator] {
    match rule {
        RuleCode::InitiationEligibility
        | RuleCode::ReAdministration
        | RuleCode::Contraindication => &[Indicator::Critical, Indicator::Warning],
        RuleCode::LiverFunction | RuleCode::DataUnavailable => &[Indicator::Warning],
        RuleCode::InfusionMonitoring | RuleCode::PatientCounselling => &[Indicator::Info],
    }
}

fn indicator_for(rule: RuleCode, severity: Severity) -> Indicator {
    let wanted = match severity {
        Severity::Info => Indicator::Info,
        Severity::Warning => Indicator::Warning,
        Severity::Critical => Indicator::Critical,
    };
    let allowed = allowed_indicators(rule);
    if allowed.contains(&wanted) {
        wanted
    } else {
        // Not allowed by the contract: the closest allowed value, erring on the severe side.
        match (wanted, allowed) {
            (Indicator::Info, [.., last]) => *last,
            (_, [first, ..]) => *first,
            (_, []) => wanted,
        }
    }
}

fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// What a detail adds to the card.
struct Parts {
    summary: String,
    blocks: Vec<String>,
    suggestions: Vec<Suggestion>,
    reasons: Vec<OverrideReason>,
}

impl Parts {
    fn heading(&mut self, title: &str) {
        self.blocks.push(format!("**{title}**"));
    }

    fn para(&mut self, text: impl Into<String>) {
        self.blocks.push(text.into());
    }

    fn bullets<I, S>(&mut self, items: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let list: Vec<String> = items
            .into_iter()
            .map(|s| format!("- {}", s.as_ref()))
            .collect();
        if !list.is_empty() {
            self.blocks.push(list.join("\n"));
        }
    }
}

struct Ctx<'a> {
    t: &'static dyn Texts,
    settings: &'a CardSettings,
    patient_id: &'a str,
    profile: Profile,
    indicator: Indicator,
    order: Option<&'a OrderRef>,
}

impl Ctx<'_> {
    fn num(&self, v: f64) -> Option<String> {
        fmt_number(v, self.t.decimal_separator())
    }

    fn date(&self, d: NaiveDate) -> String {
        self.t.fmt_date(d)
    }

    fn opt_date(&self, d: Option<NaiveDate>) -> Option<String> {
        d.map(|d| self.t.fmt_date(d))
    }

    /// The evaluation date (the hook call's date), known when the finding is about an order.
    fn evaluation_date(&self) -> Option<NaiveDate> {
        self.order.map(|o| o.date)
    }

    /// One alemtuzumab record that does not prove administration.
    fn weak_record(&self, w: &WeakExposure) -> String {
        let label = escape_md(&w.label);
        let reference = escape_md(&w.reference);
        self.t.weak_exposure_record(&WeakLine {
            label: &label,
            reference: &reference,
            source: w.source,
            date: self.opt_date(w.date),
            why: w.why,
        })
    }

    /// A DMT ingredient key in the card's language, escaped.
    fn ingredient(&self, key: &str) -> String {
        escape_md(&self.t.ingredient_name(key))
    }

    /// The delete suggestion for the draft order, when the reference is usable.
    fn delete_suggestion(&self, parts: &mut Parts) {
        let Some(order) = self.order else { return };
        let reference = order.reference.trim();
        if is_relative_reference(reference, Some("MedicationRequest")) {
            parts.suggestions.push(Suggestion {
                label: self.t.delete_label().to_string(),
                uuid: Some(new_uuid()),
                is_recommended: Some(true),
                actions: vec![Action {
                    kind: ActionType::Delete,
                    description: self.t.delete_description(reference),
                    resource: None,
                    resource_id: Some(reference.to_string()),
                }],
            });
        } else {
            parts.para(self.t.delete_not_offered());
        }
    }

    fn lab_line(&self, lab: &LabValue) -> String {
        let value = lab.value.and_then(|v| self.num(v));
        let unit = lab.unit.as_deref().map(escape_md).filter(|u| !u.is_empty());
        // The ULN is in the result's unit (the lab's range, or the default for that unit).
        let uln = lab.uln.and_then(|u| {
            self.num(u.value).map(|v| match &unit {
                Some(unit) => (format!("{v} {unit}"), u.source),
                None => (v, u.source),
            })
        });
        let ratio = match (lab.value, lab.uln) {
            (Some(v), Some(u)) if v.is_finite() && u.value.is_finite() && u.value > 0.0 => {
                self.num(((v / u.value) * 10.0).round() / 10.0)
            }
            _ => None,
        };
        let reference = escape_md(&lab.reference);
        // µkat/L converted to U/L: what the lab sent is shown too.
        let original = lab.converted_from.as_ref().map(|o| {
            let v = o
                .value
                .and_then(|v| self.num(v))
                .unwrap_or_else(|| "?".to_string());
            let u = escape_md(&o.unit);
            if u.is_empty() {
                v
            } else {
                format!("{v} {u}")
            }
        });
        self.t.lab_line(&LabLine {
            test: lab.test,
            value,
            unit: unit.as_deref(),
            date: self.opt_date(lab.date),
            uln,
            ratio,
            reference: &reference,
            original,
        })
    }
}

fn dedup<T: PartialEq + Copy>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Renders one finding; also returns the summary before clamping (tests check it fits).
pub(crate) fn render_one(
    finding: &Finding,
    patient_id: &str,
    settings: &CardSettings,
    fallback_profile: Profile,
) -> (String, Card) {
    let t = text::for_language(settings.language);
    let rule = finding.detail.rule();
    if rule != finding.rule {
        tracing::warn!(
            finding_rule = finding.rule.as_str(),
            detail_rule = rule.as_str(),
            "finding rule does not match its detail; the card follows the detail"
        );
    }
    let profile = finding.detail.profile().unwrap_or(fallback_profile);
    let indicator = card_indicator(finding, rule);
    let ctx = Ctx {
        t,
        settings,
        patient_id,
        profile,
        indicator,
        order: finding.order.as_ref(),
    };
    let mut parts = opening(t, settings.language, finding, rule, profile);
    render_detail(&ctx, &finding.detail, &mut parts);
    let selection_behavior = if parts.suggestions.is_empty() {
        None
    } else {
        Some(SelectionBehavior::AtMostOne)
    };
    let card = Card {
        uuid: Some(new_uuid()),
        summary: clamp_summary(&parts.summary),
        detail: Some(parts.blocks.join("\n\n")),
        indicator,
        source: card_source(t, settings, rule, profile),
        suggestions: parts.suggestions,
        selection_behavior,
        override_reasons: override_codings(t, settings, &parts.reasons),
        links: Vec::new(),
    };
    (parts.summary, card)
}

/// The indicator the contract allows for the finding's severity, and never below `critical`
/// when an R1 criterion failed.
fn card_indicator(finding: &Finding, rule: RuleCode) -> Indicator {
    if let Detail::Initiation(d) = &finding.detail {
        if !d.failed.is_empty() {
            return Indicator::Critical;
        }
    }
    indicator_for(rule, finding.severity)
}

/// The opening of every card: the rule's title and measure, the profile, and the order it is
/// about.
fn opening(
    t: &dyn Texts,
    language: Language,
    finding: &Finding,
    rule: RuleCode,
    profile: Profile,
) -> Parts {
    // R4 quotes the letter's "rigorous evaluation" only for liver and immune signals; a card
    // about the course schedule alone states the schedule instead (clinical rules §5).
    let measure = match &finding.detail {
        Detail::ReAdministration(d) if r4_readministration::schedule_only(d) => {
            r4_readministration::schedule_measure(language)
        }
        _ => t.rule_measure(rule, profile),
    };
    let mut parts = Parts {
        summary: String::new(),
        blocks: vec![
            format!("**{}** — {}", t.rule_title(rule), measure),
            t.profile_line(profile),
        ],
        suggestions: Vec::new(),
        reasons: Vec::new(),
    };
    if let Some(order) = &finding.order {
        // authoredOn is only shown, and only when it is not the evaluation date.
        let authored = order
            .authored_on
            .filter(|a| *a != order.date)
            .map(|a| t.fmt_date(a));
        parts.para(t.order_line(
            &escape_md(&order.reference),
            &escape_md(&order.label),
            &t.fmt_date(order.date),
            authored.as_deref(),
        ));
        if order.identified_by_display {
            parts.para(t.order_identified_by_display());
        }
    }
    parts
}

/// What the finding adds to its card: each rule's renderer, in the file named after the rule.
fn render_detail(ctx: &Ctx<'_>, detail: &Detail, parts: &mut Parts) {
    match detail {
        Detail::Initiation(d) => r1_initiation::render_detail(ctx, d, parts),
        Detail::InfusionMonitoring(d) => r2_infusion_monitoring::render_detail(ctx, d, parts),
        Detail::Liver(d) => r3_liver_function::render_detail(ctx, d, parts),
        Detail::ReAdministration(d) => r4_readministration::render_detail(ctx, d, parts),
        Detail::Counselling(_) => r5_patient_counselling::render_detail(ctx, parts),
        Detail::Contraindication(d) => contraindications::render_detail(ctx, d, parts),
        Detail::DataUnavailable(d) => data_unavailable::render_detail(ctx, d, parts),
    }
}

/// The card's `source`: service and profile, the profile's document, and the rule as topic.
fn card_source(t: &dyn Texts, settings: &CardSettings, rule: RuleCode, profile: Profile) -> Source {
    Source {
        label: format!("{} ({})", t.service_name(), t.profile_short(profile)),
        url: Some(settings.source_url(profile).to_string()),
        icon: None,
        topic: Some(Coding {
            system: Some(non_blank(&settings.topic_system, DEFAULT_TOPIC_SYSTEM).to_string()),
            code: rule.as_str().to_string(),
            display: Some(t.rule_title(rule).to_string()),
        }),
    }
}

/// The override reasons as codings of the configured system, displayed in the card's language.
fn override_codings(
    t: &dyn Texts,
    settings: &CardSettings,
    reasons: &[OverrideReason],
) -> Vec<Coding> {
    let reason_system = non_blank(
        &settings.override_reason_system,
        DEFAULT_OVERRIDE_REASON_SYSTEM,
    );
    reasons
        .iter()
        .map(|r| Coding {
            system: Some(reason_system.to_string()),
            code: r.code().to_string(),
            display: Some(t.override_display(*r).to_string()),
        })
        .collect()
}

fn non_blank<'a>(value: &'a str, default: &'a str) -> &'a str {
    let v = value.trim();
    if v.is_empty() {
        default
    } else {
        v
    }
}
