//! Renderer tests: every detail variant and enum value, both profiles, both languages.

use chrono::NaiveDate;
use proptest::prelude::*;

use super::*;
use crate::rules::{
    BloodPressureFact, ContraindicationDetail, ContraindicationItem, ContraindicationKind,
    CounsellingDetail, DataGap, DataSet, DataUnavailableDetail, DmtCourse, GapReason,
    ImmuneReaction, InfusionMonitoringDetail, InitiationDetail, LiverDetail, MedicationSource,
    ReAdministrationDetail, StopReason, Uln, UlnSource, WeakExposureReason,
};
use crate::wire::CdsResponse;

const LANGS: [Language; 2] = [Language::Fr, Language::En];
const PROFILES: [Profile; 2] = [Profile::Ansm2019, Profile::Ema2020];
const REACTIONS: [ImmuneReaction; 11] = [
    ImmuneReaction::AutoimmuneCytopenia,
    ImmuneReaction::AdultOnsetStillsDisease,
    ImmuneReaction::AutoimmuneHepatitis,
    ImmuneReaction::LiverInjury,
    ImmuneReaction::Hlh,
    ImmuneReaction::ImmuneThrombocytopenia,
    ImmuneReaction::AntiGbmDisease,
    ImmuneReaction::Ttp,
    ImmuneReaction::AcquiredHaemophiliaA,
    ImmuneReaction::AutoimmuneEncephalitis,
    ImmuneReaction::ThyroidDisease,
];
const KINDS: [ContraindicationKind; 12] = [
    ContraindicationKind::Hypersensitivity,
    ContraindicationKind::Hiv,
    ContraindicationKind::SevereActiveInfection,
    ContraindicationKind::Hypertension,
    ContraindicationKind::UncontrolledHypertension,
    ContraindicationKind::CervicocephalicArterialDissection,
    ContraindicationKind::Stroke,
    ContraindicationKind::Angina,
    ContraindicationKind::MyocardialInfarction,
    ContraindicationKind::Coagulopathy,
    ContraindicationKind::OtherAutoimmuneDisease,
    ContraindicationKind::AntithromboticTherapy,
];
const STATUSES: [DmtCourseStatus; 6] = [
    DmtCourseStatus::CountedCladribineCourse,
    DmtCourseStatus::CountedDuration,
    DmtCourseStatus::CountedInefficacy,
    DmtCourseStatus::TooShort,
    DmtCourseStatus::Undated,
    DmtCourseStatus::SameIngredient,
];
const STOPS: [StopReason; 4] = [
    StopReason::None,
    StopReason::Inefficacy,
    StopReason::Intolerance,
    StopReason::Other,
];
const SOURCES: [MedicationSource; 3] = [
    MedicationSource::Request,
    MedicationSource::Statement,
    MedicationSource::Administration,
];
const CRITERIA: [Criterion; 3] = [
    Criterion::Adult,
    Criterion::RelapsingRemittingMs,
    Criterion::PriorDmts,
];

fn gap_reasons() -> Vec<GapReason> {
    vec![
        GapReason::NotProvided,
        GapReason::Unreachable,
        GapReason::Timeout,
        GapReason::HttpStatus(503),
        GapReason::NotFhirJson,
        GapReason::OperationOutcome("Search *failed* <b>".into()),
        GapReason::OperationOutcome(String::new()),
        GapReason::PageLimit(10),
        GapReason::BadNextLink,
        GapReason::Unreadable("missing field `status`".into()),
        GapReason::ServerNotAllowed("evil.example".into()),
    ]
}

fn data_sets() -> Vec<DataSet> {
    vec![
        DataSet::Patient,
        DataSet::Conditions,
        DataSet::MedicationRequests,
        DataSet::MedicationStatements,
        DataSet::MedicationAdministrations,
        DataSet::LiverLabs,
        DataSet::BloodPressure,
        DataSet::Allergies,
        DataSet::Medication("Medication/med-1".into()),
        DataSet::Resource("MedicationRequest/abc".into()),
    ]
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn order() -> OrderRef {
    OrderRef {
        authored_on: None,
        identified_by_display: false,
        reference: "MedicationRequest/mr-42".into(),
        label: "Lemtrada 12 mg/1.2 mL".into(),
        date: d(2024, 3, 15),
    }
}

fn finding(rule: RuleCode, severity: Severity, detail: Detail) -> Finding {
    Finding {
        rule,
        severity,
        order: Some(order()),
        detail,
    }
}

fn lab(test: LabTest, value: Option<f64>, uln: Option<Uln>) -> LabValue {
    LabValue {
        converted_from: None,
        reference: format!("Observation/{test:?}"),
        test,
        value,
        unit: Some("U/L".into()),
        date: Some(d(2024, 2, 1)),
        uln,
    }
}

fn labs_every_shape() -> Vec<LabValue> {
    let ref_range = Some(Uln {
        value: 40.0,
        source: UlnSource::ReferenceRange,
    });
    let default = Some(Uln {
        value: 1.2,
        source: UlnSource::ConfiguredDefault,
    });
    vec![
        lab(LabTest::Alt, Some(130.0), ref_range),
        lab(LabTest::Ast, Some(45.5), default),
        lab(LabTest::TotalBilirubin, None, None),
        LabValue {
            unit: None,
            date: None,
            ..lab(LabTest::TotalBilirubin, Some(f64::NAN), ref_range)
        },
        lab(
            LabTest::Alt,
            Some(f64::INFINITY),
            Some(Uln {
                value: 0.0,
                source: UlnSource::ReferenceRange,
            }),
        ),
    ]
}

fn dmt_courses() -> Vec<DmtCourse> {
    let mut out = Vec::new();
    for (i, status) in STATUSES.iter().enumerate() {
        for (j, stop) in STOPS.iter().enumerate() {
            let undated = *status == DmtCourseStatus::Undated;
            out.push(DmtCourse {
                ingredient: "interferon beta-1a".into(),
                label: format!("Avonex_{i}{j} *30 µg*"),
                source: SOURCES[(i + j) % 3],
                start: (!undated).then(|| d(2018, 1, 1)),
                end: (!undated && j % 2 == 0).then(|| d(2019, 6, 1)),
                ongoing: j % 2 == 1,
                months: (!undated).then_some(17),
                stop_reason: *stop,
                status: *status,
            });
        }
    }
    out
}

fn subsets() -> Vec<Vec<Criterion>> {
    (0..8u8)
        .map(|mask| {
            CRITERIA
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, c)| *c)
                .collect()
        })
        .collect()
}

fn ms_checks() -> Vec<MsCheck> {
    vec![
        MsCheck::RelapsingRemitting {
            label: "Sclérose en plaques rémittente-récurrente".into(),
        },
        MsCheck::OnlyProgressive {
            earlier_rrms: vec![],
            labels: vec!["SPMS".into(), "PPMS [G35.B0]".into()],
        },
        MsCheck::Unspecified {
            labels: vec!["G35".into()],
        },
        MsCheck::Unspecified { labels: vec![] },
        MsCheck::NoDiagnosis {
            unrecognised: vec![],
        },
        MsCheck::Unknown,
        MsCheck::OnlyProgressive {
            labels: vec!["SPMS".into()],
            earlier_rrms: vec!["RRMS 2010 (inactive)".into()],
        },
        MsCheck::Conflicting {
            rrms: vec!["SEP-RR".into()],
            progressive: vec!["SEP secondairement progressive".into()],
        },
        MsCheck::NoDiagnosis {
            unrecognised: vec!["SEP forme rémittente (code local)".into()],
        },
    ]
}

fn weak(why: WeakExposureReason) -> WeakExposure {
    WeakExposure {
        reference: "MedicationRequest/old-lem".into(),
        label: "Lemtrada *proposé*".into(),
        source: MedicationSource::Request,
        date: Some(d(2023, 4, 5)),
        why,
    }
}

const WHYS: [WeakExposureReason; 4] = [
    WeakExposureReason::Proposal,
    WeakExposureReason::Plan,
    WeakExposureReason::OrderNotCompleted,
    WeakExposureReason::Campath,
];

fn initiation_warnings() -> Vec<InitiationWarning> {
    let mut out: Vec<InitiationWarning> = WHYS
        .iter()
        .map(|w| InitiationWarning::WeakExposure(weak(*w)))
        .collect();
    for (i, reaction) in REACTIONS.iter().enumerate() {
        out.push(InitiationWarning::ImmuneReactionOnRecord {
            reaction: *reaction,
            label: format!("Réaction {i}"),
            onset: (i % 2 == 0).then(|| d(2022, 6, 1)),
            reference: format!("Condition/r{i}"),
        });
    }
    out.push(InitiationWarning::ConcurrentDmtDraft {
        reference: "MedicationRequest/ocre".into(),
        label: "Ocrevus 300 mg".into(),
    });
    out
}

