//! Tests of the whole renderer: every detail variant and enum value, both profiles, both
//! languages, the card skeleton (order line, source, topic, escaping, summary length), the
//! contract checks and the property tests. Each rule's card tests sit next to its renderer
//! (`r1_initiation.rs` …); the shared helpers are in `testkit.rs`.

use proptest::prelude::*;

use super::testkit::*;
use super::*;

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

/// A new rule cannot forget its samples: every rule of the registry (`RuleCode::ALL`) has sample
/// findings, given by its card module's `samples()` listed in `SAMPLES` (`mod.rs`), so the card
/// checks of this file run on it in both languages. Each module samples one rule, under both
/// profiles when its findings carry one.
#[test]
fn every_rule_has_sample_findings() {
    let mut sampled: Vec<RuleCode> = Vec::new();
    for samples in SAMPLES {
        let findings = samples();
        let Some(first) = findings.first() else {
            panic!("a card module listed in SAMPLES gives no sample finding");
        };
        let rule = first.detail.rule();
        for f in &findings {
            assert_eq!(f.detail.rule(), rule, "one module samples one rule: {f:?}");
            assert_eq!(f.rule, rule, "finding rule and detail disagree: {f:?}");
        }
        if first.detail.profile().is_some() {
            for profile in PROFILES {
                assert!(
                    findings.iter().any(|f| f.detail.profile() == Some(profile)),
                    "{rule:?} has no sample under {profile:?}"
                );
            }
        }
        assert!(!sampled.contains(&rule), "{rule:?} sampled by two modules");
        sampled.push(rule);
    }
    for rule in RuleCode::ALL {
        assert!(
            sampled.contains(&rule),
            "{rule:?} has no sample finding: list its card module's `samples` in `SAMPLES` \
             (src/cards/mod.rs)"
        );
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
        // A data gap has no profile of its own.
        let Some(profile) = f.detail.profile() else {
            continue;
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
    // A card that offers override reasons: an initiation card with a failed criterion.
    let f = all_findings()
        .into_iter()
        .find(|f| matches!(&f.detail, Detail::Initiation(d) if !d.failed.is_empty()))
        .unwrap();
    let card = render_one(&f, "p", &custom, Profile::Ansm2019).1;
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
            rule: other_rule.unwrap_or_else(|| detail.rule()),
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
                f.detail.rule().as_str()
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
        let rule = f.detail.rule();
        let profile = f.detail.profile().unwrap_or(Profile::Ansm2019);
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
