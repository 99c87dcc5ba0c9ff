//! Turns rule [`Finding`]s into CDS Hooks cards (docs/wire-contract.md §Cards).
//!
//! [`render`] gives one card per finding, in order. The words live in `text/fr.rs` and
//! `text/en.rs`; this file decides what each card says, its layout, suggestions and override
//! reasons. [`check_card`] checks every contract invariant on one card.
//!
//! Decisions:
//! - The card's rule (`source.topic.code`) comes from the [`Detail`] variant, the structural truth
//!   about what the card says; a mismatching `Finding::rule` is logged.
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
use serde_json::{json, Value};

use crate::rules::{
    AgeCheck, Code, ContraindicationEvidence, ContraindicationKind, Criterion, Detail,
    DmtCourseStatus, Finding, InitiationWarning, LabTest, LabValue, LiverSituation, MsCheck,
    OrderRef, Profile, ReAdministrationSignal, RuleCode, Severity, WeakExposure,
};
use crate::wire::{
    Action, ActionType, Card, Coding, Indicator, SelectionBehavior, Source, Suggestion,
};

mod check;
mod format;
pub mod text;

#[cfg(test)]
mod tests;

pub use check::check_card;
pub use format::SUMMARY_MAX_CHARS;

use format::{clamp_summary, escape_md, fmt_number, is_fhir_id, is_relative_reference};
use text::{
    BpAge, DmtLine, InitiationWarningKind, LabLine, LiverSummary, SignalKind, Texts, WeakLine,
};

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
        .find_map(|f| profile_of(&f.detail))
        .unwrap_or(settings.profile);
    findings
        .iter()
        .map(|f| render_one(f, patient_id, settings, fallback).1)
        .collect()
}

/// The rule a detail is about.
pub fn rule_of(detail: &Detail) -> RuleCode {
    match detail {
        Detail::Initiation(_) => RuleCode::InitiationEligibility,
        Detail::InfusionMonitoring(_) => RuleCode::InfusionMonitoring,
        Detail::Liver(_) => RuleCode::LiverFunction,
        Detail::ReAdministration(_) => RuleCode::ReAdministration,
        Detail::Counselling(_) => RuleCode::PatientCounselling,
        Detail::Contraindication(_) => RuleCode::Contraindication,
        Detail::DataUnavailable(_) => RuleCode::DataUnavailable,
    }
}

fn profile_of(detail: &Detail) -> Option<Profile> {
    match detail {
        Detail::Initiation(d) => Some(d.profile),
        Detail::InfusionMonitoring(d) => Some(d.profile),
        Detail::Liver(d) => Some(d.profile),
        Detail::ReAdministration(d) => Some(d.profile),
        Detail::Counselling(d) => Some(d.profile),
        Detail::Contraindication(d) => Some(d.profile),
        // A data gap has no profile of its own: the other findings' (or the default) is used.
        Detail::DataUnavailable(_) => None,
    }
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

    /// The `create` suggestion for a liver panel, when the patient id is usable.
    fn liver_order(&self, parts: &mut Parts) {
        let Some(resource) = liver_service_request(self.patient_id, self.settings, self.t) else {
            parts.para(self.t.liver_order_not_offered());
            return;
        };
        parts.suggestions.push(Suggestion {
            label: self.t.liver_order_label().to_string(),
            uuid: Some(new_uuid()),
            is_recommended: Some(true),
            actions: vec![Action {
                kind: ActionType::Create,
                description: self.t.liver_order_description().to_string(),
                resource: Some(resource),
                resource_id: None,
            }],
        });
    }
}

