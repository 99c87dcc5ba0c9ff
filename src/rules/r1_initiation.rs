//! R1 — "Treatment of any new patient may only be started in adults with highly active RRMS despite a full and adequately conducted treatment with at least two other DMTs, or in adults with highly active RRMS for whom every other DMT is contraindicated or unsuitable." (ANSM DHPC 30/04/2019; `ema-2020`: at least one DMT, or rapidly evolving severe RRMS)
//!
//! For a *new* patient (no alemtuzumab on record) the data can show three criteria:
//! - **Adult**: whole years at the order date, birthday-exact (17 y 364 d is a minor, the 18th
//!   birthday is adult); no birth date → could not confirm.
//! - **RRMS**, the *current* phenotype: MS diagnoses whose clinical status is active, recurrence,
//!   relapse, remission (an RRMS in remission is still RRMS) or absent are current; inactive or
//!   resolved ones are superseded. Current RRMS and no current progressive → met; current
//!   progressive and no current RRMS → fails (an RRMS that converted to SPMS: the superseded RRMS
//!   is named); both current → could not confirm, both named (`Conflicting`). With no current
//!   subtype, the most recent dated subtype diagnosis decides (undated ones only: RRMS wins unless a
//!   progressive code is also there, then `Conflicting`). Then: conditions that could not be
//!   obtained → could not confirm (`Unknown`); only MS without subtype → could not confirm; no MS
//!   → fails, listing the conditions the terminology did not recognise (a locally coded MS is
//!   "not recognised", never "absent"). MS is matched on text too (terminology).
//! - **Prior DMTs**: distinct ingredients with a full and adequate course (≥ `dmt_min_course_months`
//!   whole months, or stopped for inefficacy; intolerance does not make a short course adequate).
//!   Too few: fails, unless undated courses of other ingredients could make up the number, or the
//!   medication history (or a Medication it references) could not be read: then unconfirmed.
//!
//! DMT course building (a documented choice): taken records of one therapy are sorted by start
//! and merged into one course when a record starts within that drug's dosing interval plus a
//! margin after the previous records' effective end ([`merge_gap`]: anti-CD20 ocrelizumab,
//! rituximab, ublituximab and ofatumumab 7 months; natalizumab 3 months; others
//! [`DMT_MERGE_GAP_DAYS`] days, so refills of a 90-day supply are one course). The fumarates
//! (dimethyl, diroximel, monomethyl) are one therapy ([`therapy_key`]). Cladribine tablets count
//! as a full course once both treatment years were given (a record at least
//! [`CLADRIBINE_YEAR_TWO_MONTHS`] months after the first) or 12 months have passed since the first
//! week (`CountedCladribineCourse`). The effective end
//! of a record is its `end`, the order date when ongoing (active/on-hold without end), else its
//! start. A merged course is ongoing when any of its records is; its stop reason is that of the
//! latest record that gives one. A course whose end is unknown (not ongoing, no end) and whose
//! records span less than the minimum is `Undated`: its length cannot be judged, so it is listed and
//! the clinician is asked rather than blocked. Records without start are `Undated` too.
//!
//! When the DMT criterion is not met, the medication records the terminology did not recognise
//! are listed (`unrecognised_medications`).
//!
//! **Warnings** (the card is at least a warning even when every criterion is met):
//! alemtuzumab records that do not prove administration (weak evidence, see `exposure.rs`); a
//! serious immune reaction diagnosis on record in this never-exposed patient (an unrecorded
//! course elsewhere, or an autoimmune disease), unless weak evidence already sends it to R4;
//! another DMT drafted in the same call.
//!
//! "Highly active", "contraindicated or unsuitable" and "rapidly evolving severe" are clinical
//! judgements left to the card's override reasons.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::calendar::{add_months, whole_months, whole_years};
use super::exposure::Exposure;
use super::facts::{
    ClinicalStatus, ConditionClass, ConditionFact, DataSet, ImmuneReaction, MedicationClass,
    MedicationFact, MedicationSource, MsType, PatientFacts, Profile, StopReason,
};
use super::findings::{Finding, OrderRef, Severity, WeakExposure};
use super::{Detail, RuleCode, RuleConfig};

/// What R1 cannot be checked without (its row of `RULES` in `rules/mod.rs`): the birth date, the
/// diagnoses (MS type) and the medication history (prior DMTs, and whether the patient is new).
pub const NEEDS: &[DataSet] = &[
    DataSet::Patient,
    DataSet::Conditions,
    DataSet::MedicationRequests,
    DataSet::MedicationStatements,
    DataSet::MedicationAdministrations,
];

// ---------------------------------------------------------------------------------------------
// What it concludes: the finding's detail (`Detail` in `rules/mod.rs`), rendered by the card
// of the same name in `src/cards/`.

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
// The check

/// Records of one DMT ingredient this close (days) belong to one course, unless [`merge_gap`]
/// says otherwise for the drug.
pub const DMT_MERGE_GAP_DAYS: i64 = 92;

/// Cladribine tablets: a record this many months after the first is the second treatment year.
pub const CLADRIBINE_YEAR_TWO_MONTHS: u32 = 10;