/// Every detail variant with every enum value inside, both profiles.
fn all_findings() -> Vec<Finding> {
    let mut out = Vec::new();
    for profile in PROFILES {
        // R1
        for failed in subsets() {
            for unconfirmed in subsets() {
                for (k, ms) in ms_checks().into_iter().enumerate() {
                    let severity = if failed.is_empty() {
                        Severity::Warning
                    } else {
                        Severity::Critical
                    };
                    out.push(finding(
                        RuleCode::InitiationEligibility,
                        severity,
                        Detail::Initiation(InitiationDetail {
                            unrecognised_medications: if k % 3 == 0 {
                                vec!["Produit local X".into()]
                            } else {
                                vec![]
                            },
                            warnings: if k % 2 == 1 {
                                initiation_warnings()
                            } else {
                                vec![]
                            },
                            profile,
                            age: if k % 2 == 0 {
                                AgeCheck::Known {
                                    years: 17,
                                    birth_date: d(2006, 5, 1),
                                }
                            } else {
                                AgeCheck::Unknown
                            },
                            ms,
                            dmts: if k == 0 { dmt_courses() } else { vec![] },
                            counted_ingredients: if k == 0 {
                                vec!["interferon beta-1a".into(), "fingolimod".into()]
                            } else {
                                vec![]
                            },
                            required: 2,
                            failed: failed.clone(),
                            unconfirmed: unconfirmed.clone(),
                        }),
                    ));
                }
            }
        }
        // R1, warnings only (every criterion met).
        for w in initiation_warnings() {
            out.push(finding(
                RuleCode::InitiationEligibility,
                Severity::Warning,
                Detail::Initiation(InitiationDetail {
                    unrecognised_medications: vec![],
                    warnings: vec![w],
                    profile,
                    age: AgeCheck::Known {
                        years: 30,
                        birth_date: d(1994, 1, 1),
                    },
                    ms: ms_checks().remove(0),
                    dmts: vec![],
                    counted_ingredients: vec!["teriflunomide".into(), "natalizumab".into()],
                    required: 2,
                    failed: vec![],
                    unconfirmed: vec![],
                }),
            ));
        }
        // R2
        for bp in [
            None,
            Some(BloodPressureFact {
                reference: "Observation/bp1".into(),
                systolic: Some(135.0),
                diastolic: Some(85.5),
                date: Some(d(2024, 3, 1)),
            }),
            Some(BloodPressureFact {
                reference: "Observation/bp2".into(),
                systolic: None,
                diastolic: Some(f64::NAN),
                date: None,
            }),
        ] {
            out.push(finding(
                RuleCode::InfusionMonitoring,
                Severity::Info,
                Detail::InfusionMonitoring(InfusionMonitoringDetail {
                    profile,
                    last_blood_pressure: bp,
                }),
            ));
        }
        // R3
        let mut situations = Vec::new();
        for mask in 0..8u8 {
            let missing: Vec<LabTest> = LabTest::PANEL
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, t)| *t)
                .collect();
            situations.push(LiverSituation::PanelMissingBeforeOrder {
                missing,
                max_age_days: 30,
            });
        }
        for last_panel in [None, Some(d(2023, 12, 1))] {
            situations.push(LiverSituation::MonitoringOverdue {
                last_infusion: d(2022, 1, 10),
                monitor_until: d(2026, 1, 10),
                last_panel,
                interval_days: 31,
            });
        }
        situations.push(LiverSituation::Abnormal { results: vec![] });
        for last_panel in [None, Some(d(2023, 12, 1))] {
            situations.push(LiverSituation::MonitoringUndated { last_panel });
        }
        situations.push(LiverSituation::NotInterpretable { results: vec![] });
        situations.push(LiverSituation::NotInterpretable {
            results: labs_every_shape(),
        });
        situations.push(LiverSituation::Abnormal {
            results: labs_every_shape(),
        });
        for test in LabTest::PANEL {
            situations.push(LiverSituation::Abnormal {
                results: vec![lab(test, Some(99.0), None)],
            });
        }
        for situation in situations {
            for (latest, exposed) in [
                (vec![], false),
                (labs_every_shape(), false),
                (labs_every_shape(), true),
            ] {
                out.push(finding(
                    RuleCode::LiverFunction,
                    Severity::Warning,
                    Detail::Liver(LiverDetail {
                        exposed,
                        profile,
                        situation: situation.clone(),
                        latest,
                    }),
                ));
            }
        }
        // R4
        let mut signals: Vec<ReAdministrationSignal> = Vec::new();
        for l in labs_every_shape() {
            signals.push(ReAdministrationSignal::LiverLab {
                lab: l.clone(),
                factor: 3.0,
            });
            signals.push(ReAdministrationSignal::LabNotAssessable { lab: l });
        }
        signals.push(ReAdministrationSignal::HysLaw {
            transaminase: lab(LabTest::Alt, Some(200.0), None),
            bilirubin: lab(LabTest::TotalBilirubin, Some(50.0), None),
        });
        for (i, reaction) in REACTIONS.iter().enumerate() {
            signals.push(ReAdministrationSignal::Diagnosis {
                reaction: *reaction,
                label: format!("Diagnostic {i} _x_"),
                onset: (i % 2 == 0).then(|| d(2023, 1, 1)),
                reference: format!("Condition/c{i}"),
            });
        }
        signals.push(ReAdministrationSignal::CourseInterval {
            last_course_end: d(2023, 9, 1),
            months: 6,
            minimum_months: 12,
        });
        for course_number in [1, 2, 4] {
            signals.push(ReAdministrationSignal::CourseDayCount {
                course_start: d(2024, 3, 11),
                day: if course_number == 1 { 6 } else { 4 },
                allowed_days: if course_number == 1 { 5 } else { 3 },
                course_number,
            });
        }
        signals.push(ReAdministrationSignal::FifthCourse { course_number: 5 });
        signals.push(ReAdministrationSignal::ConcurrentDmtDraft {
            reference: "MedicationRequest/gil".into(),
            label: "Gilenya 0,5 mg".into(),
        });
        let mut sets: Vec<Vec<ReAdministrationSignal>> =
            signals.iter().map(|s| vec![s.clone()]).collect();
        sets.push(signals.clone());
        sets.push(vec![]);
        for set in sets {
            for severity in [Severity::Critical, Severity::Warning] {
                out.push(finding(
                    RuleCode::ReAdministration,
                    severity,
                    Detail::ReAdministration(ReAdministrationDetail {
                        weak_evidence: if set.len() == 1 {
                            vec![]
                        } else {
                            WHYS.iter().map(|w| weak(*w)).collect()
                        },
                        profile,
                        first_exposure: Some(d(2021, 1, 4)),
                        last_exposure: None,
                        courses: 2,
                        signals: set.clone(),
                    }),
                ));
            }
        }
        // R5
        out.push(finding(
            RuleCode::PatientCounselling,
            Severity::Info,
            Detail::Counselling(CounsellingDetail { profile }),
        ));
        // Contraindications
        let evidence = [
            ContraindicationEvidence::Condition {
                reference: "Condition/ci".into(),
                label: "Accident vasculaire cérébral".into(),
                onset: Some(d(2015, 4, 2)),
            },
            ContraindicationEvidence::Medication {
                reference: "MedicationStatement/asp".into(),
                label: "Kardégic 75 mg".into(),
                start: None,
            },
            ContraindicationEvidence::Allergy {
                reference: "AllergyIntolerance/a1".into(),
                label: "Allergie à l'alemtuzumab".into(),
                onset: Some(d(2020, 5, 6)),
            },
            ContraindicationEvidence::DraftOrder {
                reference: "MedicationRequest/apix".into(),
                label: "Eliquis 5 mg".into(),
            },
            ContraindicationEvidence::BloodPressure {
                reading: BloodPressureFact {
                    reference: "Observation/bp".into(),
                    systolic: Some(172.0),
                    diastolic: Some(104.0),
                    date: Some(d(2024, 3, 10)),
                },
                systolic_threshold: 160.0,
                diastolic_threshold: f64::NAN,
            },
        ];
        let mut all_items = Vec::new();
        for kind in KINDS {
            for ev in &evidence {
                let item = ContraindicationItem {
                    kind,
                    evidence: ev.clone(),
                };
                all_items.push(item.clone());
                out.push(finding(
                    RuleCode::Contraindication,
                    Severity::Critical,
                    Detail::Contraindication(ContraindicationDetail {
                        profile,
                        items: vec![item],
                    }),
                ));
            }
        }
        for items in [all_items, vec![]] {
            out.push(finding(
                RuleCode::Contraindication,
                Severity::Critical,
                Detail::Contraindication(ContraindicationDetail { profile, items }),
            ));
        }
    }
    // Data unavailable (no profile of its own).
    for data in data_sets() {
        for reason in gap_reasons() {
            for blocked in [
                data.blocks().to_vec(),
                RuleCode::ALL.to_vec(),
                vec![],
                vec![RuleCode::LiverFunction, RuleCode::LiverFunction],
            ] {
                out.push(finding(
                    RuleCode::DataUnavailable,
                    Severity::Warning,
                    Detail::DataUnavailable(DataUnavailableDetail {
                        gap: DataGap {
                            data: data.clone(),
                            reason: reason.clone(),
                        },
                        blocked,
                    }),
                ));
            }
        }
    }
    out
}