/// A FHIR R4 `ServiceRequest` (draft order) for the liver panel. The panel code is the coding;
/// the three tests are named in `code.text` and a note (they are not equivalent codes of the
/// panel, so they are not added as codings).
fn liver_service_request(
    patient_id: &str,
    settings: &CardSettings,
    t: &dyn Texts,
) -> Option<Value> {
    let patient_id = patient_id.trim();
    if !is_fhir_id(patient_id) {
        return None;
    }
    let panel = &settings.liver_panel_code;
    let mut code = json!({ "text": t.liver_panel_text() });
    if !panel.system.trim().is_empty() && !panel.code.trim().is_empty() {
        let mut coding = json!({ "system": panel.system.trim(), "code": panel.code.trim() });
        if panel.system.trim() == LOINC && panel.code.trim() == "24325-3" {
            coding["display"] = json!("Hepatic function 2000 panel - Serum or Plasma");
        }
        code["coding"] = json!([coding]);
    }
    Some(json!({
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": code,
        "subject": { "reference": format!("Patient/{patient_id}") },
        "reasonCode": [{ "text": t.liver_order_reason() }],
        "note": [{ "text": t.liver_panel_text() }],
    }))
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
    let rule = rule_of(&finding.detail);
    if rule != finding.rule {
        tracing::warn!(
            finding_rule = finding.rule.as_str(),
            detail_rule = rule.as_str(),
            "finding rule does not match its detail; the card follows the detail"
        );
    }
    let profile = profile_of(&finding.detail).unwrap_or(fallback_profile);
    let mut indicator = indicator_for(rule, finding.severity);
    if let Detail::Initiation(d) = &finding.detail {
        if !d.failed.is_empty() {
            indicator = Indicator::Critical;
        }
    }
    let ctx = Ctx {
        t,
        settings,
        patient_id,
        profile,
        indicator,
        order: finding.order.as_ref(),
    };

    // R4 quotes the letter's "rigorous evaluation" only for liver and immune signals; a card
    // about the course schedule alone states the schedule instead (clinical rules §5).
    let measure = match &finding.detail {
        Detail::ReAdministration(d)
            if !d
                .signals
                .iter()
                .any(|s| signal_kind(s).needs_rigorous_evaluation()) =>
        {
            t.readmin_measure_schedule()
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

    match &finding.detail {
        Detail::Initiation(d) => initiation(&ctx, d, &mut parts),
        Detail::InfusionMonitoring(d) => infusion(&ctx, d, &mut parts),
        Detail::Liver(d) => liver(&ctx, d, &mut parts),
        Detail::ReAdministration(d) => readministration(&ctx, d, &mut parts),
        Detail::Counselling(_) => counselling(&ctx, &mut parts),
        Detail::Contraindication(d) => contraindication(&ctx, d, &mut parts),
        Detail::DataUnavailable(d) => data_unavailable(&ctx, d, &mut parts),
    }

    let reason_system = non_blank(
        &settings.override_reason_system,
        DEFAULT_OVERRIDE_REASON_SYSTEM,
    );
    let override_reasons = parts
        .reasons
        .iter()
        .map(|r| Coding {
            system: Some(reason_system.to_string()),
            code: r.code().to_string(),
            display: Some(t.override_display(*r).to_string()),
        })
        .collect();
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
        source: Source {
            label: format!("{} ({})", t.service_name(), t.profile_short(profile)),
            url: Some(settings.source_url(profile).to_string()),
            icon: None,
            topic: Some(Coding {
                system: Some(non_blank(&settings.topic_system, DEFAULT_TOPIC_SYSTEM).to_string()),
                code: rule.as_str().to_string(),
                display: Some(t.rule_title(rule).to_string()),
            }),
        },
        suggestions: parts.suggestions,
        selection_behavior,
        override_reasons,
        links: Vec::new(),
    };
    (parts.summary, card)
}

fn non_blank<'a>(value: &'a str, default: &'a str) -> &'a str {
    let v = value.trim();
    if v.is_empty() {
        default
    } else {
        v
    }
}

// ---------------------------------------------------------------------------------------------
// One function per rule

/// The override reasons of the initiation card follow the criterion that blocks it (clinical
/// rules §2 R1): an age below 18 is lifted by nothing but "other (documented)"; an MS type by the
/// neurologist's confirmation; the DMT count by the profile's DMT routes.
fn initiation_reasons(
    profile: Profile,
    critical: bool,
    failed: &[Criterion],
    unconfirmed: &[Criterion],
) -> Vec<OverrideReason> {
    let dmt_routes = |out: &mut Vec<OverrideReason>| {
        out.push(match profile {
            Profile::Ansm2019 => OverrideReason::AllOtherDmtsContraindicated,
            Profile::Ema2020 => OverrideReason::RapidlyEvolvingSevereRrms,
        });
        out.push(OverrideReason::DmtHistoryOutsideRecord);
    };
    let mut out = Vec::new();
    if critical {
        if failed.contains(&Criterion::Adult) {
            // Nothing but a documented reason lifts an age below 18.
        } else if failed.is_empty() {
            // Critical without a named criterion: every route stays open.
            dmt_routes(&mut out);
            out.push(OverrideReason::RrmsConfirmedByNeurologist);
        } else {
            if failed.contains(&Criterion::RelapsingRemittingMs) {
                out.push(OverrideReason::RrmsConfirmedByNeurologist);
            }
            if failed.contains(&Criterion::PriorDmts) {
                dmt_routes(&mut out);
            }
        }
    } else {
        if unconfirmed.contains(&Criterion::RelapsingRemittingMs) {
            out.push(OverrideReason::RrmsConfirmedByNeurologist);
        }
        if unconfirmed.contains(&Criterion::PriorDmts) {
            dmt_routes(&mut out);
        }
        out.push(OverrideReason::CriteriaConfirmedDocumented);
    }
    out.push(OverrideReason::OtherDocumented);
    out
}

fn initiation(ctx: &Ctx<'_>, d: &crate::rules::InitiationDetail, parts: &mut Parts) {
    let t = ctx.t;
    let failed = dedup(d.failed.iter().copied());
    let unconfirmed: Vec<Criterion> = dedup(d.unconfirmed.iter().copied())
        .into_iter()
        .filter(|c| !failed.contains(c))
        .collect();
    let critical = ctx.indicator == Indicator::Critical;
    let warning_kinds = dedup(d.warnings.iter().map(|w| match w {
        InitiationWarning::WeakExposure(_) => InitiationWarningKind::WeakExposure,
        InitiationWarning::ImmuneReactionOnRecord { .. } => InitiationWarningKind::ImmuneReaction,
        InitiationWarning::ConcurrentDmtDraft { .. } => InitiationWarningKind::ConcurrentDmt,
    }));
    parts.summary = if critical {
        t.initiation_summary_failed(&failed)
    } else if unconfirmed.is_empty() && !warning_kinds.is_empty() {
        // Every criterion met (or none could be judged missing): the warnings are the message.
        t.initiation_summary_warnings(&warning_kinds)
    } else {
        t.initiation_summary_unconfirmed(&unconfirmed)
    };
    let names = |list: &[Criterion], failed: bool| {
        list.iter()
            .map(|c| t.criterion_short(*c, failed))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !failed.is_empty() {
        parts.para(t.criteria_failed_line(&names(&failed, true)));
    }
    if !unconfirmed.is_empty() {
        parts.para(t.criteria_unconfirmed_line(&names(&unconfirmed, false)));
    }

    // Warnings first: they may change how the rest reads (a weak exposure, a concurrent draft).
    if !d.warnings.is_empty() {
        parts.heading(t.heading_warnings());
        let lines: Vec<String> = d
            .warnings
            .iter()
            .map(|w| match w {
                InitiationWarning::WeakExposure(w) => t.warning_weak_exposure(&ctx.weak_record(w)),
                InitiationWarning::ImmuneReactionOnRecord {
                    reaction,
                    label,
                    onset,
                    reference,
                } => {
                    let onset = ctx.opt_date(*onset);
                    t.warning_immune_reaction(
                        *reaction,
                        &escape_md(label),
                        onset.as_deref(),
                        &escape_md(reference),
                    )
                }
                InitiationWarning::ConcurrentDmtDraft { reference, label } => {
                    t.warning_concurrent_dmt(&escape_md(label), &escape_md(reference))
                }
            })
            .collect();
        parts.bullets(lines);
    }

    // Data used.
    parts.heading(t.heading_data());
    let sep = t.list_separator();
    let join_labels = |labels: &[String]| {
        if labels.is_empty() {
            "—".to_string()
        } else {
            labels
                .iter()
                .map(|l| escape_md(l))
                .collect::<Vec<_>>()
                .join(sep)
        }
    };
    let non_empty = |labels: &[String]| (!labels.is_empty()).then(|| join_labels(labels));
    let age = match d.age {
        AgeCheck::Known { years, birth_date } => t.age_known(
            years,
            &ctx.date(birth_date),
            failed.contains(&Criterion::Adult),
        ),
        AgeCheck::Unknown => t.age_unknown().to_string(),
    };
    let ms = match &d.ms {
        MsCheck::RelapsingRemitting { label } => t.ms_relapsing_remitting(&escape_md(label)),
        MsCheck::OnlyProgressive {
            labels,
            earlier_rrms,
        } => t.ms_only_progressive(&join_labels(labels), non_empty(earlier_rrms).as_deref()),
        MsCheck::Unspecified { labels } => t.ms_unspecified(&join_labels(labels)),
        MsCheck::NoDiagnosis { unrecognised } => {
            t.ms_no_diagnosis(non_empty(unrecognised).as_deref())
        }
        MsCheck::Conflicting { rrms, progressive } => {
            t.ms_conflicting(&join_labels(rrms), &join_labels(progressive))
        }
        MsCheck::Unknown => t.ms_unknown().to_string(),
    };
    let counted: Vec<String> = {
        let mut seen: Vec<String> = Vec::new();
        for i in &d.counted_ingredients {
            let e = ctx.ingredient(i);
            if !seen.contains(&e) {
                seen.push(e);
            }
        }
        seen
    };
    parts.bullets([
        age,
        ms,
        t.dmt_count_line(counted.len(), d.required, &counted.join(", ")),
    ]);
    let unrecognised = !d.unrecognised_medications.is_empty();
    if d.dmts.is_empty() {
        parts.para(t.dmt_none(unrecognised));
    } else {
        parts.para(t.dmt_heading());
        let lines: Vec<String> = d
            .dmts
            .iter()
            .map(|c| {
                let label = escape_md(&c.label);
                let ingredient = ctx.ingredient(&c.ingredient);
                t.dmt_line(&DmtLine {
                    label: &label,
                    ingredient: &ingredient,
                    source: c.source,
                    start: ctx.opt_date(c.start),
                    end: ctx.opt_date(c.end),
                    ongoing: c.ongoing,
                    months: c.months,
                    stop_reason: c.stop_reason,
                    status: c.status,
                })
            })
            .collect();
        parts.bullets(lines);
    }
    if unrecognised {
        // Present but not recognised is never "no DMT on record".
        parts.para(t.unrecognised_medications_line(&join_labels(&d.unrecognised_medications)));
    }

    // What the clinician must attest.
    parts.heading(t.heading_attest());
    let dmts_in_question =
        failed.contains(&Criterion::PriorDmts) || unconfirmed.contains(&Criterion::PriorDmts);
    let mut attest = vec![t.attest_highly_active()];
    if dmts_in_question {
        attest.push(t.attest_dmt_alternative(ctx.profile));
    }
    if unconfirmed.contains(&Criterion::Adult) || matches!(d.age, AgeCheck::Unknown) {
        attest.push(t.attest_age());
    }
    if unconfirmed.contains(&Criterion::RelapsingRemittingMs)
        || failed.contains(&Criterion::RelapsingRemittingMs)
    {
        attest.push(t.attest_ms_type());
    }
    if d.dmts.iter().any(|c| c.status == DmtCourseStatus::Undated) {
        attest.push(t.attest_undated());
    }
    if dmts_in_question {
        attest.push(t.attest_outside_record());
    }
    if !d.warnings.is_empty() {
        attest.push(t.attest_warnings());
    }
    parts.bullets(attest);

    if critical {
        ctx.delete_suggestion(parts);
    }
    parts.reasons = initiation_reasons(ctx.profile, critical, &failed, &unconfirmed);
    parts.para(t.override_invitation());
}

fn infusion(ctx: &Ctx<'_>, d: &crate::rules::InfusionMonitoringDetail, parts: &mut Parts) {
    let t = ctx.t;
    parts.summary = t.infusion_summary().to_string();
    parts.bullets(t.infusion_plan(ctx.profile));
    parts.heading(t.heading_data());
    match &d.last_blood_pressure {
        Some(bp) => {
            let systolic = bp.systolic.and_then(|v| ctx.num(v));
            let diastolic = bp.diastolic.and_then(|v| ctx.num(v));
            let date = ctx.opt_date(bp.date);
            // The baseline is a reading of the evaluation day; an older one is shown with its age.
            let age = match (bp.date, ctx.evaluation_date()) {
                (None, _) => BpAge::Undated,
                (Some(taken), Some(today)) if taken == today => BpAge::EvaluationDay,
                (Some(taken), Some(today)) => BpAge::Older {
                    days: Some((today - taken).num_days()).filter(|d| *d > 0),
                },
                (Some(_), None) => BpAge::Older { days: None },
            };
            parts.para(t.baseline_bp(
                systolic.as_deref(),
                diastolic.as_deref(),
                date.as_deref(),
                age,
                &escape_md(&bp.reference),
            ));
        }
        None => parts.para(t.baseline_bp_none()),
    }
}

fn liver(ctx: &Ctx<'_>, d: &crate::rules::LiverDetail, parts: &mut Parts) {
    let t = ctx.t;
    let latest = |parts: &mut Parts| {
        parts.heading(t.heading_data());
        if d.latest.is_empty() {
            parts.para(t.liver_no_results());
        } else {
            parts.para(t.liver_latest_heading());
            parts.bullets(d.latest.iter().map(|l| ctx.lab_line(l)));
        }
    };
    let source = |parts: &mut Parts| {
        if let Some(line) = t.liver_monitoring_source(ctx.profile) {
            parts.para(line);
        }
    };
    let results_block = |parts: &mut Parts, results: &[LabValue], intro: &str| {
        parts.heading(t.heading_data());
        parts.para(intro.to_string());
        if results.is_empty() {
            parts.para(t.liver_no_results());
        } else {
            parts.bullets(results.iter().map(|l| ctx.lab_line(l)));
        }
        let others: Vec<&LabValue> = d.latest.iter().filter(|l| !results.contains(l)).collect();
        if !others.is_empty() {
            parts.para(t.liver_latest_heading());
            parts.bullets(others.iter().map(|l| ctx.lab_line(l)));
        }
    };
    let test_names = |results: &[LabValue]| -> Vec<&'static str> {
        dedup(results.iter().map(|r| r.test))
            .into_iter()
            .map(|m| t.lab_test_name(m))
            .collect()
    };
    match &d.situation {
        LiverSituation::PanelMissingBeforeOrder {
            missing,
            max_age_days,
        } => {
            let names: Vec<&'static str> = dedup(missing.iter().copied())
                .into_iter()
                .map(|m| t.lab_test_name(m))
                .collect();
            parts.summary = t.liver_summary(&LiverSummary::PanelMissing {
                missing: &names,
                days: *max_age_days,
            });
            parts.heading(t.heading_missing());
            let all: Vec<&'static str> = if names.is_empty() {
                LabTest::PANEL.iter().map(|m| t.lab_test_name(*m)).collect()
            } else {
                names
            };
            parts.para(t.liver_missing_line(&all.join(", "), *max_age_days));
            latest(parts);
            ctx.liver_order(parts);
        }
        LiverSituation::MonitoringOverdue {
            last_infusion,
            monitor_until,
            last_panel,
            interval_days,
        } => {
            let last = ctx.opt_date(*last_panel);
            parts.summary = t.liver_summary(&LiverSummary::MonitoringOverdue {
                last_panel: last.as_deref(),
            });
            parts.heading(t.heading_missing());
            parts.bullets(t.liver_overdue_lines(
                &ctx.date(*last_infusion),
                &ctx.date(*monitor_until),
                last.as_deref(),
                *interval_days,
            ));
            source(parts);
            latest(parts);
            ctx.liver_order(parts);
        }
        LiverSituation::MonitoringUndated { last_panel } => {
            let last = ctx.opt_date(*last_panel);
            parts.summary = t.liver_summary(&LiverSummary::MonitoringUndated);
            parts.heading(t.heading_missing());
            parts.bullets(t.liver_undated_lines(last.as_deref()));
            source(parts);
            latest(parts);
            ctx.liver_order(parts);
        }
        LiverSituation::Abnormal { results } => {
            let names = test_names(results);
            parts.summary = t.liver_summary(&LiverSummary::Abnormal {
                tests: &names,
                exposed: d.exposed,
            });
            results_block(parts, results, t.liver_abnormal_intro());
        }
        LiverSituation::NotInterpretable { results } => {
            let names = test_names(results);
            parts.summary = t.liver_summary(&LiverSummary::NotInterpretable { tests: &names });
            results_block(parts, results, t.liver_not_interpretable_intro());
            ctx.liver_order(parts);
        }
    }
    parts.heading(t.heading_attest());
    parts.para(t.liver_attest());
}