/// At most this many unrecognised medication labels are listed on the card.
pub const MAX_UNRECOGNISED_LISTED: usize = 10;

/// The therapy an ingredient counts as: the fumarates are one therapy.
pub fn therapy_key(ingredient: &str) -> &str {
    match ingredient {
        "diroximel fumarate" | "monomethyl fumarate" => "dimethyl fumarate",
        other => other,
    }
}

/// The latest date at which a record still continues a course whose effective end is `end`:
/// the drug's dosing interval plus a margin (docs/clinical-rules.md §2 "pulsed and
/// interval-dosed DMTs").
pub fn merge_gap(therapy: &str, end: NaiveDate) -> Option<NaiveDate> {
    match therapy {
        "ocrelizumab" | "rituximab" | "ublituximab" | "ofatumumab" => add_months(end, 7),
        "natalizumab" => add_months(end, 3),
        // Year 2 of cladribine comes 12 months after year 1.
        "cladribine" => add_months(end, 14),
        _ => end.checked_add_signed(chrono::Duration::days(DMT_MERGE_GAP_DAYS)),
    }
}

fn is_counted(status: DmtCourseStatus) -> bool {
    matches!(
        status,
        DmtCourseStatus::CountedDuration
            | DmtCourseStatus::CountedInefficacy
            | DmtCourseStatus::CountedCladribineCourse
    )
}

/// The R1 finding for a new patient's order, or `None` when every criterion is met and there is
/// nothing to warn about.
pub fn check(
    facts: &PatientFacts,
    exposure: &Exposure,
    order: &OrderRef,
    cfg: &RuleConfig,
) -> Option<Finding> {
    let mut failed = Vec::new();
    let mut unconfirmed = Vec::new();

    let age = match facts.birth_date {
        Some(birth_date) => {
            let years = whole_years(birth_date, order.date).unwrap_or(0);
            if years < cfg.min_age_years {
                failed.push(Criterion::Adult);
            }
            AgeCheck::Known { years, birth_date }
        }
        None => {
            unconfirmed.push(Criterion::Adult);
            AgeCheck::Unknown
        }
    };

    let ms = ms_check(facts);
    match ms {
        MsCheck::RelapsingRemitting { .. } => {}
        MsCheck::OnlyProgressive { .. } | MsCheck::NoDiagnosis { .. } => {
            failed.push(Criterion::RelapsingRemittingMs)
        }
        MsCheck::Unspecified { .. } | MsCheck::Conflicting { .. } | MsCheck::Unknown => {
            unconfirmed.push(Criterion::RelapsingRemittingMs)
        }
    }

    let dmts = dmt_courses(facts, order.date, cfg);
    let counted: BTreeSet<String> = dmts
        .iter()
        .filter(|c| is_counted(c.status))
        .map(|c| c.ingredient.clone())
        .collect();
    let undated: BTreeSet<&str> = dmts
        .iter()
        .filter(|c| c.status == DmtCourseStatus::Undated && !counted.contains(&c.ingredient))
        .map(|c| c.ingredient.as_str())
        .collect();
    let required = cfg.required_dmts();
    let counted_n = counted.len() as u64;
    if counted_n < u64::from(required) {
        // The history, or a Medication it points at, could not be read: a DMT may be missing.
        let medication_gap = facts
            .gaps
            .iter()
            .any(|g| super::is_medication_data(&g.data));
        if medication_gap || counted_n + undated.len() as u64 >= u64::from(required) {
            unconfirmed.push(Criterion::PriorDmts);
        } else {
            failed.push(Criterion::PriorDmts);
        }
    }

    let dmt_not_met =
        failed.contains(&Criterion::PriorDmts) || unconfirmed.contains(&Criterion::PriorDmts);
    let unrecognised_medications = if dmt_not_met {
        unrecognised_medications(facts)
    } else {
        Vec::new()
    };
    let warnings = warnings(facts, exposure);

    let severity = if !failed.is_empty() {
        Severity::Critical
    } else if !unconfirmed.is_empty() || !warnings.is_empty() {
        Severity::Warning
    } else {
        return None;
    };
    Some(Finding {
        rule: RuleCode::InitiationEligibility,
        severity,
        order: Some(order.clone()),
        detail: Detail::Initiation(InitiationDetail {
            profile: cfg.profile,
            age,
            ms,
            dmts,
            counted_ingredients: counted.into_iter().collect(),
            required,
            failed,
            unconfirmed,
            unrecognised_medications,
            warnings,
        }),
    })
}

/// Current: active, recurrence, relapse, remission or no status. Inactive and resolved MS
/// diagnoses are superseded phenotypes.
fn is_current_phenotype(c: &ConditionFact) -> bool {
    !matches!(
        c.clinical_status,
        ClinicalStatus::Inactive | ClinicalStatus::Resolved
    )
}

fn ms_type(c: &ConditionFact) -> Option<MsType> {
    // A subtype beats "unspecified" on the same condition (terminology already drops it).
    c.classes.iter().find_map(|k| match k {
        ConditionClass::Ms(t) => Some(*t),
        _ => None,
    })
}

fn is_progressive(t: MsType) -> bool {
    matches!(t, MsType::PrimaryProgressive | MsType::SecondaryProgressive)
}

