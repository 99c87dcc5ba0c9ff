//! Concise test facts for the rules' unit tests.
#![allow(dead_code)]

use chrono::NaiveDate;

use super::facts::*;

/// `"2024-06-01"` → date (tests only).
pub(crate) fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

fn od(s: Option<&str>) -> Option<NaiveDate> {
    s.map(d)
}

/// The usual order date of the tests.
pub(crate) const ORDER_DATE: &str = "2024-06-01";

pub(crate) fn order(date: &str) -> DraftOrder {
    DraftOrder {
        identified_by_display: false,
        reference: "MedicationRequest/draft-1".into(),
        label: "Lemtrada 12 mg".into(),
        authored_on: Some(d(date)),
        campath: false,
    }
}

pub(crate) fn condition(class: ConditionClass, label: &str) -> ConditionFact {
    ConditionFact {
        reference: format!("Condition/{}", label.replace(' ', "-")),
        label: label.into(),
        classes: vec![class],
        clinical_status: ClinicalStatus::Active,
        verification: Verification::Confirmed,
        onset: None,
    }
}

/// An alemtuzumab administration (completed) on `start`.
pub(crate) fn alemtuzumab(start: Option<&str>) -> MedicationFact {
    MedicationFact {
        intent: None,
        reference: format!(
            "MedicationAdministration/alem-{}",
            start.unwrap_or("undated")
        ),
        source: MedicationSource::Administration,
        class: MedicationClass::Alemtuzumab { campath: false },
        label: "Lemtrada".into(),
        status: MedicationStatus::Completed,
        start: od(start),
        end: None,
        stop_reason: StopReason::None,
    }
}

/// A DMT statement: completed when it has an end, active otherwise.
pub(crate) fn dmt(ingredient: &str, start: Option<&str>, end: Option<&str>) -> MedicationFact {
    MedicationFact {
        intent: None,
        reference: format!(
            "MedicationStatement/{}-{}",
            ingredient.replace(' ', "-"),
            start.unwrap_or("undated")
        ),
        source: MedicationSource::Statement,
        class: MedicationClass::Dmt {
            ingredient: ingredient.into(),
        },
        label: ingredient.into(),
        status: if end.is_some() {
            MedicationStatus::Completed
        } else {
            MedicationStatus::Active
        },
        start: od(start),
        end: od(end),
        stop_reason: StopReason::None,
    }
}

pub(crate) fn antithrombotic(start: Option<&str>, status: MedicationStatus) -> MedicationFact {
    MedicationFact {
        intent: None,
        reference: "MedicationRequest/apixaban".into(),
        source: MedicationSource::Request,
        class: MedicationClass::Antithrombotic,
        label: "Apixaban 5 mg".into(),
        status,
        start: od(start),
        end: None,
        stop_reason: StopReason::None,
    }
}

/// A final lab result in the default unit (U/L, µmol/L for bilirubin), no reference range.
pub(crate) fn lab(test: LabTest, value: f64, date: &str) -> LabFact {
    LabFact {
        reference: format!("Observation/{test:?}-{date}-{value}"),
        test,
        value: Some(value),
        unit: Some(
            match test {
                LabTest::TotalBilirubin => "µmol/L",
                _ => "U/L",
            }
            .into(),
        ),
        date: Some(d(date)),
        reference_high: None,
        status: ObservationStatus::Final,
    }
}

