//! Contraindications — Lemtrada SmPC §4.3: "Hypersensitivity to the active substance; HIV infection" (since 2013, both profiles) and, added by the European Commission decision of 16/01/2020 (`ema-2020` profile): "Severe active infection until complete resolution; uncontrolled hypertension; history of arterial dissection of the cervicocephalic arteries; history of stroke; history of angina pectoris or myocardial infarction; known coagulopathy, on anti-platelet or anti-coagulant therapy; other concomitant autoimmune diseases (apart from MS)."
//!
//! Under **both profiles**: a current hypersensitivity to alemtuzumab (AllergyIntolerance whose
//! substance is alemtuzumab, not refuted / entered in error / inactive / resolved) and HIV.
//!
//! Under **`ema-2020`** also, each item with its evidence, in one critical finding per order:
//! - Diagnoses on record (not refuted / entered in error): arterial dissection, stroke, angina
//!   and myocardial infarction whatever their clinical status (a *history* is enough);
//!   coagulopathy and other autoimmune disease unless resolved (an autoimmune disease in remission
//!   or inactive is still there); severe active infection (sepsis, tuberculosis, active chronic
//!   hepatitis B/C, herpes zoster, CMV disease), uncontrolled hypertension and long-term
//!   antithrombotic use only when active (or without status). A hypertension diagnosis alone is
//!   not a contraindication. A serious immune reaction that is an autoimmune disease (autoimmune
//!   hepatitis, immune thrombocytopenia, anti-GBM disease, TTP, acquired haemophilia A, autoimmune
//!   encephalitis, autoimmune cytopenia, adult-onset Still's disease), unless resolved, is also an
//!   "other autoimmune disease"; so is autoimmune thyroid disease in a patient never exposed to
//!   alemtuzumab (after exposure it is R4's). HLH and toxic liver disease are not.
//! - The last valid blood pressure (by date, on or before the order date) with systolic ≥
//!   `bp_systolic_threshold` or diastolic ≥ `bp_diastolic_threshold`: uncontrolled hypertension.
//! - Antithrombotic medication taken and current at the order date: active / on-hold with no end or
//!   an end on or after the order date, or any record without end that started within
//!   `antithrombotic_recent_days` before the order date (kind `AntithromboticTherapy`); and an
//!   anticoagulant / anti-platelet drafted in the same hook call.

use chrono::NaiveDate;

use super::calendar::days_between;
use super::facts::{
    BloodPressureFact, ClinicalStatus, ConditionClass, ConditionFact, ContraindicationKind,
    DataSet, ImmuneReaction, MedicationClass, PatientFacts, Profile,
};
use super::findings::{Finding, OrderRef, Severity};
use super::r2_infusion_monitoring::last_blood_pressure;
use super::{Detail, RuleCode, RuleConfig};

/// What the contraindication check cannot be done without, under some profile (its row of `RULES`
/// in `rules/mod.rs`): the diagnoses, the medication history (antithrombotics), the blood
/// pressure and the allergies. [`needs`] says which of them the active profile reads.
pub const NEEDS: &[DataSet] = &[
    DataSet::Conditions,
    DataSet::MedicationRequests,
    DataSet::MedicationStatements,
    DataSet::MedicationAdministrations,
    DataSet::BloodPressure,
    DataSet::Allergies,
];

// ---------------------------------------------------------------------------------------------
// What it concludes: the finding's detail (`Detail` in `rules/mod.rs`), rendered by the card
// of the same name in `src/cards/`.

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
// The check

fn condition_counts(kind: ContraindicationKind, c: &ConditionFact) -> bool {
    use ContraindicationKind::*;
    match kind {
        Hiv | CervicocephalicArterialDissection | Stroke | Angina | MyocardialInfarction => true,
        Hypersensitivity | Coagulopathy | OtherAutoimmuneDisease => {
            c.clinical_status != ClinicalStatus::Resolved
        }
        SevereActiveInfection | UncontrolledHypertension | AntithromboticTherapy => c.is_active(),
        Hypertension => false,
    }
}

/// The contraindications checked under every profile (SmPC §4.3 since 2013); the others only
/// when the profile [checks the 2020 list](Profile::checks_2020_contraindications).
fn in_every_profile(kind: ContraindicationKind) -> bool {
    matches!(
        kind,
        ContraindicationKind::Hypersensitivity | ContraindicationKind::Hiv
    )
}

