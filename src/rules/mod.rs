//! The rules engine: the five measures of the ANSM letter on alemtuzumab (Lemtrada), 30/04/2019,
//! and the contraindications of the European Commission decision of 16/01/2020.
//!
//! Pure: [`evaluate`] takes plain facts about the patient ([`PatientFacts`]), the alemtuzumab draft
//! orders, the hook being answered, the configuration and today's date, and returns
//! [`Finding`]s. No HTTP, JSON, fhirbolt, clock or I/O in here: `fhir` builds the facts, `cards`
//! renders the findings.
//!
//! | Measure | File |
//! |---|---|
//! | R1 initiation eligibility | `r1_initiation.rs` |
//! | R2 infusion monitoring | `r2_infusion_monitoring.rs` |
//! | R3 liver function | `r3_liver_function.rs` |
//! | R4 re-administration after rigorous evaluation | `r4_readministration.rs` |
//! | R5 patient counselling | `r5_patient_counselling.rs` |
//! | contraindications (both profiles; the 2020 list under ema-2020) | `contraindications.rs` |
//! | new vs re-treated patient, courses | `exposure.rs` |
//! | codes (RxNorm, ATC, SNOMED CT, ICD-10, LOINC): outside the rules, in `src/terminology/`, read by `fhir::facts`; the rules see only the recognised classes | — |
//! | whole months / years, birthday-exact | `calendar.rs` |
//! | the data sets: prefetch key, resource types, query, hooks (one row each); the rules a gap blocks, derived from [`RULES`] | `data_sets.rs` |
//! | what every rule shares: [`Finding`], [`Severity`], [`OrderRef`], lab results, weak exposure records, the data-gap detail | `findings.rs` |
//! | the rule registry: [`RuleCode`], [`Detail`], [`RULES`] (what each rule cannot be checked without) | this file |
//!
//! # What [`evaluate`] returns, in this order
//! - Order hooks (order-sign, order-select), for each draft order in turn, all judged at the hook
//!   call's date (`today`; `authoredOn` is only shown): R1 for a new patient or R4 for a
//!   re-treated one (a patient whose only alemtuzumab records are weak evidence gets R1 *and* R4's
//!   signals, see `exposure.rs`), the contraindications (HIV and hypersensitivity under both
//!   profiles, the 2020 list under ema-2020), R3 (panel before the course, abnormal or
//!   uninterpretable results), R2, R5.
//! - Patient-view: R3 (monitoring overdue or undatable, abnormal results) for a patient exposed to
//!   alemtuzumab. Never R4 (nothing is being ordered).
//! - Then one `data-unavailable` finding per gap, naming the rules it leaves unchecked *in this
//!   call*; a gap that blocks none of them is left out. On order hooks: R1 unless the patient is
//!   known to be exposed, R4 when exposed, weakly evidenced or unknown (a medication gap leaves
//!   both open), the contraindications (under ansm-2019 only diagnoses and allergies feed them),
//!   R3. On patient-view: R3 only; a medication gap blocks it too, since exposure (hence
//!   monitoring) cannot be established.
//! - Patient-view for a patient with no alemtuzumab on record and no medication gap: nothing.

// What every rule shares.
mod calendar;
pub mod data_sets;
pub mod exposure;
pub mod facts;
pub mod findings;
#[cfg(test)]
pub(crate) mod testkit;

pub use data_sets::{DataQuery, DataSetSpec, ObservationCodes, DATA_SETS};
pub use facts::*;
pub use findings::*;

use chrono::NaiveDate;

use exposure::Exposure;

// =============================================================================================
// The rule registry: each rule is listed here, once.
//
// A rule is its module (the check, the sentence of the source it enforces, what it concludes: its
// detail type, and its unit tests), its code ([`RuleCode`]: variant, topic code, place in
// [`RuleCode::ALL`]), its [`Detail`] variant, its row of [`RULES`] (the data it cannot be checked
// without, declared as `NEEDS` in its module) and its call in [`evaluate`]. Everything else is
// derived: which rules a data gap leaves unchecked (`DataSet::blocks`, `data_sets.rs`), the order
// a data-unavailable card lists them in, a detail's rule and profile. The card of a rule lives in
// the file of the same name in `src/cards/`, its words in `src/cards/text/{fr,en}.rs`.
// =============================================================================================