fn signal_kind(s: &ReAdministrationSignal) -> SignalKind {
    match s {
        ReAdministrationSignal::HysLaw { .. } => SignalKind::HysLaw,
        ReAdministrationSignal::LiverLab { .. } => SignalKind::LiverLab,
        ReAdministrationSignal::Diagnosis { .. } => SignalKind::Diagnosis,
        ReAdministrationSignal::CourseInterval { .. } => SignalKind::CourseInterval,
        ReAdministrationSignal::LabNotAssessable { .. } => SignalKind::LabNotAssessable,
        ReAdministrationSignal::CourseDayCount { .. } => SignalKind::CourseDayCount,
        ReAdministrationSignal::FifthCourse { .. } => SignalKind::FifthCourse,
        ReAdministrationSignal::ConcurrentDmtDraft { .. } => SignalKind::ConcurrentDmt,
    }
}

fn readministration(ctx: &Ctx<'_>, d: &crate::rules::ReAdministrationDetail, parts: &mut Parts) {
    let t = ctx.t;
    let present: Vec<SignalKind> = d.signals.iter().map(signal_kind).collect();
    let kinds: Vec<SignalKind> = SignalKind::ORDER
        .iter()
        .copied()
        .filter(|k| present.contains(k))
        .collect();
    let rigorous = kinds.iter().any(|k| k.needs_rigorous_evaluation());
    let schedule = kinds.iter().any(|k| k.is_schedule());
    let concurrent = kinds.contains(&SignalKind::ConcurrentDmt);
    let minimum = d.signals.iter().find_map(|s| match s {
        ReAdministrationSignal::CourseInterval { minimum_months, .. } => Some(*minimum_months),
        _ => None,
    });
    parts.summary = t.readmin_summary(&kinds, minimum);

    parts.heading(t.heading_data());
    let first = ctx.opt_date(d.first_exposure);
    let last = ctx.opt_date(d.last_exposure);
    parts.para(t.readmin_exposure(first.as_deref(), last.as_deref(), d.courses));
    if !d.weak_evidence.is_empty() {
        parts.para(t.readmin_weak_evidence_intro());
        parts.bullets(d.weak_evidence.iter().map(|w| ctx.weak_record(w)));
    }
    parts.para(t.readmin_signals_heading());
    if d.signals.is_empty() {
        parts.para(t.readmin_no_signal());
    } else {
        // Most serious first, in the order of the summary.
        let mut signals: Vec<&ReAdministrationSignal> = d.signals.iter().collect();
        signals.sort_by_key(|s| {
            let k = signal_kind(s);
            SignalKind::ORDER.iter().position(|o| *o == k)
        });
        let lines: Vec<String> = signals
            .into_iter()
            .map(|s| match s {
                ReAdministrationSignal::LiverLab { lab, factor } => t.signal_liver_lab(
                    &ctx.lab_line(lab),
                    &ctx.num(*factor).unwrap_or_else(|| "?".to_string()),
                ),
                ReAdministrationSignal::HysLaw {
                    transaminase,
                    bilirubin,
                } => t.signal_hys_law(&ctx.lab_line(transaminase), &ctx.lab_line(bilirubin)),
                ReAdministrationSignal::LabNotAssessable { lab } => {
                    t.signal_not_assessable(&ctx.lab_line(lab))
                }
                ReAdministrationSignal::Diagnosis {
                    reaction,
                    label,
                    onset,
                    reference,
                } => {
                    let onset = ctx.opt_date(*onset);
                    t.signal_diagnosis(
                        *reaction,
                        &escape_md(label),
                        onset.as_deref(),
                        &escape_md(reference),
                    )
                }
                ReAdministrationSignal::CourseInterval {
                    last_course_end,
                    months,
                    minimum_months,
                } => t.signal_interval(&ctx.date(*last_course_end), *months, *minimum_months),
                ReAdministrationSignal::CourseDayCount {
                    course_start,
                    day,
                    allowed_days,
                    course_number,
                } => t.signal_day_count(
                    &ctx.date(*course_start),
                    *day,
                    *allowed_days,
                    *course_number,
                ),
                ReAdministrationSignal::FifthCourse { course_number } => {
                    t.signal_fifth_course(*course_number)
                }
                ReAdministrationSignal::ConcurrentDmtDraft { reference, label } => {
                    t.signal_concurrent_dmt(&escape_md(label), &escape_md(reference))
                }
            })
            .collect();
        parts.bullets(lines);
    }
    parts.heading(t.heading_attest());
    parts.para(t.readmin_attest(rigorous, schedule, concurrent));
    // Deleting the order is offered on a critical card only; a warning-level card (a day count,
    // a fifth course, a concurrent draft) is checked, not cancelled.
    if ctx.indicator == Indicator::Critical {
        ctx.delete_suggestion(parts);
    }
    parts.reasons = Vec::new();
    if rigorous || kinds.is_empty() {
        parts
            .reasons
            .push(OverrideReason::RigorousEvaluationDocumented);
    }
    if schedule {
        parts
            .reasons
            .push(OverrideReason::ScheduleDeviationDocumented);
    }
    parts.reasons.push(OverrideReason::OtherDocumented);
    parts.para(t.override_invitation());
}