fn has_null(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.iter().any(has_null),
        serde_json::Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

fn settings(language: Language) -> CardSettings {
    CardSettings {
        language,
        ..CardSettings::default()
    }
}

fn render1(f: &Finding, language: Language) -> (String, Card) {
    render_one(f, "patient-1", &settings(language), Profile::Ansm2019)
}

fn codes(card: &Card) -> Vec<&str> {
    card.override_reasons
        .iter()
        .map(|c| c.code.as_str())
        .collect()
}

#[test]
fn every_finding_renders_valid_cards_in_both_languages() {
    let findings = all_findings();
    assert!(findings.len() > 1000, "{}", findings.len());
    for f in &findings {
        for lang in LANGS {
            let (raw, card) = render1(f, lang);
            if let Err(e) = check_card(&card) {
                panic!("{e}\n{f:?}\n{card:#?}");
            }
            assert!(
                raw.chars().count() <= SUMMARY_MAX_CHARS,
                "{} chars, relies on truncation: {raw}",
                raw.chars().count()
            );
            assert_eq!(raw, card.summary, "summary was altered");
            let detail = card.detail.as_deref().unwrap();
            if f.order.is_some() {
                assert!(
                    detail.contains("MedicationRequest/mr\\-42")
                        || detail.contains("MedicationRequest/mr-42")
                );
                let date = match lang {
                    Language::Fr => "15/03/2024",
                    Language::En => "2024-03-15",
                };
                assert!(detail.contains(date), "order date missing");
            }
            assert!(!detail.contains("\n\n\n"));
            assert!(!has_null(&serde_json::to_value(&card).unwrap()));
        }
    }
}

#[test]
fn summaries_are_natural_length_everywhere() {
    // The longest summary of each rule, in each language, for review.
    for lang in LANGS {
        let mut longest: Vec<(usize, String)> = Vec::new();
        for f in all_findings() {
            let (raw, _) = render1(&f, lang);
            longest.push((raw.chars().count(), raw));
        }
        longest.sort();
        longest.dedup();
        if std::env::var("PRINT_SUMMARIES").is_ok() {
            for (n, s) in &longest {
                println!("{n:3} {s}");
            }
        }
        let (n, s) = longest.last().unwrap();
        assert!(*n <= SUMMARY_MAX_CHARS, "{s}");
    }
}

#[test]
fn critical_initiation_card_deletes_the_order_and_offers_reasons() {
    for profile in PROFILES {
        let f = finding(
            RuleCode::InitiationEligibility,
            Severity::Critical,
            Detail::Initiation(InitiationDetail {
                unrecognised_medications: vec![],
                warnings: vec![],
                profile,
                age: AgeCheck::Known {
                    years: 34,
                    birth_date: d(1990, 1, 1),
                },
                ms: ms_checks().remove(0),
                dmts: dmt_courses(),
                counted_ingredients: vec!["interferon beta-1a".into()],
                required: 2,
                failed: vec![Criterion::PriorDmts],
                unconfirmed: vec![],
            }),
        );
        let fr = render1(&f, Language::Fr).1;
        let en = render1(&f, Language::En).1;
        for card in [&fr, &en] {
            assert_eq!(card.indicator, Indicator::Critical);
            assert_eq!(card.selection_behavior, Some(SelectionBehavior::AtMostOne));
            assert_eq!(card.suggestions.len(), 1);
            let action = &card.suggestions[0].actions[0];
            assert_eq!(action.kind, ActionType::Delete);
            assert_eq!(
                action.resource_id.as_deref(),
                Some("MedicationRequest/mr-42")
            );
            let topic = card.source.topic.as_ref().unwrap();
            assert_eq!(topic.system.as_deref(), Some(DEFAULT_TOPIC_SYSTEM));
            assert_eq!(topic.code, "initiation-eligibility");
            for r in &card.override_reasons {
                assert_eq!(r.system.as_deref(), Some(DEFAULT_OVERRIDE_REASON_SYSTEM));
            }
        }
        let expected = match profile {
            Profile::Ansm2019 => vec![
                "all-other-dmts-contraindicated",
                "dmt-history-outside-record",
                "other-documented",
            ],
            Profile::Ema2020 => vec![
                "rapidly-evolving-severe-rrms",
                "dmt-history-outside-record",
                "other-documented",
            ],
        };
        assert_eq!(codes(&fr), expected);
        assert_eq!(codes(&en), expected, "codes are stable across languages");
        assert_ne!(
            fr.override_reasons[0].display,
            en.override_reasons[0].display
        );
        assert_eq!(
            fr.suggestions[0].label,
            "Annuler la prescription de l'alemtuzumab"
        );
        assert_eq!(en.suggestions[0].label, "Cancel the alemtuzumab order");
        let label = match profile {
            Profile::Ansm2019 => "Alemtuzumab safety (ANSM 2019)",
            Profile::Ema2020 => "Alemtuzumab safety (EMA 2020)",
        };
        assert_eq!(en.source.label, label);
        if profile == Profile::Ansm2019 {
            assert_eq!(
                en.override_reasons[0].display.as_deref(),
                Some("All other DMTs contraindicated or unsuitable")
            );
        }
        let detail = fr.detail.unwrap();
        for needle in [
            "R1",
            "traitement de fond",
            "sclérose en plaques rémittente-récurrente (SEP-RR)",
            "01/01/2018",
            "01/06/2019",
            "17 mois",
            "arrêté pour inefficacité",
            "non compté",
            "Avonex\\_00 \\*30 µg\\*",
        ] {
            assert!(detail.contains(needle), "{needle} not in {detail}");
        }
    }
}

#[test]
fn warning_initiation_card_offers_reasons_but_no_delete() {
    let f = finding(
        RuleCode::InitiationEligibility,
        Severity::Warning,
        Detail::Initiation(InitiationDetail {
            unrecognised_medications: vec![],
            warnings: vec![],
            profile: Profile::Ansm2019,
            age: AgeCheck::Unknown,
            ms: MsCheck::Unspecified {
                labels: vec!["G35".into()],
            },
            dmts: vec![],
            counted_ingredients: vec![],
            required: 2,
            failed: vec![],
            unconfirmed: vec![Criterion::Adult, Criterion::RelapsingRemittingMs],
        }),
    );
    for lang in LANGS {
        let card = render1(&f, lang).1;
        assert_eq!(card.indicator, Indicator::Warning);
        assert!(card.suggestions.is_empty());
        assert!(card.selection_behavior.is_none());
        assert!(codes(&card).contains(&"criteria-confirmed-documented"));
        check_card(&card).unwrap();
    }
    // A failed criterion is never shown below critical, whatever the severity says.
    let mut f2 = f.clone();
    if let Detail::Initiation(d) = &mut f2.detail {
        d.failed = vec![Criterion::Adult];
    }
    assert_eq!(render1(&f2, Language::En).1.indicator, Indicator::Critical);
}

#[test]
fn readministration_and_contraindication_reasons() {
    let r4 = finding(
        RuleCode::ReAdministration,
        Severity::Critical,
        Detail::ReAdministration(ReAdministrationDetail {
            weak_evidence: vec![],
            profile: Profile::Ema2020,
            first_exposure: Some(d(2020, 1, 1)),
            last_exposure: Some(d(2021, 1, 3)),
            courses: 2,
            signals: vec![ReAdministrationSignal::HysLaw {
                transaminase: lab(
                    LabTest::Alt,
                    Some(150.0),
                    Some(Uln {
                        value: 40.0,
                        source: UlnSource::ConfiguredDefault,
                    }),
                ),
                bilirubin: lab(LabTest::TotalBilirubin, Some(50.0), None),
            }],
        }),
    );
    let en = render1(&r4, Language::En).1;
    assert_eq!(
        codes(&en),
        vec!["rigorous-evaluation-documented", "other-documented"]
    );
    assert_eq!(
        en.override_reasons[0].display.as_deref(),
        Some("Rigorous evaluation done and documented")
    );
    assert_eq!(en.suggestions[0].actions[0].kind, ActionType::Delete);
    let detail = en.detail.unwrap();
    assert!(detail.contains("Hy's law"), "{detail}");
    assert!(detail.contains("ULN 40 U/L by default"), "{detail}");
    assert!(detail.contains("3.8 × ULN"), "{detail}");
    let fr = render1(&r4, Language::Fr).1.detail.unwrap();
    assert!(
        fr.contains("Loi de Hy") && fr.contains("LSN par défaut 40 U/L"),
        "{fr}"
    );
    assert!(fr.contains("3,8 × LSN"), "{fr}");

    let ci = finding(
        RuleCode::Contraindication,
        Severity::Critical,
        Detail::Contraindication(ContraindicationDetail {
            profile: Profile::Ema2020,
            items: vec![ContraindicationItem {
                kind: ContraindicationKind::Stroke,
                evidence: ContraindicationEvidence::Condition {
                    reference: "Condition/1".into(),
                    label: "AVC ischémique".into(),
                    onset: Some(d(2019, 2, 3)),
                },
            }],
        }),
    );
    let card = render1(&ci, Language::Fr).1;
    assert_eq!(
        codes(&card),
        vec!["benefit-risk-documented", "other-documented"],
        "a stroke history does not resolve"
    );
    assert_eq!(
        card.suggestions[0].actions[0].resource_id.as_deref(),
        Some("MedicationRequest/mr-42")
    );
    assert!(card.detail.unwrap().contains("03/02/2019"));
}

#[test]
fn missing_liver_panel_suggests_a_service_request() {
    for situation in [
        LiverSituation::PanelMissingBeforeOrder {
            missing: vec![LabTest::Ast],
            max_age_days: 30,
        },
        LiverSituation::MonitoringOverdue {
            last_infusion: d(2023, 1, 1),
            monitor_until: d(2027, 1, 1),
            last_panel: None,
            interval_days: 31,
        },
    ] {
        let f = finding(
            RuleCode::LiverFunction,
            Severity::Warning,
            Detail::Liver(LiverDetail {
                exposed: false,
                profile: Profile::Ansm2019,
                situation,
                latest: labs_every_shape(),
            }),
        );
        for lang in LANGS {
            let card = render1(&f, lang).1;
            check_card(&card).unwrap();
            assert_eq!(card.indicator, Indicator::Warning);
            assert_eq!(card.selection_behavior, Some(SelectionBehavior::AtMostOne));
            let action = &card.suggestions[0].actions[0];
            assert_eq!(action.kind, ActionType::Create);
            let r = action.resource.as_ref().unwrap();
            assert_eq!(r["resourceType"], "ServiceRequest");
            assert_eq!(r["status"], "draft");
            assert_eq!(r["intent"], "order");
            assert_eq!(r["subject"]["reference"], "Patient/patient-1");
            assert_eq!(r["code"]["coding"][0]["system"], "http://loinc.org");
            assert_eq!(r["code"]["coding"][0]["code"], "24325-3");
            let text = r["code"]["text"].as_str().unwrap();
            for loinc in ["1742-6", "1920-8", "1975-2"] {
                assert!(text.contains(loinc));
            }
        }
        // No usable patient id: no suggestion, the card says to order by hand.
        let card = render_one(&f, "bad id/1", &settings(Language::Fr), Profile::Ansm2019).1;
        check_card(&card).unwrap();
        assert!(card.suggestions.is_empty() && card.selection_behavior.is_none());
    }
}

#[test]
fn abnormal_liver_results_show_value_unit_date_and_range() {
    let f = finding(
        RuleCode::LiverFunction,
        Severity::Critical, // not allowed for liver-function: shown as warning
        Detail::Liver(LiverDetail {
            exposed: false,
            profile: Profile::Ansm2019,
            situation: LiverSituation::Abnormal {
                results: vec![lab(
                    LabTest::Alt,
                    Some(130.0),
                    Some(Uln {
                        value: 40.0,
                        source: UlnSource::ReferenceRange,
                    }),
                )],
            },
            latest: vec![],
        }),
    );
    let card = render1(&f, Language::Fr).1;
    assert_eq!(card.indicator, Indicator::Warning);
    assert!(card.suggestions.is_empty());
    let detail = card.detail.unwrap();
    assert!(
        detail.contains("ALAT : 130 U/L le 01/02/2024 ; LSN 40 U/L (intervalle de référence du laboratoire), soit 3,3 × LSN"),
        "{detail}"
    );
    assert!(card.summary.contains("Bilan hépatique anormal"));
}

#[test]
fn data_unavailable_names_rule_and_data() {
    let f = Finding {
        rule: RuleCode::DataUnavailable,
        severity: Severity::Warning,
        order: None,
        detail: Detail::DataUnavailable(DataUnavailableDetail {
            gap: DataGap {
                data: DataSet::Conditions,
                reason: GapReason::Timeout,
            },
            blocked: DataSet::Conditions.blocks().to_vec(),
        }),
    };
    let fr = render1(&f, Language::Fr).1;
    assert_eq!(fr.indicator, Indicator::Warning);
    assert!(
        fr.summary.contains("diagnostics") && fr.summary.contains("R1"),
        "{}",
        fr.summary
    );
    let en = render1(&f, Language::En).1;
    assert!(
        en.summary.contains("diagnoses") && en.summary.contains("R4"),
        "{}",
        en.summary
    );
    assert!(en.detail.unwrap().contains("did not answer in time"));
    // Its profile is taken from the other findings of the batch.
    let other = finding(
        RuleCode::PatientCounselling,
        Severity::Info,
        Detail::Counselling(CounsellingDetail {
            profile: Profile::Ema2020,
        }),
    );
    let cards = render(&[f, other], "p", &settings(Language::En));
    assert_eq!(cards[0].source.label, "Alemtuzumab safety (EMA 2020)");
    assert_eq!(
        cards[1].source.topic.as_ref().unwrap().code,
        "patient-counselling"
    );
}

#[test]
fn counselling_and_monitoring_carry_the_clinical_content() {
    for profile in PROFILES {
        let r5 = finding(
            RuleCode::PatientCounselling,
            Severity::Info,
            Detail::Counselling(CounsellingDetail { profile }),
        );
        let fr = render1(&r5, Language::Fr).1.detail.unwrap();
        for needle in [
            "douleur thoracique",
            "1 à 3 jours",
            "4 ans",
            "jaunisse",
            "carte d'alerte patient",
            "fièvre",
        ] {
            assert!(fr.contains(needle), "{needle}");
        }
        let en = render1(&r5, Language::En).1.detail.unwrap();
        for needle in [
            "chest pain",
            "shortness of breath",
            "coughing up blood",
            "dark urine",
            "swollen glands",
        ] {
            assert!(en.contains(needle), "{needle}");
        }
        let r2 = finding(
            RuleCode::InfusionMonitoring,
            Severity::Info,
            Detail::InfusionMonitoring(InfusionMonitoringDetail {
                profile,
                last_blood_pressure: None,
            }),
        );
        let en = render1(&r2, Language::En).1.detail.unwrap();
        assert!(en.contains("at least hourly") && en.contains("ECG") && en.contains("2 hours"));
        assert_eq!(en.contains("intensive care"), profile == Profile::Ema2020);
    }
}

#[test]
fn long_and_hostile_ehr_text_is_escaped_and_capped() {
    let long = "A*[x](javascript:alert(1))<img>|#".repeat(20);
    assert!(long.chars().count() >= 500);
    let mut o = order();
    o.label = long.clone();
    let f = Finding {
        order: Some(o),
        ..finding(
            RuleCode::InitiationEligibility,
            Severity::Critical,
            Detail::Initiation(InitiationDetail {
                unrecognised_medications: vec![],
                warnings: vec![],
                profile: Profile::Ansm2019,
                age: AgeCheck::Unknown,
                ms: MsCheck::RelapsingRemitting {
                    label: long.clone(),
                },
                dmts: vec![],
                counted_ingredients: vec![long.clone()],
                required: 2,
                failed: vec![Criterion::PriorDmts],
                unconfirmed: vec![],
            }),
        )
    };
    for lang in LANGS {
        let (raw, card) = render1(&f, lang);
        check_card(&card).unwrap();
        assert!(raw.chars().count() <= SUMMARY_MAX_CHARS);
        let detail = card.detail.unwrap();
        assert!(!detail.contains("](javascript"), "link not escaped");
        assert!(!detail.contains("<img>"));
        assert!(detail.contains("\\[x\\]"));
    }
}

#[test]
fn unusable_order_reference_gets_no_delete() {
    let mut f = finding(
        RuleCode::Contraindication,
        Severity::Critical,
        Detail::Contraindication(ContraindicationDetail {
            profile: Profile::Ema2020,
            items: vec![],
        }),
    );
    if let Some(o) = &mut f.order {
        o.reference = "MedicationRequest".into();
    }
    let card = render1(&f, Language::En).1;
    check_card(&card).unwrap();
    assert!(card.suggestions.is_empty());
    assert!(!card.override_reasons.is_empty());
    assert!(card.detail.unwrap().contains("cancel the order by hand"));
}

#[test]
fn detail_decides_the_topic_when_rule_disagrees() {
    let f = finding(
        RuleCode::LiverFunction,
        Severity::Info,
        Detail::Counselling(CounsellingDetail {
            profile: Profile::Ansm2019,
        }),
    );
    let card = render1(&f, Language::Fr).1;
    assert_eq!(card.source.topic.unwrap().code, "patient-counselling");
}

#[test]
fn serialised_response_has_no_null_and_unique_uuids() {
    let findings = all_findings();
    for lang in LANGS {
        let cards = render(&findings, "patient-1", &settings(lang));
        assert_eq!(cards.len(), findings.len());
        let mut uuids: Vec<String> = cards.iter().filter_map(|c| c.uuid.clone()).collect();
        uuids.extend(
            cards
                .iter()
                .flat_map(|c| c.suggestions.iter().filter_map(|s| s.uuid.clone())),
        );
        let n = uuids.len();
        uuids.sort();
        uuids.dedup();
        assert_eq!(uuids.len(), n);
        let json = serde_json::to_value(CdsResponse {
            cards,
            system_actions: vec![],
        })
        .unwrap();
        assert!(!has_null(&json));
    }
}

/// Issue 12 item 4: every card links its profile's source, the configured URL or the default.
#[test]
fn source_url_links_the_profiles_reference_document_and_is_configurable() {
    let defaults = CardSettings::default();
    let custom = CardSettings {
        source_url_ansm_2019: "https://intranet.hopital.example/ansm-2019.pdf".into(),
        source_url_ema_2020: " https://intranet.hopital.example/ema-2020.pdf ".into(),
        ..CardSettings::default()
    };
    let blank = CardSettings {
        source_url_ansm_2019: " ".into(),
        source_url_ema_2020: String::new(),
        ..CardSettings::default()
    };
    let mut seen = std::collections::HashSet::new();
    for f in all_findings() {
        let profile = match &f.detail {
            Detail::Initiation(d) => d.profile,
            Detail::InfusionMonitoring(d) => d.profile,
            Detail::Liver(d) => d.profile,
            Detail::ReAdministration(d) => d.profile,
            Detail::Counselling(d) => d.profile,
            Detail::Contraindication(d) => d.profile,
            Detail::DataUnavailable(_) => continue,
        };
        seen.insert(profile);
        let (default_url, custom_url) = match profile {
            Profile::Ansm2019 => (
                DEFAULT_SOURCE_URL_ANSM_2019,
                "https://intranet.hopital.example/ansm-2019.pdf",
            ),
            Profile::Ema2020 => (
                DEFAULT_SOURCE_URL_EMA_2020,
                "https://intranet.hopital.example/ema-2020.pdf",
            ),
        };
        for l in LANGS {
            let s = CardSettings {
                language: l,
                ..defaults.clone()
            };
            let card = render_one(&f, "p", &s, Profile::Ansm2019).1;
            assert_eq!(card.source.url.as_deref(), Some(default_url));
            check_card(&card).unwrap();
        }
        let card = render_one(&f, "p", &custom, Profile::Ansm2019).1;
        assert_eq!(card.source.url.as_deref(), Some(custom_url), "trimmed");
        // Never an empty string (CDS Hooks 2.0.1): a blank setting falls back to the default.
        let card = render_one(&f, "p", &blank, Profile::Ansm2019).1;
        assert_eq!(card.source.url.as_deref(), Some(default_url));
    }
    assert_eq!(seen.len(), 2, "both profiles exercised");
    assert!(DEFAULT_SOURCE_URL_ANSM_2019.starts_with("https://ansm.sante.fr/"));
    assert!(DEFAULT_SOURCE_URL_EMA_2020.starts_with("https://www.ema.europa.eu/"));
    // A data-unavailable card links the source of the profile it is rendered under.
    let gap = all_findings()
        .into_iter()
        .find(|f| matches!(f.detail, Detail::DataUnavailable(_)));
    if let Some(gap) = gap {
        let card = render_one(&gap, "p", &custom, Profile::Ema2020).1;
        assert_eq!(
            card.source.url.as_deref(),
            Some("https://intranet.hopital.example/ema-2020.pdf")
        );
    }
    // check_card refuses a card whose source.url is missing, blank or relative.
    let mut card = render_one(&all_findings()[0], "p", &defaults, Profile::Ansm2019).1;
    for bad in [None, Some(""), Some("lemtrada.pdf")] {
        card.source.url = bad.map(str::to_owned);
        assert!(check_card(&card).is_err(), "{bad:?}");
    }
}

#[test]
fn language_and_settings() {
    assert_eq!(Language::parse("fr"), Some(Language::Fr));
    assert_eq!(Language::parse("en"), Some(Language::En));
    assert_eq!(Language::parse("de"), None);
    for l in LANGS {
        assert_eq!(Language::parse(l.as_str()), Some(l));
    }
    let s = CardSettings::default();
    assert_eq!(s.language, Language::Fr);
    assert_eq!(s.topic_system, "urn:alemtuzumab-cds:rule");
    assert_eq!(
        s.override_reason_system,
        "urn:alemtuzumab-cds:override-reason"
    );
    assert_eq!(s.liver_panel_code, Code::new("http://loinc.org", "24325-3"));
    // Custom systems are used.
    let custom = CardSettings {
        topic_system: "https://hospital.example/rules".into(),
        override_reason_system: "https://hospital.example/reasons".into(),
        ..CardSettings::default()
    };
    let f = &all_findings()[0];
    let card = render_one(f, "p", &custom, Profile::Ansm2019).1;
    assert_eq!(
        card.source.topic.unwrap().system.as_deref(),
        Some("https://hospital.example/rules")
    );
    assert_eq!(
        card.override_reasons[0].system.as_deref(),
        Some("https://hospital.example/reasons")
    );
    for r in OverrideReason::ALL {
        assert_eq!(OverrideReason::from_code(r.code()), Some(r));
        for l in LANGS {
            assert!(!text::for_language(l).override_display(r).is_empty());
            assert_eq!(r.display(l), text::for_language(l).override_display(r));
        }
    }
    assert_eq!(OverrideReason::from_code("not-relevant"), None);
}

#[test]
fn check_card_rejects_broken_cards() {
    let f = all_findings()
        .into_iter()
        .find(|f| f.severity == Severity::Critical)
        .unwrap();
    let good = render1(&f, Language::En).1;
    check_card(&good).unwrap();
    assert!(!good.suggestions.is_empty());
    type Breaker = Box<dyn Fn(&mut Card)>;
    let breakers: Vec<(&str, Breaker)> = vec![
        ("no uuid", Box::new(|c| c.uuid = None)),
        ("bad uuid", Box::new(|c| c.uuid = Some("x".into()))),
        ("empty summary", Box::new(|c| c.summary = " ".into())),
        ("long summary", Box::new(|c| c.summary = "a".repeat(140))),
        ("newline", Box::new(|c| c.summary = "a\nb".into())),
        ("no detail", Box::new(|c| c.detail = None)),
        ("no topic", Box::new(|c| c.source.topic = None)),
        ("blank label", Box::new(|c| c.source.label = String::new())),
        (
            "unknown code",
            Box::new(|c| {
                if let Some(t) = &mut c.source.topic {
                    t.code = "other".into();
                }
            }),
        ),
        (
            "no system",
            Box::new(|c| {
                if let Some(t) = &mut c.source.topic {
                    t.system = None;
                }
            }),
        ),
        (
            "info indicator",
            Box::new(|c| c.indicator = Indicator::Info),
        ),
        ("no selection", Box::new(|c| c.selection_behavior = None)),
        ("no reasons", Box::new(|c| c.override_reasons.clear())),
        (
            "reason without display",
            Box::new(|c| c.override_reasons[0].display = None),
        ),
        (
            "reason without system",
            Box::new(|c| c.override_reasons[0].system = None),
        ),
        (
            "repeated reason",
            Box::new(|c| {
                let r = c.override_reasons[0].clone();
                c.override_reasons.push(r);
            }),
        ),
        (
            "suggestion uuid",
            Box::new(|c| c.suggestions[0].uuid = None),
        ),
        (
            "same uuid",
            Box::new(|c| c.suggestions[0].uuid = c.uuid.clone()),
        ),
        ("no label", Box::new(|c| c.suggestions[0].label.clear())),
        ("no action", Box::new(|c| c.suggestions[0].actions.clear())),
        (
            "no resourceId",
            Box::new(|c| c.suggestions[0].actions[0].resource_id = None),
        ),
        (
            "wrong resource type",
            Box::new(|c| c.suggestions[0].actions[0].resource_id = Some("Patient/1".into())),
        ),
        (
            "create without resource",
            Box::new(|c| c.suggestions[0].actions[0].kind = ActionType::Create),
        ),
    ];
    for (name, breaker) in breakers {
        let mut card = good.clone();
        breaker(&mut card);
        assert!(check_card(&card).is_err(), "{name} was accepted");
    }
    // Liver: a create with a broken ServiceRequest.
    let liver = finding(
        RuleCode::LiverFunction,
        Severity::Warning,
        Detail::Liver(LiverDetail {
            exposed: false,
            profile: Profile::Ansm2019,
            situation: LiverSituation::PanelMissingBeforeOrder {
                missing: vec![],
                max_age_days: 30,
            },
            latest: vec![],
        }),
    );
    let good = render1(&liver, Language::Fr).1;
    check_card(&good).unwrap();
    for field in ["status", "intent", "code", "subject"] {
        let mut card = good.clone();
        if let Some(r) = card.suggestions[0].actions[0].resource.as_mut() {
            r.as_object_mut().unwrap().remove(field);
        }
        assert!(
            check_card(&card).is_err(),
            "ServiceRequest without {field} accepted"
        );
    }
    let mut card = good.clone();
    if let Some(r) = card.suggestions[0].actions[0].resource.as_mut() {
        r["note"] = serde_json::Value::Null;
    }
    assert!(check_card(&card).is_err(), "null accepted");
    let mut card = good;
    card.suggestions[0].actions[0].kind = ActionType::Delete;
    card.suggestions[0].actions[0].resource_id = Some("MedicationRequest/x".into());
    assert!(check_card(&card).is_err(), "delete on a warning accepted");
}

// ---------------------------------------------------------------------------------------------
// Property test: arbitrary findings never panic and always give valid cards.

fn arb_string() -> BoxedStrategy<String> {
    arb_string_inner().boxed()
}

fn arb_string_inner() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ".{0,40}",
        3 => "[*_`#\\[\\]()<>|!~&\\\\\n\r\t .:0-9a-zé=+-]{0,40}",
        1 => Just(String::new()),
        1 => ".{130,520}",
    ]
}