pub mod contraindications;
pub mod r1_initiation;
pub mod r2_infusion_monitoring;
pub mod r3_liver_function;
pub mod r4_readministration;
pub mod r5_patient_counselling;

pub use contraindications::{
    ContraindicationDetail, ContraindicationEvidence, ContraindicationItem,
};
pub use r1_initiation::{
    AgeCheck, Criterion, DmtCourse, DmtCourseStatus, InitiationDetail, InitiationWarning, MsCheck,
};
pub use r2_infusion_monitoring::InfusionMonitoringDetail;
pub use r3_liver_function::{LiverDetail, LiverSituation};
pub use r4_readministration::{ReAdministrationDetail, ReAdministrationSignal};
pub use r5_patient_counselling::CounsellingDetail;

/// The contract's `source.topic.code` values (docs/wire-contract.md §Cards).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleCode {
    InitiationEligibility,
    Contraindication,
    ReAdministration,
    LiverFunction,
    InfusionMonitoring,
    PatientCounselling,
    DataUnavailable,
}

impl RuleCode {
    /// Every code, in the order the report lists them (`src/report/`).
    pub const ALL: [RuleCode; 7] = [
        RuleCode::InitiationEligibility,
        RuleCode::Contraindication,
        RuleCode::ReAdministration,
        RuleCode::LiverFunction,
        RuleCode::InfusionMonitoring,
        RuleCode::PatientCounselling,
        RuleCode::DataUnavailable,
    ];

    /// The topic code on the card (`source.topic.code`).
    pub fn as_str(self) -> &'static str {
        match self {
            RuleCode::InitiationEligibility => "initiation-eligibility",
            RuleCode::InfusionMonitoring => "infusion-monitoring",
            RuleCode::LiverFunction => "liver-function",
            RuleCode::ReAdministration => "re-administration",
            RuleCode::PatientCounselling => "patient-counselling",
            RuleCode::Contraindication => "contraindication",
            RuleCode::DataUnavailable => "data-unavailable",
        }
    }

    /// The rule of a topic code ([`RuleCode::as_str`] read back); `None` for any other text.
    pub fn from_code(code: &str) -> Option<RuleCode> {
        RuleCode::ALL.into_iter().find(|r| r.as_str() == code)
    }
}

/// One rule of the registry and the data sets it cannot be checked without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub code: RuleCode,
    /// The data sets a gap in which leaves the rule unchecked (its module's `NEEDS`). A rule that
    /// reads data only to show it (R2's baseline blood pressure) and a rule that reads none (R5)
    /// need nothing. A `Medication` or an unreadable resource leaves every rule that needs some
    /// data unchecked.
    pub needs: &'static [DataSet],
}

/// Every rule, R1…R5 then the contraindications: the order in which a data-unavailable finding
/// names the rules a gap leaves unchecked ([`DataSet::blocks`]) and its card lists them.
pub const RULES: [Rule; 6] = [
    Rule {
        code: RuleCode::InitiationEligibility,
        needs: r1_initiation::NEEDS,
    },
    Rule {
        code: RuleCode::InfusionMonitoring,
        needs: r2_infusion_monitoring::NEEDS,
    },
    Rule {
        code: RuleCode::LiverFunction,
        needs: r3_liver_function::NEEDS,
    },
    Rule {
        code: RuleCode::ReAdministration,
        needs: r4_readministration::NEEDS,
    },
    Rule {
        code: RuleCode::PatientCounselling,
        needs: r5_patient_counselling::NEEDS,
    },
    Rule {
        code: RuleCode::Contraindication,
        needs: contraindications::NEEDS,
    },
];

