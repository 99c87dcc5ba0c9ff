//! Shared helpers of the card tests: builders of findings, every enum value, the settings and
//! the one-finding renderer. The tests of each rule's card and its sample findings (`samples()`,
//! gathered by [`all_findings`]) sit next to its renderer (`r1_initiation.rs` …); `tests.rs`
//! holds the tests of the whole renderer.

pub(super) use chrono::NaiveDate;

pub(super) use super::{
    check_card, render, render_one, CardSettings, Language, OverrideReason,
    DEFAULT_OVERRIDE_REASON_SYSTEM, DEFAULT_TOPIC_SYSTEM,
};
pub(super) use crate::rules::{
    AgeCheck, BloodPressureFact, ContraindicationDetail, ContraindicationEvidence,
    ContraindicationItem, ContraindicationKind, CounsellingDetail, Criterion, DataGap, DataSet,
    DataUnavailableDetail, Detail, DmtCourse, DmtCourseStatus, Finding, GapReason, ImmuneReaction,
    InfusionMonitoringDetail, InitiationDetail, InitiationWarning, LabTest, LabValue, LiverDetail,
    LiverSituation, MedicationSource, MsCheck, OrderRef, Profile, ReAdministrationDetail,
    ReAdministrationSignal, RuleCode, Severity, StopReason, Uln, UlnSource, WeakExposure,
    WeakExposureReason,
};
pub(super) use crate::wire::{ActionType, Card, CdsResponse, Indicator, SelectionBehavior};

pub(super) const LANGS: [Language; 2] = [Language::Fr, Language::En];
pub(super) const PROFILES: [Profile; 2] = [Profile::Ansm2019, Profile::Ema2020];

pub(super) const REACTIONS: [ImmuneReaction; 11] = [
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

pub(super) const KINDS: [ContraindicationKind; 12] = [
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

pub(super) const STATUSES: [DmtCourseStatus; 6] = [
    DmtCourseStatus::CountedCladribineCourse,
    DmtCourseStatus::CountedDuration,
    DmtCourseStatus::CountedInefficacy,
    DmtCourseStatus::TooShort,
    DmtCourseStatus::Undated,
    DmtCourseStatus::SameIngredient,
];

pub(super) const STOPS: [StopReason; 4] = [
    StopReason::None,
    StopReason::Inefficacy,
    StopReason::Intolerance,
    StopReason::Other,
];

pub(super) const SOURCES: [MedicationSource; 3] = [
    MedicationSource::Request,
    MedicationSource::Statement,
    MedicationSource::Administration,
];

pub(super) const CRITERIA: [Criterion; 3] = [
    Criterion::Adult,
    Criterion::RelapsingRemittingMs,
    Criterion::PriorDmts,
];

pub(super) fn gap_reasons() -> Vec<GapReason> {
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

/// Every data set of the table (`rules::DATA_SETS`), a Medication and an unreadable resource.
pub(super) fn data_sets() -> Vec<DataSet> {
    let mut sets: Vec<DataSet> = crate::rules::DATA_SETS
        .iter()
        .map(|s| s.set.clone())
        .collect();
    sets.push(DataSet::Medication("Medication/med-1".into()));
    sets.push(DataSet::Resource("MedicationRequest/abc".into()));
    sets
}

pub(super) fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

pub(super) fn order() -> OrderRef {
    OrderRef {
        authored_on: None,
        identified_by_display: false,
        reference: "MedicationRequest/mr-42".into(),
        label: "Lemtrada 12 mg/1.2 mL".into(),
        date: d(2024, 3, 15),
    }
}

pub(super) fn finding(rule: RuleCode, severity: Severity, detail: Detail) -> Finding {
    Finding {
        rule,
        severity,
        order: Some(order()),
        detail,
    }
}

pub(super) fn lab(test: LabTest, value: Option<f64>, uln: Option<Uln>) -> LabValue {
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

pub(super) fn labs_every_shape() -> Vec<LabValue> {
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

pub(super) fn dmt_courses() -> Vec<DmtCourse> {
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

pub(super) fn subsets() -> Vec<Vec<Criterion>> {
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

pub(super) fn ms_checks() -> Vec<MsCheck> {
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

pub(super) fn weak(why: WeakExposureReason) -> WeakExposure {
    WeakExposure {
        reference: "MedicationRequest/old-lem".into(),
        label: "Lemtrada *proposé*".into(),
        source: MedicationSource::Request,
        date: Some(d(2023, 4, 5)),
        why,
    }
}

pub(super) const WHYS: [WeakExposureReason; 4] = [
    WeakExposureReason::Proposal,
    WeakExposureReason::Plan,
    WeakExposureReason::OrderNotCompleted,
    WeakExposureReason::Campath,
];

pub(super) fn initiation_warnings() -> Vec<InitiationWarning> {
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

/// Every card module's sample findings (`SAMPLES` in `mod.rs`, each module's `samples()`):
/// every detail variant with every enum value inside, both profiles.
pub(super) fn all_findings() -> Vec<Finding> {
    super::SAMPLES
        .iter()
        .flat_map(|samples| samples())
        .collect()
}

pub(super) fn has_null(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.iter().any(has_null),
        serde_json::Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

pub(super) fn settings(language: Language) -> CardSettings {
    CardSettings {
        language,
        ..CardSettings::default()
    }
}

pub(super) fn render1(f: &Finding, language: Language) -> (String, Card) {
    render_one(f, "patient-1", &settings(language), Profile::Ansm2019)
}

pub(super) fn codes(card: &Card) -> Vec<&str> {
    card.override_reasons
        .iter()
        .map(|c| c.code.as_str())
        .collect()
}

pub(super) fn card_text(card: &Card) -> String {
    format!("{}\n{}", card.summary, card.detail.as_deref().unwrap_or(""))
}

pub(super) fn has_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(10).any(|w| {
        w.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
    })
}

/// An initiation finding with a 17-year-old, the given criteria and MS phenotype.
pub(super) fn initiation(
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