fn arb_date() -> impl Strategy<Value = NaiveDate> {
    (-3000i32..4000, 1u32..=365).prop_map(|(y, day)| NaiveDate::from_yo_opt(y, day).unwrap())
}

fn arb_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        -1000.0..1000.0f64,
    ]
}

fn arb_profile() -> impl Strategy<Value = Profile> {
    prop::sample::select(PROFILES.to_vec())
}

fn arb_lab() -> BoxedStrategy<LabValue> {
    arb_lab_inner().boxed()
}

fn arb_lab_inner() -> impl Strategy<Value = LabValue> {
    (
        arb_string(),
        prop::sample::select(LabTest::PANEL.to_vec()),
        prop::option::of(arb_f64()),
        prop::option::of(arb_string()),
        prop::option::of(arb_date()),
        prop::option::of((
            arb_f64(),
            prop::sample::select(vec![
                UlnSource::ReferenceRange,
                UlnSource::ConfiguredDefault,
            ]),
        )),
    )
        .prop_map(|(reference, test, value, unit, date, uln)| LabValue {
            converted_from: value.filter(|v| v.is_finite() && *v > 0.0).map(|v| {
                crate::rules::OriginalValue {
                    value: Some(v / 60.0),
                    unit: "µkat/L".into(),
                }
            }),
            reference,
            test,
            value,
            unit,
            date,
            uln: uln.map(|(value, source)| Uln { value, source }),
        })
}

