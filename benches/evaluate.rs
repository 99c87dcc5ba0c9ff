//! Benchmark of the rules engine on a realistic patient of about 200 facts (40 conditions,
//! 60 medication records, 100 liver labs, a few blood pressures), for both rule profiles.

use std::hint::black_box;

use alemtuzumab_cds::rules::{
    evaluate, BloodPressureFact, ClinicalStatus, ConditionClass, ConditionFact,
    ContraindicationKind, DraftOrder, HookKind, ImmuneReaction, LabFact, LabTest, MedicationClass,
    MedicationFact, MedicationSource, MedicationStatus, MsType, ObservationStatus, PatientFacts,
    Profile, RuleConfig, StopReason, Verification,
};
use chrono::{Days, NaiveDate};
use criterion::{criterion_group, criterion_main, Criterion};

fn day(offset: u64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(2014, 1, 1).and_then(|d| d.checked_add_days(Days::new(offset)))
}

fn patient() -> PatientFacts {
    let classes = [
        ConditionClass::Ms(MsType::RelapsingRemitting),
        ConditionClass::Ms(MsType::Unspecified),
        ConditionClass::ImmuneReaction(ImmuneReaction::ThyroidDisease),
        ConditionClass::Contraindication(ContraindicationKind::Hypertension),
        ConditionClass::Contraindication(ContraindicationKind::OtherAutoimmuneDisease),
    ];
    let conditions = (0..40u64)
        .map(|i| ConditionFact {
            reference: format!("Condition/{i}"),
            label: format!("Condition {i}"),
            classes: if i % 3 == 0 {
                vec![classes[(i as usize / 3) % classes.len()]]
            } else {
                Vec::new()
            },
            clinical_status: if i % 4 == 0 {
                ClinicalStatus::Resolved
            } else {
                ClinicalStatus::Active
            },
            verification: if i == 7 {
                Verification::EnteredInError
            } else {
                Verification::Confirmed
            },
            onset: day(i * 90),
        })
        .collect();
    let dmts = [
        "interferon beta-1a",
        "glatiramer",
        "fingolimod",
        "natalizumab",
    ];
    let medications = (0..60u64)
        .map(|i| {
            let class = match i % 6 {
                0 => MedicationClass::Alemtuzumab { campath: false },
                1 | 2 => MedicationClass::Dmt {
                    ingredient: dmts[(i as usize / 6) % dmts.len()].to_string(),
                },
                3 => MedicationClass::Antithrombotic,
                _ => MedicationClass::Other,
            };
            MedicationFact {
                reference: format!("MedicationStatement/{i}"),
                source: if i % 2 == 0 {
                    MedicationSource::Statement
                } else {
                    MedicationSource::Request
                },
                class,
                label: format!("Medication {i}"),
                status: MedicationStatus::Completed,
                start: day(i * 60),
                end: day(i * 60 + 90),
                stop_reason: if i % 5 == 0 {
                    StopReason::Inefficacy
                } else {
                    StopReason::None
                },
                intent: None,
            }
        })
        .collect();
    let tests = [LabTest::Alt, LabTest::Ast, LabTest::TotalBilirubin];
    let labs = (0..100u64)
        .map(|i| LabFact {
            reference: format!("Observation/{i}"),
            test: tests[i as usize % 3],
            value: Some(if i == 50 {
                150.0
            } else {
                20.0 + (i % 7) as f64
            }),
            unit: Some(if i % 3 == 2 { "µmol/L" } else { "U/L" }.to_string()),
            date: day(3_600 + i * 10),
            reference_high: (i % 2 == 0).then_some(40.0),
            status: ObservationStatus::Final,
        })
        .collect();
    let blood_pressures = (0..5u64)
        .map(|i| BloodPressureFact {
            reference: format!("Observation/bp-{i}"),
            systolic: Some(120.0 + i as f64),
            diastolic: Some(80.0),
            date: day(3_900 + i * 30),
        })
        .collect();
    PatientFacts {
        birth_date: NaiveDate::from_ymd_opt(1985, 4, 12),
        conditions,
        medications,
        labs,
        blood_pressures,
        allergies: Vec::new(),
        other_drafts: Vec::new(),
        gaps: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let facts = patient();
    let today = day(4_000).unwrap_or(NaiveDate::MIN);
    let orders = [DraftOrder {
        reference: "MedicationRequest/draft-1".into(),
        label: "Lemtrada 12 mg".into(),
        authored_on: Some(today),
        campath: false,
        identified_by_display: false,
    }];
    for profile in [Profile::Ansm2019, Profile::Ema2020] {
        let cfg = RuleConfig {
            profile,
            ..RuleConfig::default()
        };
        c.bench_function(&format!("evaluate/order-sign/{}", profile.as_str()), |b| {
            b.iter(|| {
                evaluate(
                    black_box(&facts),
                    black_box(&orders),
                    HookKind::OrderSign,
                    black_box(&cfg),
                    today,
                )
            })
        });
        c.bench_function(
            &format!("evaluate/patient-view/{}", profile.as_str()),
            |b| {
                b.iter(|| {
                    evaluate(
                        black_box(&facts),
                        &[],
                        HookKind::PatientView,
                        black_box(&cfg),
                        today,
                    )
                })
            },
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