/// RRMS and progressive diagnoses (labels) of the same standing: RRMS alone is met, progressive
/// alone fails (naming `earlier_rrms`, superseded), both is a conflict, neither decides nothing.
fn phenotype(
    rrms: Vec<String>,
    progressive: Vec<String>,
    earlier_rrms: Vec<String>,
) -> Option<MsCheck> {
    match (rrms.first(), progressive.is_empty()) {
        (None, true) => None,
        (Some(label), true) => Some(MsCheck::RelapsingRemitting {
            label: label.clone(),
        }),
        (None, false) => Some(MsCheck::OnlyProgressive {
            labels: progressive,
            earlier_rrms,
        }),
        (Some(_), false) => Some(MsCheck::Conflicting { rrms, progressive }),
    }
}

fn ms_check(facts: &PatientFacts) -> MsCheck {
    let ms: Vec<(&ConditionFact, MsType)> = facts
        .conditions_on_record()
        .filter_map(|c| ms_type(c).map(|t| (c, t)))
        .collect();
    let labels = |pred: &dyn Fn(&ConditionFact, MsType) -> bool| -> Vec<String> {
        ms.iter()
            .filter(|(c, t)| pred(c, *t))
            .map(|(c, _)| c.label.clone())
            .collect()
    };
    let rrms_current = labels(&|c, t| t == MsType::RelapsingRemitting && is_current_phenotype(c));
    let prog_current = labels(&|c, t| is_progressive(t) && is_current_phenotype(c));
    let rrms_old = labels(&|c, t| t == MsType::RelapsingRemitting && !is_current_phenotype(c));

    let decided = match phenotype(rrms_current, prog_current, rrms_old.clone()) {
        Some(check) => Some(check),
        None => {
            // No current subtype: the most recent dated subtype diagnosis decides; with only
            // undated ones, the same rule as for current ones.
            let subtyped: Vec<&(&ConditionFact, MsType)> = ms
                .iter()
                .filter(|(_, t)| *t != MsType::Unspecified)
                .collect();
            let latest = subtyped
                .iter()
                .filter_map(|(c, t)| c.onset.map(|d| (d, *c, *t)))
                .max_by_key(|(d, _, t)| (*d, is_progressive(*t)));
            match latest {
                Some((_, c, t)) if is_progressive(t) => Some(MsCheck::OnlyProgressive {
                    labels: vec![c.label.clone()],
                    earlier_rrms: rrms_old,
                }),
                Some((_, c, _)) => Some(MsCheck::RelapsingRemitting {
                    label: c.label.clone(),
                }),
                None => {
                    let labels_where = |pred: fn(MsType) -> bool| -> Vec<String> {
                        subtyped
                            .iter()
                            .filter(|(_, t)| pred(*t))
                            .map(|(c, _)| c.label.clone())
                            .collect()
                    };
                    phenotype(
                        labels_where(|t| t == MsType::RelapsingRemitting),
                        labels_where(is_progressive),
                        Vec::new(),
                    )
                }
            }
        }
    };
    match decided {
        Some(check @ MsCheck::RelapsingRemitting { .. }) => return check,
        // Without the full list of conditions only an RRMS on record is conclusive.
        _ if facts.has_gap(&DataSet::Conditions) => return MsCheck::Unknown,
        Some(check) => return check,
        None => {}
    }
    let unspecified = labels(&|_, t| t == MsType::Unspecified);
    if !unspecified.is_empty() {
        return MsCheck::Unspecified {
            labels: unspecified,
        };
    }
    let mut unrecognised: Vec<String> = Vec::new();
    for c in facts
        .conditions_on_record()
        .filter(|c| c.classes.is_empty())
    {
        if !unrecognised.contains(&c.label) {
            unrecognised.push(c.label.clone());
        }
    }
    unrecognised.truncate(MAX_UNRECOGNISED_LISTED);
    MsCheck::NoDiagnosis { unrecognised }
}

/// Labels of the medication records the terminology did not recognise (at most
/// [`MAX_UNRECOGNISED_LISTED`], first seen first).
fn unrecognised_medications(facts: &PatientFacts) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for m in facts.medications_taken() {
        if m.class == MedicationClass::Other && !labels.contains(&m.label) {
            labels.push(m.label.clone());
        }
    }
    labels.truncate(MAX_UNRECOGNISED_LISTED);
    labels
}

fn warnings(facts: &PatientFacts, exposure: &Exposure) -> Vec<InitiationWarning> {
    let mut out: Vec<InitiationWarning> = exposure
        .weak
        .iter()
        .cloned()
        .map(InitiationWarning::WeakExposure)
        .collect();
    // With weak evidence on record R4 runs and names these diagnoses itself.
    if exposure.weak.is_empty() {
        for c in facts.conditions_on_record() {
            for class in &c.classes {
                let ConditionClass::ImmuneReaction(reaction) = class else {
                    continue;
                };
                // Toxic liver disease is not an immune reaction and has many causes: R3's labs
                // cover it.
                if *reaction == ImmuneReaction::LiverInjury {
                    continue;
                }
                out.push(InitiationWarning::ImmuneReactionOnRecord {
                    reaction: *reaction,
                    label: c.label.clone(),
                    onset: c.onset,
                    reference: c.reference.clone(),
                });
            }
        }
    }
    out.extend(
        facts
            .concurrent_dmt_drafts()
            .map(|m| InitiationWarning::ConcurrentDmtDraft {
                reference: m.reference.clone(),
                label: m.label.clone(),
            }),
    );
    out
}