fn arb_bp() -> BoxedStrategy<BloodPressureFact> {
    arb_bp_inner().boxed()
}

fn arb_bp_inner() -> impl Strategy<Value = BloodPressureFact> {
    (
        arb_string(),
        prop::option::of(arb_f64()),
        prop::option::of(arb_f64()),
        prop::option::of(arb_date()),
    )
        .prop_map(|(reference, systolic, diastolic, date)| BloodPressureFact {
            reference,
            systolic,
            diastolic,
            date,
        })
}

fn arb_criteria() -> impl Strategy<Value = Vec<Criterion>> {
    prop::collection::vec(prop::sample::select(CRITERIA.to_vec()), 0..5)
}

fn arb_dmt() -> BoxedStrategy<DmtCourse> {
    arb_dmt_inner().boxed()
}

fn arb_dmt_inner() -> impl Strategy<Value = DmtCourse> {
    (
        arb_string(),
        arb_string(),
        prop::sample::select(SOURCES.to_vec()),
        prop::option::of(arb_date()),
        prop::option::of(arb_date()),
        any::<bool>(),
        prop::option::of(any::<u32>()),
        prop::sample::select(STOPS.to_vec()),
        prop::sample::select(STATUSES.to_vec()),
    )
        .prop_map(
            |(ingredient, label, source, start, end, ongoing, months, stop_reason, status)| {
                DmtCourse {
                    ingredient,
                    label,
                    source,
                    start,
                    end,
                    ongoing,
                    months,
                    stop_reason,
                    status,
                }
            },
        )
}

fn arb_ms() -> BoxedStrategy<MsCheck> {
    arb_ms_inner().boxed()
}

fn arb_ms_inner() -> impl Strategy<Value = MsCheck> {
    prop_oneof![
        arb_string().prop_map(|label| MsCheck::RelapsingRemitting { label }),
        (
            prop::collection::vec(arb_string(), 0..4),
            prop::collection::vec(arb_string(), 0..3)
        )
            .prop_map(|(labels, earlier_rrms)| MsCheck::OnlyProgressive {
                earlier_rrms,
                labels
            }),
        (
            prop::collection::vec(arb_string(), 0..3),
            prop::collection::vec(arb_string(), 0..3)
        )
            .prop_map(|(rrms, progressive)| MsCheck::Conflicting { rrms, progressive }),
        prop::collection::vec(arb_string(), 0..3)
            .prop_map(|unrecognised| MsCheck::NoDiagnosis { unrecognised }),
        prop::collection::vec(arb_string(), 0..4)
            .prop_map(|labels| MsCheck::Unspecified { labels }),
        Just(MsCheck::NoDiagnosis {
            unrecognised: vec![]
        }),
        Just(MsCheck::Unknown),
    ]
}

fn arb_initiation() -> BoxedStrategy<Detail> {
    arb_initiation_inner().boxed()
}

fn arb_initiation_inner() -> impl Strategy<Value = Detail> {
    (
        arb_profile(),
        prop_oneof![
            Just(AgeCheck::Unknown),
            (any::<u32>(), arb_date())
                .prop_map(|(years, birth_date)| AgeCheck::Known { years, birth_date }),
        ],
        arb_ms(),
        prop::collection::vec(arb_dmt(), 0..6),
        prop::collection::vec(arb_string(), 0..6),
        any::<u32>(),
        arb_criteria(),
        arb_criteria(),
        (
            prop::collection::vec(arb_string(), 0..3),
            prop::collection::vec(arb_init_warning(), 0..4),
        ),
    )
        .prop_map(
            |(
                profile,
                age,
                ms,
                dmts,
                counted_ingredients,
                required,
                failed,
                unconfirmed,
                (unrecognised_medications, warnings),
            )| {
                Detail::Initiation(InitiationDetail {
                    unrecognised_medications,
                    warnings,
                    profile,
                    age,
                    ms,
                    dmts,
                    counted_ingredients,
                    required,
                    failed,
                    unconfirmed,
                })
            },
        )
}

fn arb_weak() -> BoxedStrategy<WeakExposure> {
    (
        arb_string(),
        arb_string(),
        prop::sample::select(SOURCES.to_vec()),
        prop::option::of(arb_date()),
        prop::sample::select(WHYS.to_vec()),
    )
        .prop_map(|(reference, label, source, date, why)| WeakExposure {
            reference,
            label,
            source,
            date,
            why,
        })
        .boxed()
}

fn arb_init_warning() -> BoxedStrategy<InitiationWarning> {
    prop_oneof![
        arb_weak().prop_map(InitiationWarning::WeakExposure),
        (
            prop::sample::select(REACTIONS.to_vec()),
            arb_string(),
            prop::option::of(arb_date()),
            arb_string()
        )
            .prop_map(|(reaction, label, onset, reference)| {
                InitiationWarning::ImmuneReactionOnRecord {
                    reaction,
                    label,
                    onset,
                    reference,
                }
            }),
        (arb_string(), arb_string()).prop_map(|(reference, label)| {
            InitiationWarning::ConcurrentDmtDraft { reference, label }
        }),
    ]
    .boxed()
}

fn arb_liver() -> BoxedStrategy<Detail> {
    arb_liver_inner().boxed()
}

fn arb_liver_inner() -> impl Strategy<Value = Detail> {
    let situation = prop_oneof![
        (
            prop::collection::vec(prop::sample::select(LabTest::PANEL.to_vec()), 0..5),
            any::<u32>()
        )
            .prop_map(
                |(missing, max_age_days)| LiverSituation::PanelMissingBeforeOrder {
                    missing,
                    max_age_days
                }
            ),
        (
            arb_date(),
            arb_date(),
            prop::option::of(arb_date()),
            any::<u32>()
        )
            .prop_map(
                |(last_infusion, monitor_until, last_panel, interval_days)| {
                    LiverSituation::MonitoringOverdue {
                        last_infusion,
                        monitor_until,
                        last_panel,
                        interval_days,
                    }
                }
            ),
        prop::collection::vec(arb_lab(), 0..5)
            .prop_map(|results| LiverSituation::Abnormal { results }),
        prop::option::of(arb_date())
            .prop_map(|last_panel| LiverSituation::MonitoringUndated { last_panel }),
        prop::collection::vec(arb_lab(), 0..5)
            .prop_map(|results| LiverSituation::NotInterpretable { results }),
    ];
    (
        arb_profile(),
        situation,
        prop::collection::vec(arb_lab(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(profile, situation, latest, exposed)| {
            Detail::Liver(LiverDetail {
                exposed,
                profile,
                situation,
                latest,
            })
        })
}

fn arb_signal() -> BoxedStrategy<ReAdministrationSignal> {
    arb_signal_inner().boxed()
}

fn arb_signal_inner() -> impl Strategy<Value = ReAdministrationSignal> {
    prop_oneof![
        (arb_lab(), arb_f64())
            .prop_map(|(lab, factor)| ReAdministrationSignal::LiverLab { lab, factor }),
        (arb_lab(), arb_lab()).prop_map(|(transaminase, bilirubin)| {
            ReAdministrationSignal::HysLaw {
                transaminase,
                bilirubin,
            }
        }),
        arb_lab().prop_map(|lab| ReAdministrationSignal::LabNotAssessable { lab }),
        (
            prop::sample::select(REACTIONS.to_vec()),
            arb_string(),
            prop::option::of(arb_date()),
            arb_string()
        )
            .prop_map(|(reaction, label, onset, reference)| {
                ReAdministrationSignal::Diagnosis {
                    reaction,
                    label,
                    onset,
                    reference,
                }
            }),
        (arb_date(), any::<u32>(), any::<u32>()).prop_map(
            |(last_course_end, months, minimum_months)| ReAdministrationSignal::CourseInterval {
                last_course_end,
                months,
                minimum_months
            }
        ),
        (arb_date(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
            |(course_start, day, allowed_days, course_number)| {
                ReAdministrationSignal::CourseDayCount {
                    course_start,
                    day,
                    allowed_days,
                    course_number,
                }
            }
        ),
        any::<u32>()
            .prop_map(|course_number| ReAdministrationSignal::FifthCourse { course_number }),
        (arb_string(), arb_string()).prop_map(|(reference, label)| {
            ReAdministrationSignal::ConcurrentDmtDraft { reference, label }
        }),
    ]
}

fn arb_evidence() -> BoxedStrategy<ContraindicationEvidence> {
    arb_evidence_inner().boxed()
}

fn arb_evidence_inner() -> impl Strategy<Value = ContraindicationEvidence> {
    prop_oneof![
        (arb_string(), arb_string(), prop::option::of(arb_date())).prop_map(
            |(reference, label, onset)| ContraindicationEvidence::Condition {
                reference,
                label,
                onset
            }
        ),
        (arb_string(), arb_string(), prop::option::of(arb_date())).prop_map(
            |(reference, label, start)| ContraindicationEvidence::Medication {
                reference,
                label,
                start
            }
        ),
        (arb_string(), arb_string(), prop::option::of(arb_date())).prop_map(
            |(reference, label, onset)| ContraindicationEvidence::Allergy {
                reference,
                label,
                onset
            }
        ),
        (arb_string(), arb_string()).prop_map(|(reference, label)| {
            ContraindicationEvidence::DraftOrder { reference, label }
        }),
        (arb_bp(), arb_f64(), arb_f64()).prop_map(
            |(reading, systolic_threshold, diastolic_threshold)| {
                ContraindicationEvidence::BloodPressure {
                    reading,
                    systolic_threshold,
                    diastolic_threshold,
                }
            }
        ),
    ]
}

fn arb_gap() -> BoxedStrategy<DataGap> {
    arb_gap_inner().boxed()
}

fn arb_gap_inner() -> impl Strategy<Value = DataGap> {
    let data = prop_oneof![
        prop::sample::select(data_sets()),
        arb_string().prop_map(DataSet::Medication),
        arb_string().prop_map(DataSet::Resource),
    ];
    let reason = prop_oneof![
        prop::sample::select(gap_reasons()),
        any::<u16>().prop_map(GapReason::HttpStatus),
        any::<u32>().prop_map(GapReason::PageLimit),
        arb_string().prop_map(GapReason::OperationOutcome),
        arb_string().prop_map(GapReason::Unreadable),
        arb_string().prop_map(GapReason::ServerNotAllowed),
    ];
    (data, reason).prop_map(|(data, reason)| DataGap { data, reason })
}

fn arb_detail() -> BoxedStrategy<Detail> {
    arb_detail_inner().boxed()
}

fn arb_detail_inner() -> impl Strategy<Value = Detail> {
    prop_oneof![
        arb_initiation(),
        (arb_profile(), prop::option::of(arb_bp())).prop_map(|(profile, last_blood_pressure)| {
            Detail::InfusionMonitoring(InfusionMonitoringDetail {
                profile,
                last_blood_pressure,
            })
        }),
        arb_liver(),
        (
            arb_profile(),
            prop::option::of(arb_date()),
            prop::option::of(arb_date()),
            any::<u32>(),
            prop::collection::vec(arb_signal(), 0..6),
            prop::collection::vec(arb_weak(), 0..3),
        )
            .prop_map(
                |(profile, first_exposure, last_exposure, courses, signals, weak_evidence)| {
                    Detail::ReAdministration(ReAdministrationDetail {
                        weak_evidence,
                        profile,
                        first_exposure,
                        last_exposure,
                        courses,
                        signals,
                    })
                }
            ),
        arb_profile().prop_map(|profile| Detail::Counselling(CounsellingDetail { profile })),
        (
            arb_profile(),
            prop::collection::vec(
                (prop::sample::select(KINDS.to_vec()), arb_evidence())
                    .prop_map(|(kind, evidence)| ContraindicationItem { kind, evidence }),
                0..12
            )
        )
            .prop_map(|(profile, items)| {
                Detail::Contraindication(ContraindicationDetail { profile, items })
            }),
        (
            arb_gap(),
            prop::collection::vec(prop::sample::select(RuleCode::ALL.to_vec()), 0..10)
        )
            .prop_map(|(gap, blocked)| {
                Detail::DataUnavailable(DataUnavailableDetail { gap, blocked })
            }),
    ]
}

fn arb_finding() -> BoxedStrategy<Finding> {
    arb_finding_inner().boxed()
}

fn arb_finding_inner() -> impl Strategy<Value = Finding> {
    let order = prop::option::of(
        (
            prop_oneof!["MedicationRequest/[A-Za-z0-9.-]{1,64}", arb_string(),],
            arb_string(),
            arb_date(),
            prop::option::of(arb_date()),
            any::<bool>(),
        )
            .prop_map(
                |(reference, label, date, authored_on, identified_by_display)| OrderRef {
                    authored_on,
                    identified_by_display,
                    reference,
                    label,
                    date,
                },
            ),
    );
    (
        arb_detail(),
        prop::sample::select(vec![Severity::Info, Severity::Warning, Severity::Critical]),
        order,
        prop::option::of(prop::sample::select(RuleCode::ALL.to_vec())),
    )
        .prop_map(|(detail, severity, order, other_rule)| Finding {
            rule: other_rule.unwrap_or_else(|| rule_of(&detail)),
            severity,
            order,
            detail,
        })
}

fn check_arbitrary(
    findings: &[Finding],
    patient_id: &str,
    topic_system: &str,
) -> Result<(), TestCaseError> {
    for lang in LANGS {
        let s = CardSettings {
            language: lang,
            topic_system: topic_system.to_string(),
            ..CardSettings::default()
        };
        let cards = render(findings, patient_id, &s);
        prop_assert_eq!(cards.len(), findings.len());
        for (card, f) in cards.iter().zip(findings) {
            if let Err(e) = check_card(card) {
                return Err(TestCaseError::fail(format!("{e}\n{f:?}\n{card:#?}")));
            }
            prop_assert_eq!(
                &card.source.topic.as_ref().unwrap().code,
                rule_of(&f.detail).as_str()
            );
            prop_assert!(!has_null(&serde_json::to_value(card).unwrap()));
        }
    }
    Ok(())
}

/// Arbitrary findings (unicode and markdown text, any dates, NaN and infinite values, rules that
/// disagree with their detail) render in both languages without panicking and pass `check_card`.
/// Run on a thread with a large stack: the nested strategies are deep in debug builds.
#[test]
fn arbitrary_findings_render_valid_cards() {
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024 * 1024)
        .spawn(|| {
            let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
                cases: 300,
                ..ProptestConfig::default()
            });
            let strategy = (
                prop::collection::vec(arb_finding(), 0..4),
                prop_oneof!["[A-Za-z0-9.-]{1,64}", arb_string()],
                prop_oneof![
                    Just(String::new()),
                    Just(DEFAULT_TOPIC_SYSTEM.to_string()),
                    arb_string()
                ],
            );
            runner.run(&strategy, |(findings, patient_id, topic_system)| {
                check_arbitrary(&findings, &patient_id, &topic_system)
            })
        })
        .unwrap();
    if let Err(e) = handle.join().unwrap() {
        panic!("{e}");
    }
}