/// Whether the contraindication check needs this data set under `profile` (a gap in it leaves
/// the check open): without the 2020 list only diagnoses and allergies are read.
pub fn needs(data: &DataSet, profile: Profile) -> bool {
    profile.checks_2020_contraindications()
        || match data {
            DataSet::Conditions | DataSet::Allergies => true,
            DataSet::Resource(r) => {
                r.starts_with("Condition") || r.starts_with("AllergyIntolerance")
            }
            _ => false,
        }
}

fn is_autoimmune_reaction(r: ImmuneReaction) -> bool {
    matches!(
        r,
        ImmuneReaction::AutoimmuneHepatitis
            | ImmuneReaction::ImmuneThrombocytopenia
            | ImmuneReaction::AntiGbmDisease
            | ImmuneReaction::Ttp
            | ImmuneReaction::AcquiredHaemophiliaA
            | ImmuneReaction::AutoimmuneEncephalitis
            | ImmuneReaction::AutoimmuneCytopenia
            | ImmuneReaction::AdultOnsetStillsDisease
    )
}

pub fn check(
    facts: &PatientFacts,
    exposed: bool,
    order: &OrderRef,
    cfg: &RuleConfig,
) -> Option<Finding> {
    let list_2020 = cfg.profile.checks_2020_contraindications();
    let mut items: Vec<ContraindicationItem> = Vec::new();
    let push = |items: &mut Vec<ContraindicationItem>, item: ContraindicationItem| {
        if !items.contains(&item) {
            items.push(item);
        }
    };

    for a in facts
        .allergies
        .iter()
        .filter(|a| a.alemtuzumab && a.is_current())
    {
        push(
            &mut items,
            ContraindicationItem {
                kind: ContraindicationKind::Hypersensitivity,
                evidence: ContraindicationEvidence::Allergy {
                    reference: a.reference.clone(),
                    label: a.label.clone(),
                    onset: a.onset,
                },
            },
        );
    }

    for c in facts.conditions_on_record() {
        let is_ms = c.classes.iter().any(|k| matches!(k, ConditionClass::Ms(_)));
        let not_resolved = c.clinical_status != ClinicalStatus::Resolved;
        for class in &c.classes {
            let kind = match class {
                ConditionClass::Contraindication(kind) if condition_counts(*kind, c) => *kind,
                ConditionClass::ImmuneReaction(r) if is_autoimmune_reaction(*r) && not_resolved => {
                    ContraindicationKind::OtherAutoimmuneDisease
                }
                ConditionClass::ImmuneReaction(ImmuneReaction::ThyroidDisease)
                    if !exposed && not_resolved =>
                {
                    ContraindicationKind::OtherAutoimmuneDisease
                }
                _ => continue,
            };
            if (is_ms && kind == ContraindicationKind::OtherAutoimmuneDisease)
                || !(list_2020 || in_every_profile(kind))
            {
                continue;
            }
            push(
                &mut items,
                ContraindicationItem {
                    kind,
                    evidence: ContraindicationEvidence::Condition {
                        reference: c.reference.clone(),
                        label: c.label.clone(),
                        onset: c.onset,
                    },
                },
            );
        }
    }

    if !list_2020 {
        return finding(items, order, cfg);
    }

    if let Some(bp) = last_blood_pressure(facts, order.date) {
        let high =
            |v: Option<f64>, threshold: f64| v.is_some_and(|v| v.is_finite() && v >= threshold);
        if high(bp.systolic, cfg.bp_systolic_threshold)
            || high(bp.diastolic, cfg.bp_diastolic_threshold)
        {
            push(
                &mut items,
                ContraindicationItem {
                    kind: ContraindicationKind::UncontrolledHypertension,
                    evidence: ContraindicationEvidence::BloodPressure {
                        reading: bp.clone(),
                        systolic_threshold: cfg.bp_systolic_threshold,
                        diastolic_threshold: cfg.bp_diastolic_threshold,
                    },
                },
            );
        }
    }

    for m in facts
        .medications_taken()
        .filter(|m| m.class == MedicationClass::Antithrombotic)
    {
        let ongoing = m.status.is_ongoing() && m.end.map_or(true, |end| end >= order.date);
        let recent = m.end.is_none()
            && m.start.is_some_and(|start| {
                let age = days_between(start, order.date);
                (0..=i64::from(cfg.antithrombotic_recent_days)).contains(&age)
            });
        if ongoing || recent {
            push(
                &mut items,
                ContraindicationItem {
                    kind: ContraindicationKind::AntithromboticTherapy,
                    evidence: ContraindicationEvidence::Medication {
                        reference: m.reference.clone(),
                        label: m.label.clone(),
                        start: m.start,
                    },
                },
            );
        }
    }

    for m in facts
        .other_drafts
        .iter()
        .filter(|m| m.class == MedicationClass::Antithrombotic)
    {
        push(
            &mut items,
            ContraindicationItem {
                kind: ContraindicationKind::AntithromboticTherapy,
                evidence: ContraindicationEvidence::DraftOrder {
                    reference: m.reference.clone(),
                    label: m.label.clone(),
                },
            },
        );
    }

    finding(items, order, cfg)
}