/// The structured content of a finding, one variant per rule (the type lives in the rule's file).
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    Initiation(InitiationDetail),
    InfusionMonitoring(InfusionMonitoringDetail),
    Liver(LiverDetail),
    ReAdministration(ReAdministrationDetail),
    Counselling(CounsellingDetail),
    Contraindication(ContraindicationDetail),
    DataUnavailable(DataUnavailableDetail),
}

impl Detail {
    /// The rule this detail is about: the structural truth about what its card says.
    pub fn rule(&self) -> RuleCode {
        match self {
            Detail::Initiation(_) => RuleCode::InitiationEligibility,
            Detail::InfusionMonitoring(_) => RuleCode::InfusionMonitoring,
            Detail::Liver(_) => RuleCode::LiverFunction,
            Detail::ReAdministration(_) => RuleCode::ReAdministration,
            Detail::Counselling(_) => RuleCode::PatientCounselling,
            Detail::Contraindication(_) => RuleCode::Contraindication,
            Detail::DataUnavailable(_) => RuleCode::DataUnavailable,
        }
    }

    /// The profile the rule was evaluated under; `None` for a data gap, which has none of its own.
    pub fn profile(&self) -> Option<Profile> {
        match self {
            Detail::Initiation(d) => Some(d.profile),
            Detail::InfusionMonitoring(d) => Some(d.profile),
            Detail::Liver(d) => Some(d.profile),
            Detail::ReAdministration(d) => Some(d.profile),
            Detail::Counselling(d) => Some(d.profile),
            Detail::Contraindication(d) => Some(d.profile),
            Detail::DataUnavailable(_) => None,
        }
    }
}

// =============================================================================================
// End of the registry.

/// Thresholds of the rules. Every number of `docs/clinical-rules.md` §2 is here, with its default.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleConfig {
    pub profile: Profile,
    /// R1: minimum age in years at the order date.
    pub min_age_years: u32,
    /// R1: distinct prior DMT ingredients required under ansm-2019.
    pub required_dmts_ansm_2019: u32,
    /// R1: distinct prior DMT ingredients required under ema-2020.
    pub required_dmts_ema_2020: u32,
    /// R1: a DMT course of at least this many months is "full and adequate".
    pub dmt_min_course_months: u32,
    /// R3: the liver panel must be at most this many days old at the order date.
    pub liver_panel_max_age_days: u32,
    /// R3: during monitoring, a panel older than this is overdue.
    pub liver_monitoring_interval_days: u32,
    /// R3: monitoring lasts this many months after the last infusion.
    pub liver_monitoring_months: u32,
    /// R4: ALT/AST above this multiple of the ULN is a liver-injury signal.
    pub transaminase_uln_factor: f64,
    /// R4: total bilirubin above this multiple of the ULN is a liver-injury signal.
    pub bilirubin_uln_factor: f64,
    /// Default ULN for ALT (U/L) when the lab gives no reference range.
    pub default_uln_alt: f64,
    /// Default ULN for AST (U/L).
    pub default_uln_ast: f64,
    /// Default ULN for total bilirubin in µmol/L.
    pub default_uln_bilirubin_umol_l: f64,
    /// Default ULN for total bilirubin in mg/dL.
    pub default_uln_bilirubin_mg_dl: f64,
    /// Administrations at most this many days apart belong to one course.
    pub course_gap_days: u32,
    /// R4: minimum months between courses.
    pub min_course_interval_months: u32,
    /// ema-2020: last systolic BP at or above this is uncontrolled hypertension (mmHg).
    pub bp_systolic_threshold: f64,
    /// ema-2020: last diastolic BP at or above this is uncontrolled hypertension (mmHg).
    pub bp_diastolic_threshold: f64,
    /// R4: autoimmune thyroid disease gives a critical card (default: warning).
    pub thyroid_disease_critical: bool,
    /// Anticoagulant / anti-platelet therapy counts as active when its last record is at most this
    /// many days old (for records without an end date and a non-active status).
    pub antithrombotic_recent_days: u32,
    /// Campath (oncology) records count as MS exposure (default: no; they are weak evidence).
    pub campath_exposure: bool,
    /// R4: infusion days of the first course (an extra day is a warning).
    pub first_course_days: u32,
    /// R4: infusion days of each later course.
    pub later_course_days: u32,
    /// R4: courses the SmPC allows (2 plus up to 2 more); an order starting a course beyond this
    /// is a warning.
    pub max_courses: u32,
}