fn counselling(ctx: &Ctx<'_>, parts: &mut Parts) {
    let t = ctx.t;
    parts.summary = t.counselling_summary().to_string();
    parts.para(t.counselling_intro());
    parts.heading(t.counselling_days_after_heading());
    parts.bullets(t.counselling_days_after());
    parts.heading(t.counselling_any_time_heading());
    parts.bullets(t.counselling_any_time());
    parts.para(t.counselling_hand_out());
}

fn contraindication(ctx: &Ctx<'_>, d: &crate::rules::ContraindicationDetail, parts: &mut Parts) {
    let t = ctx.t;
    parts.summary = match d.items.first() {
        Some(first) => t.contraindication_summary(first.kind, d.items.len() - 1),
        None => t.contraindication_summary_generic().to_string(),
    };
    parts.heading(t.heading_data());
    if d.items.is_empty() {
        parts.para(t.contraindication_none());
    } else {
        let lines: Vec<String> = d
            .items
            .iter()
            .map(|item| {
                let evidence = match &item.evidence {
                    ContraindicationEvidence::Condition {
                        reference,
                        label,
                        onset,
                    } => {
                        let onset = ctx.opt_date(*onset);
                        t.evidence_condition(
                            &escape_md(label),
                            onset.as_deref(),
                            &escape_md(reference),
                        )
                    }
                    ContraindicationEvidence::Allergy {
                        reference,
                        label,
                        onset,
                    } => {
                        let onset = ctx.opt_date(*onset);
                        t.evidence_allergy(
                            &escape_md(label),
                            onset.as_deref(),
                            &escape_md(reference),
                        )
                    }
                    ContraindicationEvidence::DraftOrder { reference, label } => {
                        t.evidence_draft_order(&escape_md(label), &escape_md(reference))
                    }
                    ContraindicationEvidence::Medication {
                        reference,
                        label,
                        start,
                    } => {
                        let start = ctx.opt_date(*start);
                        t.evidence_medication(
                            &escape_md(label),
                            start.as_deref(),
                            &escape_md(reference),
                        )
                    }
                    ContraindicationEvidence::BloodPressure {
                        reading,
                        systolic_threshold,
                        diastolic_threshold,
                    } => {
                        let s = reading.systolic.and_then(|v| ctx.num(v));
                        let di = reading.diastolic.and_then(|v| ctx.num(v));
                        let date = ctx.opt_date(reading.date);
                        let st = ctx.num(*systolic_threshold);
                        let dt = ctx.num(*diastolic_threshold);
                        t.evidence_blood_pressure(
                            s.as_deref(),
                            di.as_deref(),
                            date.as_deref(),
                            st.as_deref(),
                            dt.as_deref(),
                            &escape_md(&reading.reference),
                        )
                    }
                };
                t.contraindication_item(item.kind, &evidence)
            })
            .collect();
        parts.bullets(lines);
    }
    // A history (stroke, angina, infarction, dissection) does not resolve, nor does HIV infection:
    // "contraindication resolved" is offered only when some item can.
    let resolvable = d.items.iter().any(|i| !never_resolves(i.kind));
    parts.heading(t.heading_attest());
    parts.para(t.contraindication_attest(resolvable || d.items.is_empty()));
    if ctx.indicator == Indicator::Critical {
        ctx.delete_suggestion(parts);
    }
    parts.reasons = vec![OverrideReason::BenefitRiskDocumented];
    if resolvable {
        parts.reasons.push(OverrideReason::ContraindicationResolved);
    }
    parts.reasons.push(OverrideReason::OtherDocumented);
    parts.para(t.override_invitation());
}