fn finding(
    items: Vec<ContraindicationItem>,
    order: &OrderRef,
    cfg: &RuleConfig,
) -> Option<Finding> {
    if items.is_empty() {
        return None;
    }
    Some(Finding {
        rule: RuleCode::Contraindication,
        severity: Severity::Critical,
        order: Some(order.clone()),
        detail: Detail::Contraindication(ContraindicationDetail {
            profile: cfg.profile,
            items,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::facts::{MedicationStatus, MsType, Verification};
    use crate::rules::testkit::{antithrombotic, condition, d, FactsBuilder};

    fn ema() -> RuleConfig {
        RuleConfig {
            profile: Profile::Ema2020,
            ..RuleConfig::default()
        }
    }

    fn run(facts: &PatientFacts, cfg: &RuleConfig) -> Option<Finding> {
        let order = OrderRef {
            authored_on: None,
            identified_by_display: false,
            reference: "MedicationRequest/draft-1".into(),
            label: "Lemtrada".into(),
            date: d("2024-06-01"),
        };
        check(facts, false, &order, cfg)
    }

    fn kinds(f: &Finding) -> Vec<ContraindicationKind> {
        match &f.detail {
            Detail::Contraindication(c) => c.items.iter().map(|i| i.kind).collect(),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn ci(kind: ContraindicationKind, status: ClinicalStatus) -> ConditionFact {
        let mut c = condition(ConditionClass::Contraindication(kind), &format!("{kind:?}"));
        c.clinical_status = status;
        c
    }

    #[test]
    fn ansm_2019_checks_hiv_and_hypersensitivity_only() {
        use ContraindicationKind::*;
        // HIV passes no more under the default profile (issue 11 point 5).
        let facts = FactsBuilder::eligible()
            .cond(ci(Hiv, ClinicalStatus::Active))
            .cond(ci(Stroke, ClinicalStatus::Active))
            .build();
        let f = run(&facts, &RuleConfig::default()).expect("HIV under ansm-2019");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(kinds(&f), vec![Hiv]);
        assert_eq!(kinds(&run(&facts, &ema()).expect("ema")), vec![Hiv, Stroke]);
        // Hypersensitivity to alemtuzumab from AllergyIntolerance, both profiles.
        let allergy =
            |status: ClinicalStatus, alemtuzumab: bool| crate::rules::facts::AllergyFact {
                reference: "AllergyIntolerance/a1".into(),
                label: "Lemtrada".into(),
                alemtuzumab,
                clinical_status: status,
                verification: crate::rules::facts::Verification::Confirmed,
                onset: None,
            };
        for cfg in [RuleConfig::default(), ema()] {
            let mut facts = FactsBuilder::eligible().build();
            facts.allergies.push(allergy(ClinicalStatus::Active, true));
            let f = run(&facts, &cfg).expect("hypersensitivity");
            assert_eq!(kinds(&f), vec![Hypersensitivity]);
            assert!(matches!(
                &f.detail,
                Detail::Contraindication(d) if matches!(d.items[0].evidence, ContraindicationEvidence::Allergy { .. })
            ));
            // Resolved, or another substance: nothing.
            facts.allergies = vec![
                allergy(ClinicalStatus::Resolved, true),
                allergy(ClinicalStatus::Active, false),
            ];
            assert_eq!(run(&facts, &cfg), None);
        }
    }

    #[test]
    fn ema_2020_closes_its_holes() {
        use ContraindicationKind::*;
        // An autoimmune disease in remission or inactive is still there; resolved is not.
        for (status, expected) in [
            (ClinicalStatus::Remission, true),
            (ClinicalStatus::Inactive, true),
            (ClinicalStatus::Resolved, false),
        ] {
            let facts = FactsBuilder::eligible()
                .cond(ci(OtherAutoimmuneDisease, status))
                .build();
            assert_eq!(run(&facts, &ema()).is_some(), expected, "{status:?}");
        }
        // Autoimmune thyroid disease: a contraindication for a new patient, R4's after exposure.
        let facts = FactsBuilder::eligible()
            .cond(condition(
                ConditionClass::ImmuneReaction(ImmuneReaction::ThyroidDisease),
                "Graves",
            ))
            .build();
        let f = run(&facts, &ema()).expect("thyroid, new patient");
        assert_eq!(kinds(&f), vec![OtherAutoimmuneDisease]);
        let order = OrderRef {
            authored_on: None,
            identified_by_display: false,
            reference: "MedicationRequest/draft-1".into(),
            label: "Lemtrada".into(),
            date: d("2024-06-01"),
        };
        assert_eq!(check(&facts, true, &order, &ema()), None);
        // An anticoagulant drafted in the same call.
        let mut facts = FactsBuilder::eligible().build();
        let mut apixaban = crate::rules::testkit::dmt("x", Some("2024-06-01"), None);
        apixaban.class = MedicationClass::Antithrombotic;
        apixaban.reference = "MedicationRequest/draft-2".into();
        apixaban.label = "Eliquis 5 mg".into();
        facts.other_drafts.push(apixaban);
        let f = run(&facts, &ema()).expect("anticoagulant draft");
        assert_eq!(kinds(&f), vec![AntithromboticTherapy]);
        assert_eq!(run(&facts, &RuleConfig::default()), None);
    }

    /// Every `ema-2020` diagnosis class, alone on an otherwise eligible patient, under each
    /// clinical status: one critical finding of that kind exactly when the status counts (a
    /// history for angina and arterial dissection, unless resolved for coagulopathy, only when
    /// active for a severe infection, uncontrolled hypertension or long-term antithrombotic use),
    /// and none under `ansm-2019`.
    #[test]
    fn each_ema_2020_diagnosis_class_is_a_contraindication_of_its_kind() {
        use ClinicalStatus::*;
        use ContraindicationKind::*;
        let all = [
            Active, Recurrence, Relapse, Inactive, Remission, Resolved, Unknown,
        ];
        let cases: [(ContraindicationKind, &[ClinicalStatus]); 9] = [
            (Angina, &all),
            (CervicocephalicArterialDissection, &all),
            (Stroke, &all),
            (MyocardialInfarction, &all),
            (
                Coagulopathy,
                &[Active, Recurrence, Relapse, Inactive, Remission, Unknown],
            ),
            (
                OtherAutoimmuneDisease,
                &[Active, Recurrence, Relapse, Inactive, Remission, Unknown],
            ),
            (
                SevereActiveInfection,
                &[Active, Recurrence, Relapse, Unknown],
            ),
            (
                UncontrolledHypertension,
                &[Active, Recurrence, Relapse, Unknown],
            ),
            (
                AntithromboticTherapy,
                &[Active, Recurrence, Relapse, Unknown],
            ),
        ];
        for (kind, counting) in cases {
            for status in all {
                let facts = FactsBuilder::eligible().cond(ci(kind, status)).build();
                let got = run(&facts, &ema());
                if counting.contains(&status) {
                    let f = got.unwrap_or_else(|| panic!("{kind:?} {status:?}: no finding"));
                    assert_eq!(f.severity, Severity::Critical, "{kind:?} {status:?}");
                    assert_eq!(f.rule, RuleCode::Contraindication, "{kind:?} {status:?}");
                    assert_eq!(kinds(&f), vec![kind], "{kind:?} {status:?}");
                    assert!(
                        matches!(
                            &f.detail,
                            Detail::Contraindication(d)
                                if matches!(d.items[0].evidence, ContraindicationEvidence::Condition { .. })
                        ),
                        "{kind:?} {status:?}: {f:?}"
                    );
                } else {
                    assert_eq!(got, None, "{kind:?} {status:?}");
                }
                assert_eq!(
                    run(&facts, &RuleConfig::default()),
                    None,
                    "{kind:?} {status:?} under ansm-2019"
                );
            }
        }
    }

    #[test]
    fn eligible_patient_has_none() {
        assert_eq!(run(&FactsBuilder::eligible().build(), &ema()), None);
    }

    #[test]
    fn history_vs_active_conditions() {
        use ContraindicationKind::*;
        let facts = FactsBuilder::eligible()
            .cond(ci(MyocardialInfarction, ClinicalStatus::Resolved))
            .cond(ci(Coagulopathy, ClinicalStatus::Resolved))
            .cond(ci(SevereActiveInfection, ClinicalStatus::Resolved))
            .cond(ci(OtherAutoimmuneDisease, ClinicalStatus::Resolved))
            .cond(ci(Hypertension, ClinicalStatus::Active))
            .cond(ci(Stroke, ClinicalStatus::Inactive))
            .build();
        let f = run(&facts, &ema()).expect("finding");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(kinds(&f), vec![MyocardialInfarction, Stroke]);
    }

    #[test]
    fn entered_in_error_condition_ignored() {
        let mut c = ci(ContraindicationKind::Hiv, ClinicalStatus::Active);
        c.verification = Verification::EnteredInError;
        assert_eq!(run(&FactsBuilder::eligible().cond(c).build(), &ema()), None);
    }

    #[test]
    fn ms_is_never_another_autoimmune_disease_but_itp_is() {
        let mut ms = condition(ConditionClass::Ms(MsType::RelapsingRemitting), "MS");
        ms.classes.push(ConditionClass::Contraindication(
            ContraindicationKind::OtherAutoimmuneDisease,
        ));
        assert_eq!(
            run(&FactsBuilder::eligible().cond(ms).build(), &ema()),
            None
        );
        let itp = condition(
            ConditionClass::ImmuneReaction(ImmuneReaction::ImmuneThrombocytopenia),
            "ITP",
        );
        let f = run(&FactsBuilder::eligible().cond(itp).build(), &ema()).expect("finding");
        assert_eq!(
            kinds(&f),
            vec![ContraindicationKind::OtherAutoimmuneDisease]
        );
    }

    #[test]
    fn last_blood_pressure_at_threshold() {
        let facts = FactsBuilder::eligible()
            .bp(160.0, 90.0, "2024-05-30")
            .build();
        let f = run(&facts, &ema()).expect("finding");
        assert_eq!(
            kinds(&f),
            vec![ContraindicationKind::UncontrolledHypertension]
        );
        let facts = FactsBuilder::eligible()
            .bp(130.0, 100.0, "2024-05-30")
            .build();
        assert!(run(&facts, &ema()).is_some());
        let facts = FactsBuilder::eligible()
            .bp(170.0, 105.0, "2024-05-01")
            .bp(159.0, 99.0, "2024-05-30")
            .build();
        assert_eq!(run(&facts, &ema()), None, "only the last reading counts");
    }

    #[test]
    fn antithrombotic_current_or_recent() {
        let cfg = ema();
        let active = antithrombotic(Some("2020-01-01"), MedicationStatus::Active);
        let f = run(&FactsBuilder::eligible().med(active).build(), &cfg).expect("finding");
        assert_eq!(kinds(&f), vec![ContraindicationKind::AntithromboticTherapy]);
        let recent = antithrombotic(Some("2024-04-01"), MedicationStatus::Completed);
        assert!(run(&FactsBuilder::eligible().med(recent).build(), &cfg).is_some());
        let old = antithrombotic(Some("2023-01-01"), MedicationStatus::Completed);
        assert_eq!(run(&FactsBuilder::eligible().med(old).build(), &cfg), None);
        let mut stopped = antithrombotic(Some("2024-05-01"), MedicationStatus::Active);
        stopped.end = Some(d("2024-05-20"));
        assert_eq!(
            run(&FactsBuilder::eligible().med(stopped).build(), &cfg),
            None
        );
    }
}
