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
//! | ema-2020 contraindications | `contraindications.rs` |
//! | new vs re-treated patient, courses | `exposure.rs` |
//! | codes (RxNorm, ATC, SNOMED CT, ICD-10, LOINC) | `terminology.rs` |
//! | whole months / years, birthday-exact | `calendar.rs` |
//!
//! # What [`evaluate`] returns, in this order
//! - Order hooks (order-sign, order-select), for each draft order in turn (order date = `authoredOn`,
//!   else today): R1 for a new patient or R4 for a re-treated one, the ema-2020 contraindications,
//!   R3 (panel before the course, abnormal results), R2, R5.
//! - Patient-view: R3 (monitoring overdue, abnormal results) for a patient exposed to alemtuzumab.
//!   Never R4 (nothing is being ordered).
//! - Then one `data-unavailable` finding per gap, naming the rules it leaves unchecked *in this
//!   call*; a gap that blocks none of them is left out. On order hooks: R1 unless the patient is
//!   known to be exposed, R4 unless known to be new (a medication gap leaves both open),
//!   contraindications only under ema-2020, R3. On patient-view: R3 only; a medication gap blocks
//!   it too, since exposure (hence monitoring) cannot be established.
//! - Patient-view for a patient with no alemtuzumab on record and no medication gap: nothing.

mod calendar;
pub mod contraindications;
pub mod exposure;
pub mod facts;
pub mod findings;
pub mod r1_initiation;
pub mod r2_infusion_monitoring;
pub mod r3_liver_function;
pub mod r4_readministration;
pub mod r5_patient_counselling;
pub mod terminology;
#[cfg(test)]
pub(crate) mod testkit;

pub use facts::*;
pub use findings::*;


/// Thresholds of the rules. Every number of `lemtrada-rules.md` §2 is here, with its default.
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
        }
    }
}

impl RuleConfig {
    /// Distinct prior DMT ingredients the active profile requires.
    pub fn required_dmts(&self) -> u32 {
        match self.profile {
            Profile::Ansm2019 => self.required_dmts_ansm_2019,
            Profile::Ema2020 => self.required_dmts_ema_2020,
        }
    }
}
