//! R1 — "Treatment of any new patient may only be started in adults with highly active RRMS despite a full and adequately conducted treatment with at least two other DMTs, or in adults with highly active RRMS for whom every other DMT is contraindicated or unsuitable." (ANSM DHPC 30/04/2019; `ema-2020`: at least one DMT, or rapidly evolving severe RRMS)
//!
//! For a *new* patient (no alemtuzumab on record) the data can show three criteria:
//! - **Adult**: whole years at the order date, birthday-exact (17 y 364 d is a minor, the 18th
//!   birthday is adult); no birth date → could not confirm.
//! - **RRMS**: any RRMS diagnosis on record → met (even if other MS codes exist); otherwise, when the
//!   conditions could not be obtained → could not confirm (`MsCheck::Unknown`); any progressive MS
//!   (and no RRMS) → fails, even if an unspecified MS code is also there; only MS without subtype
//!   → could not confirm; no MS → fails.
//! - **Prior DMTs**: distinct ingredients with a full and adequate course (≥ `dmt_min_course_months`
//!   whole months, or stopped for inefficacy; intolerance does not make a short course adequate).
//!   Too few: fails, unless undated courses of other ingredients could make up the number, or the
//!   medication history (or a Medication it references) could not be read: then unconfirmed.
//!
//! DMT course building (a documented choice): taken records of one ingredient are sorted by start
//! and merged into one course when a record starts at most [`DMT_MERGE_GAP_DAYS`] days after the
//! previous records' effective end (refills of a 90-day supply are one course). The effective end
//! of a record is its `end`, the order date when ongoing (active/on-hold without end), else its
//! start. A merged course is ongoing when any of its records is; its stop reason is that of the
//! latest record that gives one. A course whose end is unknown (not ongoing, no end) and whose
//! records span less than the minimum is `Undated`: its length cannot be judged, so it is listed and
//! the clinician is asked rather than blocked. Records without start are `Undated` too.
//!
//! "Highly active", "contraindicated or unsuitable" and "rapidly evolving severe" are clinical
//! judgements left to the card's override reasons.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::calendar::{days_between, whole_months, whole_years};
use super::facts::{DataSet, MedicationClass, MedicationFact, MsType, PatientFacts, StopReason};
use super::findings::{
    AgeCheck, Criterion, Detail, DmtCourse, DmtCourseStatus, Finding, InitiationDetail, MsCheck,
    OrderRef, RuleCode, Severity,
};
use super::RuleConfig;

/// Records of one DMT ingredient this close (days) belong to one course.
pub const DMT_MERGE_GAP_DAYS: i64 = 92;

/// The R1 finding for a new patient's order, or `None` when every criterion is met.
pub fn check(facts: &PatientFacts, order: &OrderRef, cfg: &RuleConfig) -> Option<Finding> {
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
        .filter(|c| {
            matches!(
                c.status,
                DmtCourseStatus::CountedDuration | DmtCourseStatus::CountedInefficacy
            )
        })
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

    let severity = if !failed.is_empty() {
        Severity::Critical
    } else if !unconfirmed.is_empty() {
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
            unrecognised_medications: Vec::new(),
            warnings: Vec::new(),
        }),
    })
}

fn ms_check(facts: &PatientFacts) -> MsCheck {
    let labels_of = |t: MsType| -> Vec<String> {
        facts
            .conditions_on_record()
            .filter(|c| c.has_class(super::facts::ConditionClass::Ms(t)))
            .map(|c| c.label.clone())
            .collect()
    };
    if let Some(label) = labels_of(MsType::RelapsingRemitting).into_iter().next() {
        return MsCheck::RelapsingRemitting { label };
    }
    if facts.has_gap(&DataSet::Conditions) {
        return MsCheck::Unknown;
    }
    let mut progressive = labels_of(MsType::PrimaryProgressive);
    progressive.extend(labels_of(MsType::SecondaryProgressive));
    if !progressive.is_empty() {
        return MsCheck::OnlyProgressive {
            labels: progressive,
            earlier_rrms: Vec::new(),
        };
    }
    let unspecified = labels_of(MsType::Unspecified);
    if !unspecified.is_empty() {
        return MsCheck::Unspecified {
            labels: unspecified,
        };
    }
    MsCheck::NoDiagnosis {
        unrecognised: Vec::new(),
    }
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
        if m.start.is_some() {
            by_ingredient
                .entry(ingredient.as_str())
                .or_default()
                .push(m);
        } else {
            undated.push(DmtCourse {
                ingredient: ingredient.clone(),
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
                Some(g) if days_between(g.effective_end, start) <= DMT_MERGE_GAP_DAYS => {
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
            courses.push(course_of(ingredient, g, cfg));
        }
    }
    courses.sort_by(|a, b| (a.start, &a.ingredient).cmp(&(b.start, &b.ingredient)));

    // One counted course per ingredient; the others are "same ingredient".
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for c in &mut courses {
        if matches!(
            c.status,
            DmtCourseStatus::CountedDuration | DmtCourseStatus::CountedInefficacy
        ) && !seen.insert(c.ingredient.clone())
        {
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

fn course_of(ingredient: &str, g: Group, cfg: &RuleConfig) -> DmtCourse {
    let mut labels: Vec<&str> = Vec::new();
    for m in &g.records {
        if !labels.contains(&m.label.as_str()) {
            labels.push(&m.label);
        }
    }
    let months = whole_months(g.start, g.effective_end).unwrap_or(0);
    let end_known = g.ongoing || g.end.is_some();
    let status = if months >= cfg.dmt_min_course_months {
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
        check(facts, &order_at(ORDER_DATE), cfg)
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

    #[test]
    fn icd10_cm_g35a_is_rrms_but_who_g35_is_unconfirmed() {
        use crate::rules::facts::Code;
        use crate::rules::terminology::{Terminology, ICD10, ICD10_CM};
        let term = Terminology::default();
        let cfg = RuleConfig::default();
        for (system, code, expect) in [
            (ICD10_CM, "G35.A", None),
            (ICD10, "G35", Some(Severity::Warning)),
        ] {
            let mut facts = with_ms_only(None);
            let mut c = condition(ConditionClass::Ms(MsType::Unspecified), code);
            c.classes = term.condition_classes(&[Code::new(system, code)], None);
            facts.conditions.push(c);
            assert_eq!(run(&facts, &cfg).map(|f| f.severity), expect, "{code}");
        }
    }

    #[test]
    fn rrms_wins_over_other_codes_and_entered_in_error_is_ignored() {
        let mut facts = with_ms_only(Some(MsType::SecondaryProgressive));
        facts.conditions.push(condition(
            ConditionClass::Ms(MsType::RelapsingRemitting),
            "RRMS",
        ));
        assert_eq!(run(&facts, &RuleConfig::default()), None);
        facts.conditions[1].verification = Verification::EnteredInError;
        let f = run(&facts, &RuleConfig::default()).expect("finding");
        assert!(matches!(detail(&f).ms, MsCheck::OnlyProgressive { .. }));
        // A resolved RRMS is still RRMS on record.
        facts.conditions[1].verification = Verification::Confirmed;
        facts.conditions[1].clinical_status = ClinicalStatus::Resolved;
        assert_eq!(run(&facts, &RuleConfig::default()), None);
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