/// One card per rule and indicator in both languages: every rule is sampled in each language,
/// and each sample is a valid card on its rule's topic whose detail opens with that language's
/// rule title and states the profile in that language (so the French and English cards of one
/// finding differ). `PRINT_CARDS=1 cargo test --lib cards::tests::sample_cards -- --nocapture`
/// also prints them, for review.
#[test]
fn sample_cards_cover_every_rule_in_both_languages() {
    let print = std::env::var("PRINT_CARDS").is_ok();
    let findings = all_findings();
    let mut seen: Vec<(RuleCode, Indicator, Language)> = Vec::new();
    for f in &findings {
        let rule = rule_of(&f.detail);
        let profile = profile_of(&f.detail).unwrap_or(Profile::Ansm2019);
        let mut details = Vec::new();
        for lang in LANGS {
            let card = render1(f, lang).1;
            let t = text::for_language(lang);
            if let Err(e) = check_card(&card) {
                panic!("{lang:?} {rule:?}: {e}\n{card:#?}");
            }
            assert_eq!(
                card.source.topic.as_ref().map(|c| c.code.as_str()),
                Some(rule.as_str()),
                "{lang:?}: {f:?}"
            );
            let detail = card.detail.clone().unwrap_or_default();
            assert!(
                detail.starts_with(&format!("**{}** — ", t.rule_title(rule))),
                "{lang:?} {rule:?}: {detail}"
            );
            assert!(
                detail.contains(&t.profile_line(profile)),
                "{lang:?} {rule:?}: no profile line in {detail}"
            );
            details.push(detail);
            let key = (rule, card.indicator, lang);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            if print {
                println!("{}\n", serde_json::to_string_pretty(&card).unwrap());
                println!("{}\n\n==========\n", card.detail.unwrap_or_default());
            }
        }
        assert_ne!(details[0], details[1], "same text in both languages: {f:?}");
    }
    for lang in LANGS {
        for rule in RuleCode::ALL {
            assert!(
                seen.iter().any(|(r, _, l)| *r == rule && *l == lang),
                "{rule:?} never sampled in {lang:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Issue 11: real-world records (points 12 and 13 and the new findings)

fn card_text(card: &Card) -> String {
    format!("{}\n{}", card.summary, card.detail.as_deref().unwrap_or(""))
}

fn has_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(10).any(|w| {
        w.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
    })
}

fn initiation(
    profile: Profile,
    failed: Vec<Criterion>,
    unconfirmed: Vec<Criterion>,
    ms: MsCheck,
) -> Finding {
    let severity = if failed.is_empty() {
        Severity::Warning
    } else {
        Severity::Critical
    };
    finding(
        RuleCode::InitiationEligibility,
        severity,
        Detail::Initiation(InitiationDetail {
            profile,
            age: AgeCheck::Known {
                years: 17,
                birth_date: d(2009, 2, 1),
            },
            ms,
            dmts: vec![],
            counted_ingredients: vec![],
            required: 2,
            failed,
            unconfirmed,
            unrecognised_medications: vec![],
            warnings: vec![],
        }),
    )
}

#[test]
fn french_cards_write_dates_dd_mm_yyyy_and_the_letters_terms() {
    for f in all_findings() {
        let (_, card) = render1(&f, Language::Fr);
        let text = card_text(&card);
        assert!(!has_iso_date(&text), "ISO date in a French card: {text}");
        for banned in [
            "brouillon",
            "récurrente-rémittente",
            "d'alemtuzumab",
            "Contre-indications (EMA 2020)",
        ] {
            assert!(!text.contains(banned), "{banned:?} in {text}");
        }
        for r in &card.override_reasons {
            assert!(!r.display.as_deref().unwrap_or("").contains("brouillon"));
        }
        for s in &card.suggestions {
            for a in &s.actions {
                assert!(!a.description.contains("brouillon"), "{}", a.description);
            }
        }
        let (_, en) = render1(&f, Language::En);
        assert!(
            !card_text(&en).contains("draft order"),
            "{}",
            card_text(&en)
        );
    }
}

#[test]
fn the_evaluation_date_is_shown_and_authored_on_only_when_it_differs() {
    let mut f = initiation(
        Profile::Ansm2019,
        vec![Criterion::PriorDmts],
        vec![],
        ms_checks().remove(0),
    );
    let order = f.order.as_mut().unwrap();
    order.date = d(2026, 11, 25);
    order.authored_on = Some(d(2026, 6, 1));
    let fr = render1(&f, Language::Fr).1.detail.unwrap();
    assert!(
        fr.contains("rédigée le 01/06/2026, évaluée à la date du 25/11/2026"),
        "{fr}"
    );
    let en = render1(&f, Language::En).1.detail.unwrap();
    assert!(
        en.contains("authored on 2026-06-01, judged as of 2026-11-25"),
        "{en}"
    );
    // Same day: not repeated.
    f.order.as_mut().unwrap().authored_on = Some(d(2026, 11, 25));
    let fr = render1(&f, Language::Fr).1.detail.unwrap();
    assert!(!fr.contains("rédigée") && fr.contains("25/11/2026"), "{fr}");
    assert!(!fr.contains("display"));
    // Recognised from the reference's display.
    f.order.as_mut().unwrap().identified_by_display = true;
    let fr = render1(&f, Language::Fr).1.detail.unwrap();
    assert!(
        fr.contains("n'a pas pu être lu") && fr.contains("display"),
        "{fr}"
    );
    let en = render1(&f, Language::En).1.detail.unwrap();
    assert!(
        en.contains("could not be read") && en.contains("display"),
        "{en}"
    );
}

#[test]
fn initiation_override_reasons_follow_the_failing_criterion() {
    let rrms = ms_checks().remove(0);
    let cases: Vec<(Profile, Vec<Criterion>, Vec<&str>)> = vec![
        // A minor: nothing but a documented reason, never "all other DMTs contraindicated".
        (
            Profile::Ansm2019,
            vec![Criterion::Adult],
            vec!["other-documented"],
        ),
        (
            Profile::Ema2020,
            vec![Criterion::Adult, Criterion::PriorDmts],
            vec!["other-documented"],
        ),
        (
            Profile::Ansm2019,
            vec![Criterion::RelapsingRemittingMs],
            vec!["rrms-confirmed-by-neurologist", "other-documented"],
        ),
        (
            Profile::Ansm2019,
            vec![Criterion::PriorDmts],
            vec![
                "all-other-dmts-contraindicated",
                "dmt-history-outside-record",
                "other-documented",
            ],
        ),
        (
            Profile::Ema2020,
            vec![Criterion::PriorDmts],
            vec![
                "rapidly-evolving-severe-rrms",
                "dmt-history-outside-record",
                "other-documented",
            ],
        ),
        (
            Profile::Ema2020,
            vec![Criterion::RelapsingRemittingMs, Criterion::PriorDmts],
            vec![
                "rrms-confirmed-by-neurologist",
                "rapidly-evolving-severe-rrms",
                "dmt-history-outside-record",
                "other-documented",
            ],
        ),
    ];
    for (profile, failed, expected) in cases {
        let f = initiation(profile, failed.clone(), vec![], rrms.clone());
        for lang in LANGS {
            let card = render1(&f, lang).1;
            assert_eq!(card.indicator, Indicator::Critical);
            assert_eq!(codes(&card), expected, "{profile:?} {failed:?} {lang:?}");
            check_card(&card).unwrap();
        }
    }
    // The new reason is named in both languages.
    let f = initiation(
        Profile::Ansm2019,
        vec![Criterion::RelapsingRemittingMs],
        vec![],
        rrms.clone(),
    );
    assert_eq!(
        render1(&f, Language::Fr).1.override_reasons[0]
            .display
            .as_deref(),
        Some("SEP-RR confirmée par le neurologue")
    );
    assert_eq!(
        render1(&f, Language::En).1.override_reasons[0]
            .display
            .as_deref(),
        Some("RRMS confirmed by the neurologist")
    );
    // Could not confirm the MS type: the neurologist's confirmation is offered, no delete.
    let f = initiation(
        Profile::Ansm2019,
        vec![],
        vec![Criterion::RelapsingRemittingMs],
        MsCheck::Unspecified {
            labels: vec!["G35".into()],
        },
    );
    let card = render1(&f, Language::Fr).1;
    assert!(card.suggestions.is_empty());
    assert_eq!(
        codes(&card),
        vec![
            "rrms-confirmed-by-neurologist",
            "criteria-confirmed-documented",
            "other-documented"
        ]
    );
    // Every code is distinct and stable.
    let all: Vec<&str> = OverrideReason::ALL.iter().map(|r| r.code()).collect();
    for (i, c) in all.iter().enumerate() {
        assert!(!all[i + 1..].contains(c), "{c} repeated");
    }
    assert!(all.contains(&"all-other-dmts-contraindicated"));
    assert!(all.contains(&"contraindication-resolved"));
}

#[test]
fn r1_quotes_the_second_route_in_full_and_names_french_inns() {
    let mut f = initiation(
        Profile::Ansm2019,
        vec![Criterion::PriorDmts],
        vec![],
        ms_checks().remove(0),
    );
    if let Detail::Initiation(det) = &mut f.detail {
        det.age = AgeCheck::Known {
            years: 40,
            birth_date: d(1986, 1, 1),
        };
        det.counted_ingredients = vec!["teriflunomide".into()];
        for (i, key) in [
            "teriflunomide",
            "glatiramer",
            "interferon beta-1b",
            "ocrelizumab",
            "ponesimod",
            "dimethyl fumarate",
        ]
        .iter()
        .enumerate()
        {
            let mut c = dmt_courses().remove(0);
            c.ingredient = (*key).into();
            c.label = format!("Produit {i}");
            det.dmts.push(c);
        }
    }
    let fr = render1(&f, Language::Fr).1.detail.unwrap();
    for needle in [
        "patients adultes atteints de SEP-RR très active pour lesquels tous les autres \
         traitements de fond sont contre-indiqués ou inadaptés",
        "sclérose en plaques rémittente-récurrente (SEP-RR)",
        "tériflunomide",
        "acétate de glatiramère",
        "interféron bêta-1b",
        "ocrélizumab",
        "ponésimod",
        "diméthyl fumarate",
    ] {
        assert!(fr.contains(needle), "{needle} not in {fr}");
    }
    assert!(!fr.contains("teriflunomide"), "{fr}");
    let en = render1(&f, Language::En).1.detail.unwrap();
    assert!(en.contains("(teriflunomide, ") && en.contains("interferon beta-1b"));
}

#[test]
fn warnings_only_initiation_card_reads_as_a_warning() {
    let mut f = initiation(Profile::Ansm2019, vec![], vec![], ms_checks().remove(0));
    if let Detail::Initiation(det) = &mut f.detail {
        det.warnings = vec![
            InitiationWarning::WeakExposure(weak(WeakExposureReason::Proposal)),
            InitiationWarning::ImmuneReactionOnRecord {
                reaction: ImmuneReaction::Hlh,
                label: "LHH".into(),
                onset: Some(d(2025, 3, 2)),
                reference: "Condition/hlh".into(),
            },
            InitiationWarning::ConcurrentDmtDraft {
                reference: "MedicationRequest/ocre".into(),
                label: "Ocrevus".into(),
            },
        ];
        det.unrecognised_medications = vec!["Médicament local 123".into()];
    }
    let fr = render1(&f, Language::Fr).1;
    assert_eq!(fr.indicator, Indicator::Warning);
    assert!(fr.suggestions.is_empty());
    assert!(
        fr.summary
            .starts_with("Alemtuzumab : à vérifier avant l'instauration (alemtuzumab au dossier"),
        "{}",
        fr.summary
    );
    let detail = fr.detail.as_deref().unwrap();
    for needle in [
        "MedicationRequest/old-lem",
        "05/04/2023",
        "proposition",
        "nouveau patient",
        "lymphohistiocytose",
        "cure antérieure non enregistrée",
        "Ocrevus",
        "s'administre seul",
        "non reconnus",
        "Médicament local 123",
    ] {
        assert!(detail.contains(needle), "{needle} not in {detail}");
    }
    assert!(!detail.contains("Aucun traitement de fond antérieur au dossier."));
    let en = render1(&f, Language::En).1;
    assert!(
        en.summary.starts_with("Alemtuzumab: check before starting"),
        "{}",
        en.summary
    );
    let detail = en.detail.unwrap();
    assert!(detail.contains("not recognised") && detail.contains("treated as a new patient"));
    assert!(!detail.contains("No prior DMT on record."));
}

#[test]
fn ms_phenotype_findings_name_every_diagnosis() {
    let f = initiation(
        Profile::Ansm2019,
        vec![Criterion::RelapsingRemittingMs],
        vec![],
        MsCheck::OnlyProgressive {
            labels: vec!["SEP secondairement progressive".into()],
            earlier_rrms: vec!["SEP-RR 2012".into()],
        },
    );
    let fr = render1(&f, Language::Fr).1.detail.unwrap();
    assert!(
        fr.contains("SEP secondairement progressive") && fr.contains("SEP-RR 2012"),
        "{fr}"
    );
    let f = initiation(
        Profile::Ansm2019,
        vec![],
        vec![Criterion::RelapsingRemittingMs],
        MsCheck::Conflicting {
            rrms: vec!["RRMS".into()],
            progressive: vec!["PPMS".into()],
        },
    );
    for lang in LANGS {
        let card = render1(&f, lang).1;
        let detail = card.detail.unwrap();
        assert!(
            detail.contains("RRMS") && detail.contains("PPMS"),
            "{detail}"
        );
        assert_eq!(card.indicator, Indicator::Warning);
    }
    let f = initiation(
        Profile::Ansm2019,
        vec![Criterion::RelapsingRemittingMs],
        vec![],
        MsCheck::NoDiagnosis {
            unrecognised: vec!["SEP rémittente (code local)".into()],
        },
    );
    let fr = render1(&f, Language::Fr).1.detail.unwrap();
    assert!(
        fr.contains("non reconnus") && fr.contains("SEP rémittente \\(code local\\)"),
        "{fr}"
    );
}

fn liver_finding(profile: Profile, situation: LiverSituation, exposed: bool) -> Finding {
    finding(
        RuleCode::LiverFunction,
        Severity::Warning,
        Detail::Liver(LiverDetail {
            profile,
            situation,
            latest: vec![],
            exposed,
        }),
    )
}

#[test]
fn liver_wording_for_never_exposed_undated_uninterpretable_and_converted() {
    let abnormal = LiverSituation::Abnormal {
        results: vec![lab(LabTest::Alt, Some(130.0), None)],
    };
    let never = liver_finding(Profile::Ansm2019, abnormal.clone(), false);
    for lang in LANGS {
        let text = card_text(&render1(&never, lang).1);
        assert!(
            !text.contains("après alemtuzumab")
                && !text.contains("après l'alemtuzumab")
                && !text.contains("after alemtuzumab"),
            "{text}"
        );
    }
    let exposed = liver_finding(Profile::Ansm2019, abnormal, true);
    assert!(render1(&exposed, Language::Fr)
        .1
        .summary
        .contains("après l'alemtuzumab"));
    assert!(render1(&exposed, Language::En)
        .1
        .summary
        .contains("after alemtuzumab"));

    // Exposed at an unknown date: ask for the date and offer the panel.
    let undated = liver_finding(
        Profile::Ansm2019,
        LiverSituation::MonitoringUndated {
            last_panel: Some(d(2026, 1, 15)),
        },
        true,
    );
    for lang in LANGS {
        let card = render1(&undated, lang).1;
        check_card(&card).unwrap();
        assert_eq!(card.indicator, Indicator::Warning);
        assert_eq!(card.suggestions.len(), 1);
        assert_eq!(card.suggestions[0].actions[0].kind, ActionType::Create);
    }
    let fr = render1(&undated, Language::Fr).1;
    assert!(fr.summary.contains("dernière perfusion"), "{}", fr.summary);
    let detail = fr.detail.unwrap();
    assert!(
        detail.contains("15/01/2026") && detail.contains("RCP (2020)"),
        "{detail}"
    );

    // Could not interpret: a warning, never a pass.
    let mut odd = lab(LabTest::Ast, Some(3.0), None);
    odd.unit = Some("mmol/h".into());
    let ni = liver_finding(
        Profile::Ema2020,
        LiverSituation::NotInterpretable { results: vec![odd] },
        true,
    );
    let fr = render1(&ni, Language::Fr).1;
    assert_eq!(fr.indicator, Indicator::Warning);
    assert!(fr.summary.contains("non interprétable") && fr.summary.contains("ASAT"));
    let en = render1(&ni, Language::En).1;
    assert!(
        en.summary.contains("could not be interpreted"),
        "{}",
        en.summary
    );

    // µkat/L converted to U/L: both shown.
    let mut converted = lab(LabTest::Alt, Some(48.0), None);
    converted.converted_from = Some(crate::rules::OriginalValue {
        value: Some(0.8),
        unit: "µkat/L".into(),
    });
    let f = liver_finding(
        Profile::Ansm2019,
        LiverSituation::Abnormal {
            results: vec![converted],
        },
        true,
    );
    let fr = render1(&f, Language::Fr).1.detail.unwrap();
    assert!(fr.contains("48 U/L (converti depuis 0,8 µkat/L)"), "{fr}");
    let en = render1(&f, Language::En).1.detail.unwrap();
    assert!(en.contains("48 U/L (converted from 0.8 µkat/L)"), "{en}");
}

#[test]
fn monthly_monitoring_to_48_months_is_attributed_to_the_smpc_under_ansm_2019() {
    let overdue = LiverSituation::MonitoringOverdue {
        last_infusion: d(2024, 1, 10),
        monitor_until: d(2028, 1, 10),
        last_panel: Some(d(2026, 9, 1)),
        interval_days: 31,
    };
    let ansm = liver_finding(Profile::Ansm2019, overdue.clone(), true);
    let fr = render1(&ansm, Language::Fr).1.detail.unwrap();
    assert!(
        fr.contains("vient du RCP (2020)") && fr.contains("10/01/2028"),
        "{fr}"
    );
    let en = render1(&ansm, Language::En).1.detail.unwrap();
    assert!(en.contains("comes from the SmPC (2020)"), "{en}");
    let ema = liver_finding(Profile::Ema2020, overdue, true);
    assert!(!render1(&ema, Language::Fr)
        .1
        .detail
        .unwrap()
        .contains("vient du RCP"));
}

#[test]
fn blood_pressure_is_the_baseline_only_when_measured_on_the_evaluation_day() {
    let bp = |date| {
        finding(
            RuleCode::InfusionMonitoring,
            Severity::Info,
            Detail::InfusionMonitoring(InfusionMonitoringDetail {
                profile: Profile::Ansm2019,
                last_blood_pressure: Some(BloodPressureFact {
                    reference: "Observation/bp".into(),
                    systolic: Some(128.0),
                    diastolic: Some(82.0),
                    date: Some(date),
                }),
            }),
        )
    };
    // order() evaluates on 2024-03-15.
    let today = render1(&bp(d(2024, 3, 15)), Language::Fr).1.detail.unwrap();
    assert!(
        today.contains("valeur de référence pour la perfusion"),
        "{today}"
    );
    let old = render1(&bp(d(2024, 3, 5)), Language::Fr).1.detail.unwrap();
    assert!(
        !old.contains("valeur de référence pour la perfusion")
            && old.contains("05/03/2024, il y a 10 jours"),
        "{old}"
    );
    let old = render1(&bp(d(2024, 3, 5)), Language::En).1.detail.unwrap();
    assert!(
        !old.contains("the baseline for the infusion") && old.contains("10 days ago"),
        "{old}"
    );
    let today = render1(&bp(d(2024, 3, 15)), Language::En).1.detail.unwrap();
    assert!(today.contains("the baseline for the infusion"), "{today}");
}

fn readmin(severity: Severity, signals: Vec<ReAdministrationSignal>) -> Finding {
    finding(
        RuleCode::ReAdministration,
        severity,
        Detail::ReAdministration(ReAdministrationDetail {
            profile: Profile::Ansm2019,
            first_exposure: Some(d(2023, 3, 6)),
            last_exposure: Some(d(2023, 3, 10)),
            courses: 1,
            signals,
            weak_evidence: vec![],
        }),
    )
}

#[test]
fn course_interval_is_a_course_too_soon_not_a_rigorous_evaluation() {
    let f = readmin(
        Severity::Critical,
        vec![ReAdministrationSignal::CourseInterval {
            last_course_end: d(2024, 1, 10),
            months: 2,
            minimum_months: 12,
        }],
    );
    let fr = render1(&f, Language::Fr).1;
    assert!(
        fr.summary
            .contains("cure trop rapprochée (< 12 mois depuis la cure précédente)"),
        "{}",
        fr.summary
    );
    let text = card_text(&fr);
    assert!(
        !text.to_lowercase().contains("évaluation rigoureuse"),
        "{text}"
    );
    assert!(text.contains("10/01/2024"), "{text}");
    assert_eq!(
        codes(&fr),
        vec!["schedule-deviation-documented", "other-documented"]
    );
    assert_eq!(fr.suggestions[0].actions[0].kind, ActionType::Delete);
    let en = render1(&f, Language::En).1;
    assert!(!card_text(&en)
        .to_lowercase()
        .contains("rigorous evaluation"));
    assert!(
        en.summary.contains("course too soon (< 12 months"),
        "{}",
        en.summary
    );

    // With a liver signal too, the rigorous evaluation is asked for, and both reasons offered.
    let f = readmin(
        Severity::Critical,
        vec![
            ReAdministrationSignal::CourseInterval {
                last_course_end: d(2024, 1, 10),
                months: 2,
                minimum_months: 12,
            },
            ReAdministrationSignal::Diagnosis {
                reaction: ImmuneReaction::ImmuneThrombocytopenia,
                label: "PTI".into(),
                onset: None,
                reference: "Condition/pti".into(),
            },
        ],
    );
    let fr = render1(&f, Language::Fr).1;
    assert!(
        fr.summary.contains("évaluation rigoureuse requise"),
        "{}",
        fr.summary
    );
    assert_eq!(
        codes(&fr),
        vec![
            "rigorous-evaluation-documented",
            "schedule-deviation-documented",
            "other-documented"
        ]
    );
}

#[test]
fn warning_level_readministration_has_no_delete_suggestion() {
    for signal in [
        ReAdministrationSignal::CourseDayCount {
            course_start: d(2024, 3, 11),
            day: 6,
            allowed_days: 5,
            course_number: 1,
        },
        ReAdministrationSignal::FifthCourse { course_number: 5 },
        ReAdministrationSignal::ConcurrentDmtDraft {
            reference: "MedicationRequest/gil".into(),
            label: "Gilenya".into(),
        },
    ] {
        let f = readmin(Severity::Warning, vec![signal.clone()]);
        for lang in LANGS {
            let card = render1(&f, lang).1;
            check_card(&card).unwrap();
            assert_eq!(card.indicator, Indicator::Warning);
            assert!(card.suggestions.is_empty(), "{signal:?}");
            let text = card_text(&card).to_lowercase();
            assert!(
                !text.contains("évaluation rigoureuse") && !text.contains("rigorous evaluation"),
                "{text}"
            );
        }
        let fr = render1(&f, Language::Fr).1;
        let detail = fr.detail.unwrap();
        match signal {
            ReAdministrationSignal::CourseDayCount { .. } => {
                assert!(detail.contains("jour 6 de la 1re cure"), "{detail}");
                assert!(detail.contains("11/03/2024"), "{detail}");
                assert!(fr.summary.contains("jour de perfusion en trop"));
            }
            ReAdministrationSignal::FifthCourse { .. } => {
                assert!(detail.contains("5e cure"), "{detail}");
                assert!(fr.summary.contains("cinquième cure"));
            }
            _ => {
                assert!(detail.contains("Gilenya"), "{detail}");
                assert!(fr.summary.contains("autre traitement de fond"));
            }
        }
    }
}

#[test]
fn readministration_on_weak_evidence_lists_the_records() {
    let mut f = readmin(
        Severity::Critical,
        vec![ReAdministrationSignal::Diagnosis {
            reaction: ImmuneReaction::Hlh,
            label: "LHH".into(),
            onset: Some(d(2024, 2, 2)),
            reference: "Condition/h".into(),
        }],
    );
    if let Detail::ReAdministration(det) = &mut f.detail {
        det.weak_evidence = vec![
            weak(WeakExposureReason::OrderNotCompleted),
            weak(WeakExposureReason::Campath),
        ];
    }
    let fr = render1(&f, Language::Fr).1.detail.unwrap();
    assert!(
        fr.contains("non prouvée") && fr.contains("jamais menée à terme") && fr.contains("Campath"),
        "{fr}"
    );
    let en = render1(&f, Language::En).1.detail.unwrap();
    assert!(
        en.contains("not proven") && en.contains("never completed"),
        "{en}"
    );
}

fn contraindication_card(profile: Profile, items: Vec<ContraindicationItem>) -> Finding {
    finding(
        RuleCode::Contraindication,
        Severity::Critical,
        Detail::Contraindication(ContraindicationDetail { profile, items }),
    )
}

fn condition_item(kind: ContraindicationKind) -> ContraindicationItem {
    ContraindicationItem {
        kind,
        evidence: ContraindicationEvidence::Condition {
            reference: "Condition/x".into(),
            label: "x".into(),
            onset: None,
        },
    }
}

#[test]
fn a_history_is_not_offered_contraindication_resolved() {
    let history = [
        ContraindicationKind::Hiv,
        ContraindicationKind::Stroke,
        ContraindicationKind::Angina,
        ContraindicationKind::MyocardialInfarction,
        ContraindicationKind::CervicocephalicArterialDissection,
    ];
    let f = contraindication_card(
        Profile::Ema2020,
        history.iter().map(|k| condition_item(*k)).collect(),
    );
    for lang in LANGS {
        let card = render1(&f, lang).1;
        assert!(!codes(&card).contains(&"contraindication-resolved"));
        assert_eq!(
            codes(&card),
            vec!["benefit-risk-documented", "other-documented"]
        );
    }
    assert!(render1(&f, Language::Fr)
        .1
        .detail
        .unwrap()
        .contains("ne se résout pas"));
    // One item that can resolve (an active infection) brings it back.
    let mut items: Vec<_> = history.iter().map(|k| condition_item(*k)).collect();
    items.push(condition_item(ContraindicationKind::SevereActiveInfection));
    let card = render1(
        &contraindication_card(Profile::Ema2020, items),
        Language::En,
    )
    .1;
    assert!(codes(&card).contains(&"contraindication-resolved"));
}

#[test]
fn contraindications_under_ansm_2019_cite_the_smpc_and_show_allergies_and_drafts() {
    let f = contraindication_card(
        Profile::Ansm2019,
        vec![
            ContraindicationItem {
                kind: ContraindicationKind::Hypersensitivity,
                evidence: ContraindicationEvidence::Allergy {
                    reference: "AllergyIntolerance/a1".into(),
                    label: "Lemtrada".into(),
                    onset: Some(d(2022, 7, 8)),
                },
            },
            condition_item(ContraindicationKind::Hiv),
        ],
    );
    let fr = render1(&f, Language::Fr).1;
    assert_eq!(fr.source.topic.as_ref().unwrap().code, "contraindication");
    assert!(fr.source.label.contains("ANSM 2019"));
    let detail = fr.detail.unwrap();
    assert!(!detail.contains("EMA 2020"), "{detail}");
    assert!(
        detail.contains("4.3") && detail.contains("allergie"),
        "{detail}"
    );
    assert!(detail.contains("08/07/2022") && detail.contains("AllergyIntolerance/a1"));
    assert!(fr.summary.contains("hypersensibilité"), "{}", fr.summary);
    let en = render1(&f, Language::En).1.detail.unwrap();
    assert!(
        !en.contains("EMA 2020") && en.contains("SmPC section 4.3"),
        "{en}"
    );

    let draft = contraindication_card(
        Profile::Ema2020,
        vec![ContraindicationItem {
            kind: ContraindicationKind::AntithromboticTherapy,
            evidence: ContraindicationEvidence::DraftOrder {
                reference: "MedicationRequest/apix".into(),
                label: "Eliquis 5 mg".into(),
            },
        }],
    );
    let fr = render1(&draft, Language::Fr).1.detail.unwrap();
    assert!(
        fr.contains("prescrit dans le même temps") && fr.contains("non signée"),
        "{fr}"
    );
    assert!(
        !fr.contains("en cours"),
        "a draft is not an ongoing therapy: {fr}"
    );
    let en = render1(&draft, Language::En).1.detail.unwrap();
    assert!(en.contains("ordered in the same call"), "{en}");
}

// Every finding the rules can produce renders to a valid card in both languages: the rules'
// property strategies (`rules::testkit::strategies`) drive the renderer.
mod rules_to_cards {
    use super::*;
    use crate::rules::evaluate;
    use crate::rules::testkit::strategies::call;

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]
        #[test]
        fn every_finding_renders_to_a_valid_card_in_both_languages(
            (facts, orders, hook, cfg, today) in call(),
        ) {
            let findings = evaluate(&facts, &orders, hook, &cfg, today);
            for language in [Language::Fr, Language::En] {
                let settings = CardSettings {
                    language,
                    profile: cfg.profile,
                    ..CardSettings::default()
                };
                let cards = render(&findings, "patient-1", &settings);
                prop_assert_eq!(cards.len(), findings.len());
                for card in &cards {
                    if let Err(e) = check_card(card) {
                        return Err(TestCaseError::fail(format!("{e}: {card:?}")));
                    }
                }
            }
        }
    }
}