/// A course being built from one or more records of one ingredient.
struct Group<'a> {
    records: Vec<&'a MedicationFact>,
    start: NaiveDate,
    /// Latest documented end.
    end: Option<NaiveDate>,
    /// Latest effective end (end, order date when ongoing, else start).
    effective_end: NaiveDate,
    ongoing: bool,
    stop_reason: StopReason,
}

fn is_ongoing(m: &MedicationFact) -> bool {
    m.status.is_ongoing() && m.end.is_none()
}

/// Every DMT course of the history (see the module documentation), with its status.
pub(crate) fn dmt_courses(
    facts: &PatientFacts,
    order_date: NaiveDate,
    cfg: &RuleConfig,
) -> Vec<DmtCourse> {
    let mut by_ingredient: BTreeMap<&str, Vec<&MedicationFact>> = BTreeMap::new();
    let mut undated: Vec<DmtCourse> = Vec::new();
    for m in facts.medications_taken() {
        let MedicationClass::Dmt { ingredient } = &m.class else {
            continue;
        };
        let therapy = therapy_key(ingredient);
        if m.start.is_some() {
            by_ingredient.entry(therapy).or_default().push(m);
        } else {
            undated.push(DmtCourse {
                ingredient: therapy.to_string(),
                label: m.label.clone(),
                source: m.source,
                start: None,
                end: m.end,
                ongoing: is_ongoing(m),
                months: None,
                stop_reason: m.stop_reason,
                status: DmtCourseStatus::Undated,
            });
        }
    }

    let mut courses: Vec<DmtCourse> = Vec::new();
    for (ingredient, mut records) in by_ingredient {
        records.sort_by_key(|m| (m.start, m.end));
        let mut groups: Vec<Group> = Vec::new();
        for m in records {
            let Some(start) = m.start else { continue };
            let ongoing = is_ongoing(m);
            let effective_end = if ongoing {
                order_date.max(start)
            } else {
                m.end.unwrap_or(start).max(start)
            };
            match groups.last_mut() {
                Some(g) if merge_gap(ingredient, g.effective_end).map_or(true, |l| start <= l) => {
                    g.records.push(m);
                    g.end = g.end.max(m.end);
                    g.effective_end = g.effective_end.max(effective_end);
                    g.ongoing |= ongoing;
                    if m.stop_reason != StopReason::None {
                        g.stop_reason = m.stop_reason;
                    }
                }
                _ => groups.push(Group {
                    records: vec![m],
                    start,
                    end: m.end,
                    effective_end,
                    ongoing,
                    stop_reason: m.stop_reason,
                }),
            }
        }
        for g in groups {
            courses.push(course_of(ingredient, g, order_date, cfg));
        }
    }
    courses.sort_by(|a, b| (a.start, &a.ingredient).cmp(&(b.start, &b.ingredient)));

    // One counted course per ingredient; the others are "same ingredient".
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for c in &mut courses {
        if is_counted(c.status) && !seen.insert(c.ingredient.clone()) {
            c.status = DmtCourseStatus::SameIngredient;
        }
    }
    for c in &mut undated {
        if seen.contains(&c.ingredient) {
            c.status = DmtCourseStatus::SameIngredient;
        }
    }
    courses.extend(undated);
    courses
}