impl Default for RuleConfig {
    fn default() -> Self {
        Self {
            profile: Profile::Ansm2019,
            min_age_years: 18,
            required_dmts_ansm_2019: 2,
            required_dmts_ema_2020: 1,
            dmt_min_course_months: 12,
            liver_panel_max_age_days: 30,
            liver_monitoring_interval_days: 31,
            liver_monitoring_months: 48,
            transaminase_uln_factor: 3.0,
            bilirubin_uln_factor: 2.0,
            default_uln_alt: 40.0,
            default_uln_ast: 40.0,
            default_uln_bilirubin_umol_l: 21.0,
            default_uln_bilirubin_mg_dl: 1.2,
            course_gap_days: 10,
            min_course_interval_months: 12,
            bp_systolic_threshold: 160.0,
            bp_diastolic_threshold: 100.0,
            thyroid_disease_critical: false,
            antithrombotic_recent_days: 90,
            campath_exposure: false,
            first_course_days: 5,
            later_course_days: 3,
            max_courses: 4,
        }
    }
}

impl RuleConfig {
    /// Distinct prior DMT ingredients the active profile requires ([`Profile::required_dmts`]).
    pub fn required_dmts(&self) -> u32 {
        self.profile.required_dmts(self)
    }
}

/// An order as the findings show it: evaluated at the hook call's date (`today`), never at
/// `authoredOn` (docs/clinical-rules.md §2 "the evaluation date"), which is only shown.
fn order_ref(order: &DraftOrder, today: NaiveDate) -> OrderRef {
    OrderRef {
        reference: order.reference.clone(),
        label: order.label.clone(),
        date: today,
        authored_on: order.authored_on,
        identified_by_display: order.identified_by_display,
    }
}

/// Data whose absence leaves alemtuzumab exposure unknown: the medication history, a Medication,
/// or an unreadable `Medication…/<id>` resource.
pub(crate) fn is_medication_data(data: &DataSet) -> bool {
    match data {
        DataSet::MedicationRequests
        | DataSet::MedicationStatements
        | DataSet::MedicationAdministrations
        | DataSet::Medication(_) => true,
        DataSet::Resource(r) => r.starts_with("Medication"),
        _ => false,
    }
}

