//! Contraindications — "Severe active infection until complete resolution; uncontrolled hypertension; history of arterial dissection of the cervicocephalic arteries; history of stroke; history of angina pectoris or myocardial infarction; known coagulopathy, on anti-platelet or anti-coagulant therapy; other concomitant autoimmune diseases (apart from MS)." (European Commission decision 16/01/2020, Lemtrada SmPC §4.3; `ema-2020` profile only)
//!
//! Under `ansm-2019` nothing is emitted: the contract's `contraindication` topic is ema-2020 only
//! (hypersensitivity and HIV of the 2019 text are left to the prescriber there).
//!
//! Items, each with its evidence, in one critical finding per order:
//! - Diagnoses on record (not refuted / entered in error): HIV, arterial dissection, stroke, angina
//!   and myocardial infarction whatever their clinical status (a *history* is enough);
//!   coagulopathy unless resolved; severe active infection, other autoimmune disease, uncontrolled
//!   hypertension and long-term antithrombotic use only when active (or without status). A
//!   hypertension diagnosis alone is not a contraindication. A serious immune reaction that is an
//!   autoimmune disease (autoimmune hepatitis, immune thrombocytopenia, anti-GBM disease, TTP,
//!   acquired haemophilia A, autoimmune encephalitis), when active, is also an "other autoimmune
//!   disease"; HLH, toxic liver disease and thyroid disease are not (thyroid disease is R4's).
//! - The last valid blood pressure (by date, on or before the order date) with systolic ≥
//!   `bp_systolic_threshold` or diastolic ≥ `bp_diastolic_threshold`: uncontrolled hypertension.
//! - Antithrombotic medication taken and current at the order date: active / on-hold with no end or
//!   an end on or after the order date, or any record without end that started within
//!   `antithrombotic_recent_days` before the order date (kind `AntithromboticTherapy`).

use super::calendar::days_between;
use super::facts::{
    ClinicalStatus, ConditionClass, ConditionFact, ContraindicationKind, ImmuneReaction,
    MedicationClass, PatientFacts, Profile,
};
use super::findings::{
    ContraindicationDetail, ContraindicationEvidence, ContraindicationItem, Detail, Finding,
    OrderRef, RuleCode, Severity,
};
use super::r2_infusion_monitoring::last_blood_pressure;
use super::RuleConfig;

fn condition_counts(kind: ContraindicationKind, c: &ConditionFact) -> bool {
    use ContraindicationKind::*;
    match kind {
        Hypersensitivity
        | Hiv
        | CervicocephalicArterialDissection
        | Stroke
        | Angina
        | MyocardialInfarction => true,
        Coagulopathy => c.clinical_status != ClinicalStatus::Resolved,
        SevereActiveInfection
        | OtherAutoimmuneDisease
        | UncontrolledHypertension
        | AntithromboticTherapy => c.is_active(),
        Hypertension => false,
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
    )
}

pub fn check(facts: &PatientFacts, order: &OrderRef, cfg: &RuleConfig) -> Option<Finding> {
    if cfg.profile != Profile::Ema2020 {
        return None;
    }
    let mut items: Vec<ContraindicationItem> = Vec::new();
    let push = |items: &mut Vec<ContraindicationItem>, item: ContraindicationItem| {
        if !items.contains(&item) {
            items.push(item);
        }
    };

    for c in facts.conditions_on_record() {
        let is_ms = c.classes.iter().any(|k| matches!(k, ConditionClass::Ms(_)));
        for class in &c.classes {
            let kind = match class {
                ConditionClass::Contraindication(kind) if condition_counts(*kind, c) => *kind,
                ConditionClass::ImmuneReaction(r)
                    if is_autoimmune_reaction(*r) && c.is_active() =>
                {
                    ContraindicationKind::OtherAutoimmuneDisease
                }
                _ => continue,
            };
            if is_ms && kind == ContraindicationKind::OtherAutoimmuneDisease {
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
        check(facts, &order, cfg)
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
    fn ansm_2019_emits_nothing() {
        let facts = FactsBuilder::eligible()
            .cond(ci(ContraindicationKind::Hiv, ClinicalStatus::Active))
            .build();
        assert_eq!(run(&facts, &RuleConfig::default()), None);
        assert!(run(&facts, &ema()).is_some());
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
            .cond(ci(OtherAutoimmuneDisease, ClinicalStatus::Inactive))
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