fn course_of(ingredient: &str, g: Group, order_date: NaiveDate, cfg: &RuleConfig) -> DmtCourse {
    let mut labels: Vec<&str> = Vec::new();
    for m in &g.records {
        if !labels.contains(&m.label.as_str()) {
            labels.push(&m.label);
        }
    }
    let months = whole_months(g.start, g.effective_end).unwrap_or(0);
    let end_known = g.ongoing || g.end.is_some();
    let cladribine_complete = ingredient == "cladribine"
        && (g.records.iter().any(|m| {
            m.start
                .and_then(|s| whole_months(g.start, s))
                .is_some_and(|n| n >= CLADRIBINE_YEAR_TWO_MONTHS)
        }) || whole_months(g.start, order_date).is_some_and(|n| n >= 12));
    let status = if cladribine_complete {
        DmtCourseStatus::CountedCladribineCourse
    } else if months >= cfg.dmt_min_course_months {
        DmtCourseStatus::CountedDuration
    } else if g.stop_reason == StopReason::Inefficacy {
        DmtCourseStatus::CountedInefficacy
    } else if end_known {
        DmtCourseStatus::TooShort
    } else {
        DmtCourseStatus::Undated
    };
    DmtCourse {
        ingredient: ingredient.to_string(),
        label: labels.join("; "),
        source: g
            .records
            .first()
            .map_or(super::facts::MedicationSource::Statement, |m| m.source),
        start: Some(g.start),
        end: if g.ongoing { None } else { g.end },
        ongoing: g.ongoing,
        months: (end_known || g.records.len() > 1).then_some(months),
        stop_reason: g.stop_reason,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::facts::{
        ClinicalStatus, ConditionClass, MedicationStatus, Profile, Verification,
    };
    use crate::rules::testkit::{condition, d, dmt, FactsBuilder, ORDER_DATE};

    fn order_at(date: &str) -> OrderRef {
        OrderRef {
            authored_on: None,
            identified_by_display: false,
            reference: "MedicationRequest/draft-1".into(),
            label: "Lemtrada".into(),
            date: d(date),
        }
    }

    fn run(facts: &PatientFacts, cfg: &RuleConfig) -> Option<Finding> {
        check(
            facts,
            &Exposure::from_facts(facts, cfg),
            &order_at(ORDER_DATE),
            cfg,
        )
    }

    fn detail(f: &Finding) -> &InitiationDetail {
        match &f.detail {
            Detail::Initiation(i) => i,
            other => panic!("unexpected detail {other:?}"),
        }
    }

    fn ema() -> RuleConfig {
        RuleConfig {
            profile: Profile::Ema2020,
            ..RuleConfig::default()
        }
    }

    #[test]
    fn eligible_patient_gets_no_finding() {
        let facts = FactsBuilder::eligible().build();
        assert_eq!(run(&facts, &RuleConfig::default()), None);
        assert_eq!(run(&facts, &ema()), None);
    }

    #[test]
    fn minor_one_day_before_18th_birthday_is_blocked() {
        // 2006-06-02 + 18 y = 2024-06-02: on 2024-06-01 the patient is 17 y 364 d.
        let facts = FactsBuilder::eligible().born("2006-06-02").build();
        let f = run(&facts, &RuleConfig::default()).expect("finding");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(detail(&f).failed, vec![Criterion::Adult]);
        assert!(matches!(detail(&f).age, AgeCheck::Known { years: 17, .. }));
    }

    #[test]
    fn eighteenth_birthday_is_adult() {
        let facts = FactsBuilder::eligible().born("2006-06-01").build();
        assert_eq!(run(&facts, &RuleConfig::default()), None);
    }

    #[test]
    fn missing_birth_date_is_unconfirmed() {
        let mut facts = FactsBuilder::eligible().build();
        facts.birth_date = None;
        let f = run(&facts, &RuleConfig::default()).expect("finding");
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(detail(&f).unconfirmed, vec![Criterion::Adult]);
        assert_eq!(detail(&f).age, AgeCheck::Unknown);
    }

    fn with_ms_only(t: Option<MsType>) -> PatientFacts {
        let mut facts = FactsBuilder::eligible().build();
        facts.conditions.clear();
        if let Some(t) = t {
            facts
                .conditions
                .push(condition(ConditionClass::Ms(t), "MS"));
        }
        facts
    }

    #[test]
    fn ms_type_decides() {
        let cfg = RuleConfig::default();
        let f = run(&with_ms_only(Some(MsType::SecondaryProgressive)), &cfg).expect("finding");
        assert_eq!(f.severity, Severity::Critical);
        assert!(matches!(detail(&f).ms, MsCheck::OnlyProgressive { .. }));
        let f = run(&with_ms_only(Some(MsType::Unspecified)), &cfg).expect("finding");
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            detail(&f).unconfirmed,
            vec![Criterion::RelapsingRemittingMs]
        );
        let f = run(&with_ms_only(None), &cfg).expect("finding");
        assert_eq!(
            detail(&f).ms,
            MsCheck::NoDiagnosis {
                unrecognised: vec![]
            }
        );
        assert_eq!(detail(&f).failed, vec![Criterion::RelapsingRemittingMs]);
    }

    /// What the terminology recognises in ICD-10-CM `G35.A` (relapsing-remitting) and WHO `G35`
    /// (MS without subtype), as the rule receives it: the recognition itself is tested in
    /// `src/terminology/tests.rs` (`icd10_g35_codes_as_the_rules_receive_them`).
    #[test]
    fn icd10_cm_g35a_is_rrms_but_who_g35_is_unconfirmed() {
        let cfg = RuleConfig::default();
        for (code, class, expect) in [
            ("G35.A", MsType::RelapsingRemitting, None),
            ("G35", MsType::Unspecified, Some(Severity::Warning)),
        ] {
            let mut facts = with_ms_only(None);
            facts
                .conditions
                .push(condition(ConditionClass::Ms(class), code));
            assert_eq!(run(&facts, &cfg).map(|f| f.severity), expect, "{code}");
        }
    }

    #[test]
    fn current_phenotype_decides_and_entered_in_error_is_ignored() {
        let mut facts = with_ms_only(Some(MsType::SecondaryProgressive));
        facts.conditions.push(condition(
            ConditionClass::Ms(MsType::RelapsingRemitting),
            "RRMS",
        ));
        // Both active: could not confirm, both named (issue 11 point 4).
        let f = run(&facts, &RuleConfig::default()).expect("conflict");
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            matches!(&detail(&f).ms, MsCheck::Conflicting { rrms, progressive }
            if rrms == &["RRMS".to_string()] && progressive == &["MS".to_string()])
        );
        // An inactive RRMS followed by an active SPMS: the current phenotype is progressive.
        facts.conditions[1].clinical_status = ClinicalStatus::Inactive;
        let f = run(&facts, &RuleConfig::default()).expect("converted");
        assert_eq!(f.severity, Severity::Critical);
        assert!(
            matches!(&detail(&f).ms, MsCheck::OnlyProgressive { earlier_rrms, .. }
            if earlier_rrms == &["RRMS".to_string()])
        );
        // An SPMS resolved (miscoded) and an active RRMS: RRMS.
        facts.conditions[1].clinical_status = ClinicalStatus::Active;
        facts.conditions[0].clinical_status = ClinicalStatus::Resolved;
        assert_eq!(run(&facts, &RuleConfig::default()), None);
        // Neither current: the most recent dated one decides.
        facts.conditions[1].clinical_status = ClinicalStatus::Inactive;
        facts.conditions[0].onset = Some(d("2023-01-01"));
        facts.conditions[1].onset = Some(d("2012-01-01"));
        let f = run(&facts, &RuleConfig::default()).expect("latest is SPMS");
        assert_eq!(f.severity, Severity::Critical);
        facts.conditions[1].onset = Some(d("2024-01-01"));
        assert_eq!(run(&facts, &RuleConfig::default()), None);
        facts.conditions[0].clinical_status = ClinicalStatus::Active;
        facts.conditions[1].clinical_status = ClinicalStatus::Active;
        facts.conditions[0].onset = None;
        facts.conditions[1].onset = None;
        facts.conditions[1].verification = Verification::EnteredInError;
        let f = run(&facts, &RuleConfig::default()).expect("finding");
        assert!(matches!(detail(&f).ms, MsCheck::OnlyProgressive { .. }));
        // Alone, a resolved RRMS is still RRMS on record.
        facts.conditions[1].verification = Verification::Confirmed;
        facts.conditions[1].clinical_status = ClinicalStatus::Resolved;
        facts.conditions[0].verification = Verification::EnteredInError;
        assert_eq!(run(&facts, &RuleConfig::default()), None);
    }

    #[test]
    fn ms_coded_locally_with_french_text_is_recognised() {
        // The terminology recognises relapsing-remitting MS in that text (`src/terminology/tests.rs`,
        // `ms_coded_locally_with_french_text_as_the_rules_receive_it`).
        let mut facts = with_ms_only(None);
        facts.conditions.push(condition(
            ConditionClass::Ms(MsType::RelapsingRemitting),
            "Sclérose en plaques rémittente-récurrente",
        ));
        assert_eq!(run(&facts, &RuleConfig::default()), None);
        // An unrecognised condition is listed, never "absent".
        let mut facts = with_ms_only(None);
        let mut c = condition(
            ConditionClass::Ms(MsType::Unspecified),
            "Maladie démyélinisante X",
        );
        c.classes = Vec::new();
        facts.conditions.push(c);
        let f = run(&facts, &RuleConfig::default()).expect("no MS recognised");
        assert_eq!(
            detail(&f).ms,
            MsCheck::NoDiagnosis {
                unrecognised: vec!["Maladie démyélinisante X".into()]
            }
        );
    }

    #[test]
    fn pulsed_dmts_merge_by_their_dosing_interval() {
        // Ocrelizumab every 6 months for 2.5 years: one course of 30 months (issue 11 point 10).
        let mut facts = FactsBuilder::eligible().build();
        facts.medications = [
            "2021-01-10",
            "2021-07-12",
            "2022-01-10",
            "2022-07-11",
            "2023-01-09",
            "2023-07-10",
        ]
        .iter()
        .map(|date| dmt("ocrelizumab", Some(date), Some(date)))
        .collect();
        let f = run(&facts, &RuleConfig::default()).expect("one therapy only");
        assert_eq!(detail(&f).dmts.len(), 1);
        assert_eq!(detail(&f).dmts[0].status, DmtCourseStatus::CountedDuration);
        assert_eq!(detail(&f).dmts[0].months, Some(30));
        // Natalizumab every 4 weeks with a 10-week pause: one course.
        let nat = [("2022-01-01", "2022-06-01"), ("2022-08-10", "2023-03-01")];
        let mut facts = FactsBuilder::eligible().build();
        facts.medications = nat
            .iter()
            .map(|(s, e)| dmt("natalizumab", Some(s), Some(e)))
            .collect();
        let f = run(&facts, &RuleConfig::default()).expect("one therapy");
        assert_eq!(detail(&f).dmts.len(), 1);
        assert_eq!(detail(&f).dmts[0].status, DmtCourseStatus::CountedDuration);
        // A glatiramer pause of 4 months: two courses, neither long enough.
        let mut facts = FactsBuilder::eligible().build();
        facts.medications = vec![
            dmt("glatiramer", Some("2022-01-01"), Some("2022-07-01")),
            dmt("glatiramer", Some("2022-11-05"), Some("2023-05-01")),
        ];
        let f = run(&facts, &ema()).expect("two short courses");
        assert_eq!(detail(&f).dmts.len(), 2);
    }

    #[test]
    fn cladribine_counts_once_both_years_are_given() {
        let mut facts = FactsBuilder::eligible().build();
        facts.medications = vec![
            dmt("cladribine", Some("2022-03-01"), Some("2022-03-05")),
            dmt("cladribine", Some("2022-04-01"), Some("2022-04-05")),
        ];
        // Year 1 only, 6 months ago: not yet.
        let at = |facts: &PatientFacts, date: &str| {
            check(
                facts,
                &Exposure::from_facts(facts, &ema()),
                &order_at(date),
                &ema(),
            )
        };
        let f = at(&facts, "2022-09-01").expect("year 1 only");
        assert_eq!(detail(&f).dmts[0].status, DmtCourseStatus::TooShort);
        // 12 months since the first week: counted.
        assert_eq!(at(&facts, "2023-03-01"), None);
        // Year 2 given: counted whatever the date.
        facts
            .medications
            .push(dmt("cladribine", Some("2023-03-01"), Some("2023-03-05")));
        let f = at(&facts, "2023-03-10");
        assert_eq!(f, None);
        let mut both = FactsBuilder::eligible().build();
        both.medications = facts.medications.clone();
        let courses = dmt_courses(&both, d("2023-03-10"), &ema());
        assert_eq!(courses[0].status, DmtCourseStatus::CountedCladribineCourse);
    }

    #[test]
    fn fumarates_are_one_therapy() {
        let mut facts = FactsBuilder::eligible().build();
        facts.medications = vec![
            dmt("dimethyl fumarate", Some("2019-01-01"), Some("2020-06-01")),
            dmt("diroximel fumarate", Some("2020-07-01"), Some("2022-01-01")),
        ];
        let f = run(&facts, &RuleConfig::default()).expect("one therapy under ansm");
        assert_eq!(
            detail(&f).counted_ingredients,
            vec!["dimethyl fumarate".to_string()]
        );
    }

    #[test]
    fn warnings_weak_exposure_prior_reaction_and_concurrent_dmt() {
        use crate::rules::facts::{ImmuneReaction, MedicationSource, RequestIntent};
        use crate::rules::InitiationWarning;
        // An eligible patient whose only alemtuzumab record is a proposal: a warning naming it.
        let mut proposal = crate::rules::testkit::alemtuzumab(Some("2024-05-01"));
        proposal.source = MedicationSource::Request;
        proposal.status = MedicationStatus::Active;
        proposal.intent = Some(RequestIntent::Proposal);
        let facts = FactsBuilder::eligible().med(proposal).build();
        let f = run(&facts, &RuleConfig::default()).expect("weak evidence");
        assert_eq!(f.severity, Severity::Warning);
        assert!(matches!(
            detail(&f).warnings[..],
            [InitiationWarning::WeakExposure(_)]
        ));
        // HLH on record in a never-exposed patient.
        let facts = FactsBuilder::eligible()
            .class(ConditionClass::ImmuneReaction(ImmuneReaction::Hlh), "HLH")
            .build();
        let f = run(&facts, &RuleConfig::default()).expect("prior immune reaction");
        assert_eq!(f.severity, Severity::Warning);
        assert!(matches!(
            detail(&f).warnings[..],
            [InitiationWarning::ImmuneReactionOnRecord {
                reaction: ImmuneReaction::Hlh,
                ..
            }]
        ));
        // Another DMT drafted in the same call.
        let mut facts = FactsBuilder::eligible().build();
        let mut draft = dmt("ocrelizumab", Some(ORDER_DATE), None);
        draft.status = MedicationStatus::Draft;
        facts.other_drafts.push(draft);
        let f = run(&facts, &RuleConfig::default()).expect("concurrent DMT");
        assert_eq!(f.severity, Severity::Warning);
        assert!(matches!(
            detail(&f).warnings[..],
            [InitiationWarning::ConcurrentDmtDraft { .. }]
        ));
    }

    #[test]
    fn unrecognised_medications_are_listed_when_dmts_fall_short() {
        let mut facts = one_dmt(dmt("fingolimod", Some("2020-01-01"), Some("2023-01-01")));
        let mut local = dmt("x", Some("2016-01-01"), Some("2019-01-01"));
        local.class = MedicationClass::Other;
        local.label = "TERIFLU-LOC 14".into();
        facts.medications.push(local);
        let f = run(&facts, &RuleConfig::default()).expect("one DMT recognised");
        assert_eq!(
            detail(&f).unrecognised_medications,
            vec!["TERIFLU-LOC 14".to_string()]
        );
        // Eligible: nothing listed, no card.
        assert_eq!(run(&facts, &ema()), None);
    }

    #[test]
    fn conditions_gap_means_ms_unknown() {
        let mut facts = with_ms_only(None);
        facts.gaps.push(crate::rules::facts::DataGap {
            data: DataSet::Conditions,
            reason: crate::rules::facts::GapReason::Timeout,
        });
        let f = run(&facts, &RuleConfig::default()).expect("finding");
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(detail(&f).ms, MsCheck::Unknown);
    }

    fn one_dmt(m: crate::rules::facts::MedicationFact) -> PatientFacts {
        let mut facts = FactsBuilder::eligible().build();
        facts.medications = vec![m];
        facts
    }

    #[test]
    fn dmt_course_11_months_too_short_12_counted() {
        let cfg = ema();
        let facts = one_dmt(dmt("fingolimod", Some("2022-01-15"), Some("2022-12-14")));
        let f = run(&facts, &cfg).expect("11 months is too short");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(detail(&f).dmts[0].months, Some(10));
        assert_eq!(detail(&f).dmts[0].status, DmtCourseStatus::TooShort);
        let facts = one_dmt(dmt("fingolimod", Some("2022-01-15"), Some("2022-12-15")));
        let f = run(&facts, &cfg).expect("11 months is too short");
        assert_eq!(detail(&f).dmts[0].months, Some(11));
        let facts = one_dmt(dmt("fingolimod", Some("2022-01-15"), Some("2023-01-15")));
        assert_eq!(run(&facts, &cfg), None);
    }

    #[test]
    fn ongoing_course_runs_to_order_date() {
        let facts = one_dmt(dmt("fingolimod", Some("2023-06-01"), None));
        assert_eq!(run(&facts, &ema()), None);
        let facts = one_dmt(dmt("fingolimod", Some("2023-06-02"), None));
        let f = run(&facts, &ema()).expect("finding");
        assert!(detail(&f).dmts[0].ongoing);
        assert_eq!(detail(&f).dmts[0].months, Some(11));
    }

    #[test]
    fn intolerance_not_counted_inefficacy_counted() {
        let mut m = dmt("teriflunomide", Some("2023-01-01"), Some("2023-04-01"));
        m.stop_reason = StopReason::Intolerance;
        let f = run(&one_dmt(m.clone()), &ema()).expect("intolerance does not count");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(detail(&f).dmts[0].status, DmtCourseStatus::TooShort);
        m.stop_reason = StopReason::Inefficacy;
        assert_eq!(run(&one_dmt(m), &ema()), None);
    }

    #[test]
    fn ansm_needs_two_ingredients_ema_one() {
        let facts = one_dmt(dmt("fingolimod", Some("2020-01-01"), Some("2023-01-01")));
        let f = run(&facts, &RuleConfig::default()).expect("ansm needs 2");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(detail(&f).required, 2);
        assert_eq!(
            detail(&f).counted_ingredients,
            vec!["fingolimod".to_string()]
        );
        assert_eq!(run(&facts, &ema()), None);
    }

    #[test]
    fn same_ingredient_twice_counts_once() {
        let mut facts = one_dmt(dmt("fingolimod", Some("2016-01-01"), Some("2018-01-01")));
        facts
            .medications
            .push(dmt("fingolimod", Some("2020-01-01"), Some("2022-01-01")));
        let f = run(&facts, &RuleConfig::default()).expect("one ingredient");
        let statuses: Vec<_> = detail(&f).dmts.iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            vec![
                DmtCourseStatus::CountedDuration,
                DmtCourseStatus::SameIngredient
            ]
        );
    }

    #[test]
    fn contiguous_records_of_one_ingredient_merge() {
        let mut facts = one_dmt(dmt("glatiramer", Some("2020-01-01"), Some("2020-07-01")));
        facts
            .medications
            .push(dmt("glatiramer", Some("2020-07-15"), Some("2021-02-01")));
        let f = run(&facts, &RuleConfig::default()).expect("one ingredient only");
        assert_eq!(detail(&f).dmts.len(), 1);
        assert_eq!(detail(&f).dmts[0].months, Some(13));
        assert_eq!(detail(&f).dmts[0].status, DmtCourseStatus::CountedDuration);
    }

    #[test]
    fn undated_course_makes_it_unconfirmed_not_failed() {
        let mut facts = one_dmt(dmt("fingolimod", Some("2020-01-01"), Some("2023-01-01")));
        facts.medications.push(dmt("natalizumab", None, None));
        let f = run(&facts, &RuleConfig::default()).expect("finding");
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(detail(&f).unconfirmed, vec![Criterion::PriorDmts]);
        assert_eq!(detail(&f).dmts[1].status, DmtCourseStatus::Undated);
    }

    #[test]
    fn medication_gap_makes_dmts_unconfirmed() {
        for data in [
            DataSet::MedicationStatements,
            DataSet::Medication("Medication/unreadable".into()),
        ] {
            let mut facts = one_dmt(dmt("fingolimod", Some("2020-01-01"), Some("2023-01-01")));
            facts.gaps.push(crate::rules::facts::DataGap {
                data,
                reason: crate::rules::facts::GapReason::Timeout,
            });
            let f = run(&facts, &RuleConfig::default()).expect("finding");
            assert_eq!(f.severity, Severity::Warning);
        }
        // A labs gap does not excuse missing DMTs.
        let facts = FactsBuilder::eligible().gap(DataSet::LiverLabs).build();
        let mut facts = facts;
        facts.medications.truncate(1);
        let f = run(&facts, &RuleConfig::default()).expect("finding");
        assert_eq!(f.severity, Severity::Critical);
    }

    #[test]
    fn not_taken_dmt_is_ignored() {
        let mut m = dmt("fingolimod", Some("2020-01-01"), Some("2023-01-01"));
        m.status = MedicationStatus::NotTaken;
        let f = run(&one_dmt(m), &ema()).expect("finding");
        assert!(detail(&f).dmts.is_empty());
        assert_eq!(f.order.as_ref().map(|o| o.date), Some(d(ORDER_DATE)));
    }
}