/// Contraindications that are a history: they never resolve.
fn never_resolves(kind: ContraindicationKind) -> bool {
    matches!(
        kind,
        ContraindicationKind::Hiv
            | ContraindicationKind::Stroke
            | ContraindicationKind::Angina
            | ContraindicationKind::MyocardialInfarction
            | ContraindicationKind::CervicocephalicArterialDissection
    )
}

fn data_unavailable(ctx: &Ctx<'_>, d: &crate::rules::DataUnavailableDetail, parts: &mut Parts) {
    use crate::rules::GapReason;
    let t = ctx.t;
    // R1…R5 in order, then contraindications.
    let display_order = [
        RuleCode::InitiationEligibility,
        RuleCode::InfusionMonitoring,
        RuleCode::LiverFunction,
        RuleCode::ReAdministration,
        RuleCode::PatientCounselling,
        RuleCode::Contraindication,
    ];
    let rules: Vec<RuleCode> = display_order
        .into_iter()
        .filter(|r| d.blocked.contains(r))
        .collect();
    parts.summary = t.data_unavailable_summary(&d.gap.data, &rules);
    parts.heading(t.heading_missing());
    parts.para(t.data_missing_line(&t.data_set_detail(&d.gap.data, &escape_md(d.gap.data.key()))));
    let reason_text = match &d.gap.reason {
        GapReason::OperationOutcome(s)
        | GapReason::Unreadable(s)
        | GapReason::ServerNotAllowed(s) => escape_md(s),
        _ => String::new(),
    };
    parts.para(t.data_reason_line(&t.gap_reason(&d.gap.reason, &reason_text)));
    parts.para(t.data_rules_heading());
    if rules.is_empty() {
        parts.para(t.data_no_rule());
    } else {
        parts.bullets(rules.iter().map(|r| t.rule_title(*r)));
    }
    parts.heading(t.heading_attest());
    parts.para(t.data_attest());
}