pub(crate) fn bp(systolic: f64, diastolic: f64, date: &str) -> BloodPressureFact {
    BloodPressureFact {
        reference: format!("Observation/bp-{date}"),
        systolic: Some(systolic),
        diastolic: Some(diastolic),
        date: Some(d(date)),
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct FactsBuilder {
    facts: PatientFacts,
}

impl FactsBuilder {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// An adult with RRMS, two full DMT courses and a normal panel 10 days before [`ORDER_DATE`]:
    /// eligible under both profiles.
    pub(crate) fn eligible() -> Self {
        Self::new()
            .born("1990-05-05")
            .ms(MsType::RelapsingRemitting)
            .med(dmt(
                "interferon beta-1a",
                Some("2015-01-01"),
                Some("2017-01-01"),
            ))
            .med(dmt("fingolimod", Some("2017-02-01"), Some("2023-12-01")))
            .panel("2024-05-22")
            .bp(120.0, 80.0, "2024-05-22")
    }

    pub(crate) fn born(mut self, date: &str) -> Self {
        self.facts.birth_date = Some(d(date));
        self
    }

    pub(crate) fn cond(mut self, c: ConditionFact) -> Self {
        self.facts.conditions.push(c);
        self
    }

    pub(crate) fn class(self, class: ConditionClass, label: &str) -> Self {
        self.cond(condition(class, label))
    }

    pub(crate) fn ms(self, t: MsType) -> Self {
        self.class(ConditionClass::Ms(t), &format!("MS {t:?}"))
    }

    pub(crate) fn med(mut self, m: MedicationFact) -> Self {
        self.facts.medications.push(m);
        self
    }

    pub(crate) fn dmt(self, ingredient: &str, start: Option<&str>, end: Option<&str>) -> Self {
        self.med(dmt(ingredient, start, end))
    }

    pub(crate) fn lab(mut self, l: LabFact) -> Self {
        self.facts.labs.push(l);
        self
    }

    /// Normal ALT, AST and bilirubin on `date`.
    pub(crate) fn panel(self, date: &str) -> Self {
        self.lab(lab(LabTest::Alt, 25.0, date))
            .lab(lab(LabTest::Ast, 22.0, date))
            .lab(lab(LabTest::TotalBilirubin, 10.0, date))
    }

    pub(crate) fn bp(mut self, systolic: f64, diastolic: f64, date: &str) -> Self {
        self.facts
            .blood_pressures
            .push(bp(systolic, diastolic, date));
        self
    }

    pub(crate) fn gap(mut self, data: DataSet) -> Self {
        self.facts.gaps.push(DataGap {
            data,
            reason: GapReason::Timeout,
        });
        self
    }

    pub(crate) fn build(self) -> PatientFacts {
        self.facts
    }
}

/// proptest strategies for facts, draft orders, configurations and dates: any value the types
/// allow, edge cases weighted (NaN and huge thresholds, empty text, gaps). Used by the rules'
/// property test and by the cards' one (every finding renders to a valid card).
pub(crate) mod strategies {
    use crate::rules::*;
    use proptest::prelude::*;

    pub(crate) fn date() -> impl Strategy<Value = NaiveDate> {
        prop_oneof![
            // Around now: where the thresholds bite.
            (730_000i32..740_000).prop_map(NaiveDate::from_num_days_from_ce_opt),
            any::<i32>().prop_map(NaiveDate::from_num_days_from_ce_opt),
            Just(Some(NaiveDate::MIN)),
            Just(Some(NaiveDate::MAX)),
        ]
        .prop_map(|d| d.unwrap_or(NaiveDate::MAX))
    }

    pub(crate) fn opt_date() -> impl Strategy<Value = Option<NaiveDate>> {
        proptest::option::of(date())
    }

    pub(crate) fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            -100.0..1000.0f64,
            any::<f64>(),
        ]
    }

    pub(crate) fn text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-zA-Zµé /\\[\\]]{0,12}"]
    }

    pub(crate) fn condition() -> impl Strategy<Value = ConditionFact> {
        let class = prop_oneof![
            Just(ConditionClass::Ms(MsType::RelapsingRemitting)),
            Just(ConditionClass::Ms(MsType::SecondaryProgressive)),
            Just(ConditionClass::Ms(MsType::Unspecified)),
            Just(ConditionClass::ImmuneReaction(
                ImmuneReaction::ThyroidDisease
            )),
            Just(ConditionClass::ImmuneReaction(ImmuneReaction::Hlh)),
            Just(ConditionClass::Contraindication(ContraindicationKind::Hiv)),
            Just(ConditionClass::Contraindication(
                ContraindicationKind::OtherAutoimmuneDisease
            )),
        ];
        let status = prop_oneof![
            Just(ClinicalStatus::Active),
            Just(ClinicalStatus::Resolved),
            Just(ClinicalStatus::Unknown),
        ];
        let verification = prop_oneof![
            Just(Verification::Confirmed),
            Just(Verification::EnteredInError),
            Just(Verification::Refuted),
        ];
        (
            text(),
            proptest::collection::vec(class, 0..3),
            status,
            verification,
            opt_date(),
        )
            .prop_map(|(label, classes, clinical_status, verification, onset)| {
                ConditionFact {
                    reference: label.clone(),
                    label,
                    classes,
                    clinical_status,
                    verification,
                    onset,
                }
            })
    }

    pub(crate) fn medication() -> impl Strategy<Value = MedicationFact> {
        let class = prop_oneof![
            Just(MedicationClass::Alemtuzumab { campath: false }),
            Just(MedicationClass::Alemtuzumab { campath: true }),
            text().prop_map(|ingredient| MedicationClass::Dmt { ingredient }),
            Just(MedicationClass::Dmt {
                ingredient: "fingolimod".into()
            }),
            Just(MedicationClass::Antithrombotic),
            Just(MedicationClass::Other),
        ];
        let source = prop_oneof![
            Just(MedicationSource::Request),
            Just(MedicationSource::Statement),
            Just(MedicationSource::Administration),
        ];
        let status = prop_oneof![
            Just(MedicationStatus::Active),
            Just(MedicationStatus::Completed),
            Just(MedicationStatus::OnHold),
            Just(MedicationStatus::Cancelled),
            Just(MedicationStatus::Unknown),
        ];
        let reason = prop_oneof![
            Just(StopReason::None),
            Just(StopReason::Inefficacy),
            Just(StopReason::Intolerance),
        ];
        (
            text(),
            source,
            class,
            status,
            opt_date(),
            opt_date(),
            reason,
        )
            .prop_map(|(label, source, class, status, start, end, stop_reason)| {
                MedicationFact {
                    intent: None,
                    reference: label.clone(),
                    source,
                    class,
                    label,
                    status,
                    start,
                    end,
                    stop_reason,
                }
            })
    }

    pub(crate) fn lab() -> impl Strategy<Value = LabFact> {
        let test = prop_oneof![
            Just(LabTest::Alt),
            Just(LabTest::Ast),
            Just(LabTest::TotalBilirubin),
        ];
        let unit = proptest::option::of(prop_oneof![
            Just("U/L".to_string()),
            Just("µmol/L".to_string()),
            Just("mg/dL".to_string()),
            text(),
        ]);
        let status = prop_oneof![
            Just(ObservationStatus::Final),
            Just(ObservationStatus::Cancelled),
        ];
        (
            test,
            proptest::option::of(float()),
            unit,
            opt_date(),
            proptest::option::of(float()),
            status,
        )
            .prop_map(
                |(test, value, unit, date, reference_high, status)| LabFact {
                    reference: String::new(),
                    test,
                    value,
                    unit,
                    date,
                    reference_high,
                    status,
                },
            )
    }

    pub(crate) fn blood_pressure() -> impl Strategy<Value = BloodPressureFact> {
        (
            proptest::option::of(float()),
            proptest::option::of(float()),
            opt_date(),
        )
            .prop_map(|(systolic, diastolic, date)| BloodPressureFact {
                reference: String::new(),
                systolic,
                diastolic,
                date,
            })
    }

    pub(crate) fn gap() -> impl Strategy<Value = DataGap> {
        prop_oneof![
            Just(DataSet::Patient),
            Just(DataSet::Conditions),
            Just(DataSet::MedicationRequests),
            Just(DataSet::LiverLabs),
            Just(DataSet::BloodPressure),
            text().prop_map(DataSet::Resource),
            text().prop_map(DataSet::Medication),
        ]
        .prop_map(|data| DataGap {
            data,
            reason: GapReason::NotProvided,
        })
    }

    prop_compose! {
        pub(crate) fn facts()(
            birth_date in opt_date(),
            conditions in proptest::collection::vec(condition(), 0..6),
            medications in proptest::collection::vec(medication(), 0..8),
            labs in proptest::collection::vec(lab(), 0..8),
            blood_pressures in proptest::collection::vec(blood_pressure(), 0..4),
            gaps in proptest::collection::vec(gap(), 0..3),
        ) -> PatientFacts {
            PatientFacts { allergies: vec![], other_drafts: vec![],  birth_date, conditions, medications, labs, blood_pressures, gaps }
        }
    }

    pub(crate) fn small_or_huge() -> impl Strategy<Value = u32> {
        prop_oneof![0u32..60, Just(u32::MAX), any::<u32>()]
    }

    prop_compose! {
        pub(crate) fn config()(
            ema in any::<bool>(),
            ints in proptest::collection::vec(small_or_huge(), 9),
            floats in proptest::collection::vec(float(), 9),
            thyroid in any::<bool>(),
        ) -> RuleConfig {
            RuleConfig {
                profile: if ema { Profile::Ema2020 } else { Profile::Ansm2019 },
                min_age_years: ints[0],
                required_dmts_ansm_2019: ints[1],
                required_dmts_ema_2020: ints[2],
                dmt_min_course_months: ints[3],
                liver_panel_max_age_days: ints[4],
                liver_monitoring_interval_days: ints[5],
                liver_monitoring_months: ints[6],
                transaminase_uln_factor: floats[0],
                bilirubin_uln_factor: floats[1],
                default_uln_alt: floats[2],
                default_uln_ast: floats[3],
                default_uln_bilirubin_umol_l: floats[4],
                default_uln_bilirubin_mg_dl: floats[5],
                course_gap_days: ints[7],
                min_course_interval_months: ints[8],
                bp_systolic_threshold: floats[6],
                bp_diastolic_threshold: floats[7],
                thyroid_disease_critical: thyroid,
                antithrombotic_recent_days: ints[0],
                campath_exposure: thyroid,
                first_course_days: ints[7],
                later_course_days: ints[8],
                max_courses: ints[3],
            }
        }
    }

    pub(crate) fn draft() -> impl Strategy<Value = DraftOrder> {
        (text(), opt_date(), any::<bool>()).prop_map(|(label, date, campath)| DraftOrder {
            identified_by_display: false,
            reference: format!("MedicationRequest/{label}"),
            label,
            authored_on: date,
            campath,
        })
    }

    /// One evaluation's inputs: facts, up to two draft orders, a hook, a configuration (any, or
    /// the defaults) and the evaluation date.
    pub(crate) fn call() -> impl Strategy<
        Value = (
            PatientFacts,
            Vec<DraftOrder>,
            HookKind,
            RuleConfig,
            NaiveDate,
        ),
    > {
        (
            facts(),
            proptest::collection::vec(draft(), 0..3),
            prop_oneof![
                Just(HookKind::OrderSign),
                Just(HookKind::OrderSelect),
                Just(HookKind::PatientView),
            ],
            prop_oneof![config(), Just(RuleConfig::default())],
            date(),
        )
    }
}