/// Runs every rule for one hook call. Pure and deterministic; see the module documentation.
pub fn evaluate(
    facts: &PatientFacts,
    orders: &[DraftOrder],
    hook: HookKind,
    cfg: &RuleConfig,
    today: NaiveDate,
) -> Vec<Finding> {
    let exposure = Exposure::from_facts(facts, cfg);
    let medication_gap = facts.gaps.iter().any(|g| is_medication_data(&g.data));
    let mut findings = Vec::new();

    let applies: Vec<RuleCode> = match hook {
        HookKind::OrderSign | HookKind::OrderSelect => {
            for order in orders {
                let order = order_ref(order, today);
                if exposure.is_exposed() {
                    findings.extend(r4_readministration::check(facts, &exposure, &order, cfg));
                } else {
                    findings.extend(r1_initiation::check(facts, &exposure, &order, cfg));
                    // Weak evidence keeps R1 on and R4's signals checked.
                    if exposure.only_weak_evidence() {
                        findings.extend(r4_readministration::check(facts, &exposure, &order, cfg));
                    }
                }
                findings.extend(contraindications::check(
                    facts,
                    exposure.is_exposed(),
                    &order,
                    cfg,
                ));
                findings.extend(r3_liver_function::check_order(
                    facts,
                    exposure.is_exposed(),
                    &order,
                    cfg,
                ));
                findings.push(r2_infusion_monitoring::check(facts, &order, cfg));
                findings.push(r5_patient_counselling::check(&order, cfg));
            }
            let mut rules = Vec::new();
            if !exposure.is_exposed() {
                rules.push(RuleCode::InitiationEligibility);
            }
            if exposure.is_exposed() || exposure.only_weak_evidence() || medication_gap {
                rules.push(RuleCode::ReAdministration);
            }
            rules.push(RuleCode::Contraindication);
            rules.push(RuleCode::LiverFunction);
            rules
        }
        HookKind::PatientView => {
            if !exposure.is_exposed() && !medication_gap {
                return Vec::new();
            }
            findings.extend(r3_liver_function::check_patient_view(
                facts, &exposure, cfg, today,
            ));
            vec![RuleCode::LiverFunction]
        }
    };

    for gap in &facts.gaps {
        let mut blocked: Vec<RuleCode> = gap
            .data
            .blocks()
            .into_iter()
            .filter(|r| applies.contains(r))
            .filter(|r| {
                *r != RuleCode::Contraindication || contraindications::needs(&gap.data, cfg.profile)
            })
            .collect();
        if hook == HookKind::PatientView
            && is_medication_data(&gap.data)
            && !blocked.contains(&RuleCode::LiverFunction)
        {
            blocked.push(RuleCode::LiverFunction);
        }
        if blocked.is_empty() {
            continue;
        }
        findings.push(Finding {
            rule: RuleCode::DataUnavailable,
            severity: Severity::Warning,
            order: None,
            detail: Detail::DataUnavailable(DataUnavailableDetail {
                gap: gap.clone(),
                blocked,
            }),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::testkit::{alemtuzumab, condition, d, lab, order, FactsBuilder, ORDER_DATE};
    use super::*;

    fn ema() -> RuleConfig {
        RuleConfig {
            profile: Profile::Ema2020,
            ..RuleConfig::default()
        }
    }

    fn rules(findings: &[Finding]) -> Vec<RuleCode> {
        findings.iter().map(|f| f.rule).collect()
    }

    /// What each profile decides, as the rules ask it (docs/clinical-rules.md §1).
    #[test]
    fn each_profile_answers_what_its_text_decides() {
        let cfg = RuleConfig {
            required_dmts_ansm_2019: 3,
            required_dmts_ema_2020: 5,
            ..RuleConfig::default()
        };
        assert!(!Profile::Ansm2019.checks_2020_contraindications());
        assert!(Profile::Ema2020.checks_2020_contraindications());
        assert_eq!(Profile::Ansm2019.required_dmts(&cfg), 3);
        assert_eq!(Profile::Ema2020.required_dmts(&cfg), 5);
        let ema = RuleConfig {
            profile: Profile::Ema2020,
            ..cfg.clone()
        };
        assert_eq!((cfg.required_dmts(), ema.required_dmts()), (3, 5));
        assert!(!contraindications::needs(
            &DataSet::BloodPressure,
            Profile::Ansm2019
        ));
        assert!(contraindications::needs(
            &DataSet::BloodPressure,
            Profile::Ema2020
        ));
        assert!(contraindications::needs(
            &DataSet::Allergies,
            Profile::Ansm2019
        ));
    }

    fn sign(facts: &PatientFacts, cfg: &RuleConfig) -> Vec<Finding> {
        evaluate(
            facts,
            &[order(ORDER_DATE)],
            HookKind::OrderSign,
            cfg,
            d("2024-06-03"),
        )
    }

    fn blocked(f: &Finding) -> Vec<RuleCode> {
        match &f.detail {
            Detail::DataUnavailable(g) => g.blocked.clone(),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// What a gap in each data set leaves unchecked, derived from the rules' `NEEDS`, in the
    /// registry's order (the data-unavailable findings list them in this order; `DataSet::blocks`,
    /// `data_sets.rs`).
    #[test]
    fn every_topic_code_reads_back_to_its_rule() {
        for rule in RuleCode::ALL {
            assert_eq!(RuleCode::from_code(rule.as_str()), Some(rule));
        }
        assert_eq!(RuleCode::from_code("Liver-Function"), None);
        assert_eq!(RuleCode::from_code(""), None);
    }

    #[test]
    fn what_each_gap_blocks() {
        use RuleCode::*;
        let medication_history = vec![InitiationEligibility, ReAdministration, Contraindication];
        let expected = [
            (DataSet::Patient, vec![InitiationEligibility]),
            (DataSet::Conditions, medication_history.clone()),
            (DataSet::MedicationRequests, medication_history.clone()),
            (DataSet::MedicationStatements, medication_history.clone()),
            (DataSet::MedicationAdministrations, medication_history),
            (DataSet::LiverLabs, vec![LiverFunction, ReAdministration]),
            (DataSet::BloodPressure, vec![Contraindication]),
            (DataSet::Allergies, vec![Contraindication]),
        ];
        assert_eq!(expected.len(), DATA_SETS.len());
        for (set, blocks) in expected {
            assert_eq!(set.blocks(), blocks, "{set:?}");
        }
        // A missing Medication or an unreadable resource: every rule that needs some data.
        let unreadable = vec![
            InitiationEligibility,
            LiverFunction,
            ReAdministration,
            Contraindication,
        ];
        assert_eq!(
            DataSet::Medication("Medication/x".into()).blocks(),
            unreadable
        );
        assert_eq!(DataSet::Resource("Condition/x".into()).blocks(), unreadable);
    }

    #[test]
    fn eligible_new_patient_gets_only_the_reminders() {
        use RuleCode::*;
        for cfg in [RuleConfig::default(), ema()] {
            let f = sign(&FactsBuilder::eligible().build(), &cfg);
            assert_eq!(rules(&f), vec![InfusionMonitoring, PatientCounselling]);
            assert!(f.iter().all(|f| f.severity == Severity::Info));
        }
    }

    #[test]
    fn every_rule_in_order_for_a_bad_new_patient() {
        use RuleCode::*;
        let mut facts = FactsBuilder::eligible()
            .born("2010-01-01")
            .class(
                ConditionClass::Contraindication(ContraindicationKind::Hiv),
                "HIV",
            )
            .build();
        facts.labs.clear();
        let f = sign(&facts, &ema());
        assert_eq!(
            rules(&f),
            vec![
                InitiationEligibility,
                Contraindication,
                LiverFunction,
                InfusionMonitoring,
                PatientCounselling
            ]
        );
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(f.iter().all(|f| f.order.is_some()));
        // ansm-2019 checks HIV and hypersensitivity too (issue 11 point 5).
        assert_eq!(
            rules(&sign(&facts, &RuleConfig::default())),
            vec![
                InitiationEligibility,
                Contraindication,
                LiverFunction,
                InfusionMonitoring,
                PatientCounselling
            ]
        );
    }

    #[test]
    fn re_treated_patient_goes_to_r4_not_r1() {
        use RuleCode::*;
        let facts = FactsBuilder::new()
            .med(alemtuzumab(Some("2023-09-01")))
            .panel("2024-05-20")
            .build();
        let f = sign(&facts, &RuleConfig::default());
        assert_eq!(
            rules(&f),
            vec![ReAdministration, InfusionMonitoring, PatientCounselling]
        );
        assert_eq!(f[0].severity, Severity::Critical);
    }

    #[test]
    fn each_order_in_turn_then_gaps() {
        use RuleCode::*;
        let facts = FactsBuilder::eligible().gap(DataSet::LiverLabs).build();
        let mut second = order("2024-06-02");
        second.reference = "MedicationRequest/draft-2".into();
        second.authored_on = None;
        let f = evaluate(
            &facts,
            &[order(ORDER_DATE), second],
            HookKind::OrderSelect,
            &RuleConfig::default(),
            d("2024-06-03"),
        );
        assert_eq!(
            rules(&f),
            vec![
                InfusionMonitoring,
                PatientCounselling,
                InfusionMonitoring,
                PatientCounselling,
                DataUnavailable
            ]
        );
        assert_eq!(f[2].order.as_ref().map(|o| o.date), Some(d("2024-06-03")));
        assert_eq!(f[4].order, None);
        assert_eq!(f[4].severity, Severity::Warning);
        // A new patient: the labs gap blocks R3 here, not R4.
        assert_eq!(blocked(&f[4]), vec![LiverFunction]);
    }

    #[test]
    fn gaps_name_only_the_rules_of_this_call() {
        use RuleCode::*;
        let facts = FactsBuilder::eligible()
            .gap(DataSet::BloodPressure)
            .gap(DataSet::MedicationRequests)
            .build();
        let f = evaluate(
            &facts,
            &[],
            HookKind::OrderSign,
            &RuleConfig::default(),
            d(ORDER_DATE),
        );
        // Blood pressure blocks only contraindications: nothing under ansm-2019.
        assert_eq!(rules(&f), vec![DataUnavailable]);
        assert_eq!(
            blocked(&f[0]),
            vec![InitiationEligibility, ReAdministration]
        );
        let f = evaluate(&facts, &[], HookKind::OrderSign, &ema(), d(ORDER_DATE));
        assert_eq!(rules(&f), vec![DataUnavailable, DataUnavailable]);
        assert_eq!(blocked(&f[0]), vec![Contraindication]);
        assert_eq!(
            blocked(&f[1]),
            vec![InitiationEligibility, ReAdministration, Contraindication]
        );
    }

    #[test]
    fn patient_view() {
        use RuleCode::*;
        let cfg = RuleConfig::default();
        let today = d(ORDER_DATE);
        let pv = |facts: &PatientFacts| evaluate(facts, &[], HookKind::PatientView, &cfg, today);
        // Never exposed: nothing, even with a labs gap.
        let facts = FactsBuilder::eligible().gap(DataSet::LiverLabs).build();
        assert!(pv(&facts).is_empty());
        // Exposure unknown: the medication gap blocks R3.
        let facts = FactsBuilder::eligible()
            .gap(DataSet::MedicationAdministrations)
            .gap(DataSet::Patient)
            .build();
        let f = pv(&facts);
        assert_eq!(rules(&f), vec![DataUnavailable]);
        assert_eq!(blocked(&f[0]), vec![LiverFunction]);
        // Exposed, panel overdue and abnormal; never R4 on patient-view.
        let facts = FactsBuilder::new()
            .med(alemtuzumab(Some("2023-09-01")))
            .panel("2024-03-01")
            .lab(lab(LabTest::Alt, 400.0, "2024-03-01"))
            .class(ConditionClass::ImmuneReaction(ImmuneReaction::Hlh), "HLH")
            .build();
        let f = pv(&facts);
        assert_eq!(rules(&f), vec![LiverFunction, LiverFunction]);
        assert!(f.iter().all(|f| f.order.is_none()));
    }

    #[test]
    fn entered_in_error_condition_is_ignored_end_to_end() {
        let mut hiv = condition(
            ConditionClass::Contraindication(ContraindicationKind::Hiv),
            "HIV",
        );
        hiv.verification = Verification::EnteredInError;
        let facts = FactsBuilder::eligible().cond(hiv).build();
        assert!(!rules(&sign(&facts, &ema())).contains(&RuleCode::Contraindication));
    }

    #[test]
    fn output_is_deterministic() {
        let facts = FactsBuilder::eligible()
            .born("2010-01-01")
            .gap(DataSet::Conditions)
            .gap(DataSet::LiverLabs)
            .build();
        assert_eq!(sign(&facts, &ema()), sign(&facts, &ema()));
    }

    /// Data a rule reads only to show it or to word its finding, which a gap in does not leave the
    /// rule unchecked: the only reads a rule may leave out of its `NEEDS`.
    const SHOWN_ONLY: &[(RuleCode, &[DataSet])] = &[
        // R2 shows the last blood pressure as the baseline; the monitoring plan stands without it.
        (RuleCode::InfusionMonitoring, &[DataSet::BloodPressure]),
        // R3 words results and monitoring by exposure; on patient-view `evaluate` blocks R3 on a
        // medication gap itself (exposure, hence monitoring, cannot be established).
        (
            RuleCode::LiverFunction,
            &[
                DataSet::MedicationRequests,
                DataSet::MedicationStatements,
                DataSet::MedicationAdministrations,
            ],
        ),
    ];

    /// The facts without what `data` brings (as if it had come back empty).
    fn without(facts: &PatientFacts, data: &DataSet) -> PatientFacts {
        let mut facts = facts.clone();
        let source = |source: MedicationSource, facts: &mut PatientFacts| {
            facts.medications.retain(|m| m.source != source);
        };
        match data {
            DataSet::Patient => facts.birth_date = None,
            DataSet::Conditions => facts.conditions.clear(),
            DataSet::MedicationRequests => source(MedicationSource::Request, &mut facts),
            DataSet::MedicationStatements => source(MedicationSource::Statement, &mut facts),
            DataSet::MedicationAdministrations => {
                source(MedicationSource::Administration, &mut facts)
            }
            DataSet::LiverLabs => facts.labs.clear(),
            DataSet::BloodPressure => facts.blood_pressures.clear(),
            DataSet::Allergies => facts.allergies.clear(),
            DataSet::Medication(_) | DataSet::Resource(_) => {}
        }
        facts
    }

    mod prop {
        use super::super::testkit::strategies::call;
        use super::super::*;
        use super::{without, SHOWN_ONLY};
        use proptest::prelude::*;
        proptest! {
            // No regression files: this crate's tree outside src/rules is not ours to write.
            #![proptest_config(ProptestConfig {
                cases: 512,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]
            #[test]
            fn evaluate_never_panics_and_is_deterministic(
                (facts, orders, hook, cfg, today) in call(),
            ) {
                let findings = evaluate(&facts, &orders, hook, &cfg, today);
                if hook == HookKind::PatientView {
                    prop_assert!(findings.iter().all(|f| f.order.is_none()));
                } else {
                    // R2 and R5 for every order, whatever the data.
                    let reminders = findings
                        .iter()
                        .filter(|f| f.rule == RuleCode::PatientCounselling)
                        .count();
                    prop_assert_eq!(reminders, orders.len());
                }
                // NaN thresholds are not equal to themselves: compare the rendering.
                let again = evaluate(&facts, &orders, hook, &cfg, today);
                prop_assert_eq!(format!("{findings:?}"), format!("{again:?}"));
            }

            /// Forgetting to declare a need fails here: a rule whose conclusions change when a
            /// data set comes back empty reads it, so a gap in it must leave the rule unchecked
            /// (the data set is in the rule's `NEEDS`), unless it only shows that data
            /// ([`SHOWN_ONLY`]).
            #[test]
            fn a_rule_that_reads_a_data_set_needs_it(
                (facts, orders, hook, cfg, today) in call(),
            ) {
                let of = |findings: &[Finding], rule: RuleCode| -> String {
                    let mine: Vec<&Finding> = findings.iter().filter(|f| f.rule == rule).collect();
                    format!("{mine:?}")
                };
                let findings = evaluate(&facts, &orders, hook, &cfg, today);
                for spec in &DATA_SETS {
                    let emptied = evaluate(&without(&facts, &spec.set), &orders, hook, &cfg, today);
                    for rule in &RULES {
                        let shown_only = SHOWN_ONLY
                            .iter()
                            .any(|(r, sets)| *r == rule.code && sets.contains(&spec.set));
                        if rule.needs.contains(&spec.set) || shown_only {
                            continue;
                        }
                        prop_assert_eq!(
                            of(&findings, rule.code),
                            of(&emptied, rule.code),
                            "{:?} reads {} but does not declare it in its NEEDS",
                            rule.code,
                            spec.key
                        );
                    }
                }
            }
        }
    }
}
