//! Plain Rust facts about one patient and the draft orders, as the rules see them.
//!
//! `fhir::facts` builds these from FHIR R4 resources; the rules never see JSON, fhirbolt or the clock.
//! Where FHIR left something unknown (no date, no unit, no reference range) the fact holds `None`
//! and the rule reports "could not check" instead of passing.

use chrono::NaiveDate;

/// A code in a code system, as found on a FHIR Coding (`system`, `code`), both non-empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Code {
    pub system: String,
    pub code: String,
}

impl Code {
    pub fn new(system: impl Into<String>, code: impl Into<String>) -> Self {
        Self {
            system: system.into(),
            code: code.into(),
        }
    }
}

/// Which text of the regulation the hospital follows (configuration `rules.profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// ANSM letter to health professionals of 30/04/2019: ≥ 2 prior DMTs.
    #[default]
    Ansm2019,
    /// European Commission decision of 16/01/2020 (current SmPC): ≥ 1 prior DMT, more contraindications.
    Ema2020,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Ansm2019 => "ansm-2019",
            Profile::Ema2020 => "ema-2020",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ansm-2019" => Some(Profile::Ansm2019),
            "ema-2020" => Some(Profile::Ema2020),
            _ => None,
        }
    }

    // What each text decides (docs/clinical-rules.md §1): the rules ask these, never which
    // profile it is, so a third text is one new value answering each of them.

    /// Whether the contraindications added by the European Commission decision of 16/01/2020
    /// (SmPC §4.3 since then) are checked: severe active infection, uncontrolled hypertension
    /// (diagnosis or last blood pressure), cervicocephalic arterial dissection, stroke, angina,
    /// myocardial infarction, coagulopathy and antithrombotic therapy, other autoimmune disease.
    /// The ANSM letter of 30/04/2019 predates them: under it only the contraindications of the
    /// SmPC since 2013 (hypersensitivity, HIV) are checked, which every profile checks.
    pub fn checks_2020_contraindications(self) -> bool {
        match self {
            Profile::Ansm2019 => false,
            Profile::Ema2020 => true,
        }
    }

    /// Distinct prior DMT ingredients a new patient must have had as a full and adequate course:
    /// the ANSM letter of 30/04/2019 says "at least two other DMTs"
    /// (`rules.required_dmts_ansm_2019`, default 2), the EMA 2020 SmPC §4.1 "at least one DMT"
    /// (`rules.required_dmts_ema_2020`, default 1). The numbers are configuration; the profile
    /// says which one applies.
    pub fn required_dmts(self, cfg: &crate::rules::RuleConfig) -> u32 {
        match self {
            Profile::Ansm2019 => cfg.required_dmts_ansm_2019,
            Profile::Ema2020 => cfg.required_dmts_ema_2020,
        }
    }
}

/// Everything the rules know about the patient.
#[derive(Debug, Clone, Default)]
pub struct PatientFacts {
    /// `Patient.birthDate`; `None` when the Patient has none, or when the Patient could not be read
    /// (then `gaps` says so).
    pub birth_date: Option<NaiveDate>,
    pub conditions: Vec<ConditionFact>,
    /// Medication history: MedicationRequest, MedicationStatement and MedicationAdministration.
    /// Draft orders of the current hook call are *not* in here.
    pub medications: Vec<MedicationFact>,
    pub labs: Vec<LabFact>,
    pub blood_pressures: Vec<BloodPressureFact>,
    /// AllergyIntolerance records (prefetch key `allergies`); only the rules decide which matter.
    pub allergies: Vec<AllergyFact>,
    /// The *other* draft orders of this hook call (not alemtuzumab), classified like the history:
    /// another DMT or an antithrombotic drafted with alemtuzumab is a finding. `status` is `Draft`.
    pub other_drafts: Vec<MedicationFact>,
    /// Data that could not be obtained: each becomes a `data-unavailable` finding.
    pub gaps: Vec<DataGap>,
}

impl PatientFacts {
    /// Conditions that are on record: entered-in-error and refuted ones are ignored.
    pub fn conditions_on_record(&self) -> impl Iterator<Item = &ConditionFact> {
        self.conditions.iter().filter(|c| c.is_on_record())
    }

    /// Medication records that say the patient really received (or is receiving) the drug.
    pub fn medications_taken(&self) -> impl Iterator<Item = &MedicationFact> {
        self.medications
            .iter()
            .filter(|m| m.status.counts_as_taken())
    }

    /// Lab results that count: cancelled and entered-in-error ones are ignored.
    pub fn valid_labs(&self) -> impl Iterator<Item = &LabFact> {
        self.labs.iter().filter(|l| l.status.is_valid())
    }

    /// The other draft orders of this call that are DMTs (alemtuzumab is given alone).
    pub fn concurrent_dmt_drafts(&self) -> impl Iterator<Item = &MedicationFact> {
        self.other_drafts
            .iter()
            .filter(|m| matches!(m.class, MedicationClass::Dmt { .. }))
    }

    /// True when a data set that `rule` needs could not be obtained.
    pub fn has_gap_for(&self, rule: crate::rules::RuleCode) -> bool {
        self.gaps.iter().any(|g| g.data.blocks().contains(&rule))
    }

    /// True when the data set itself could not be obtained.
    pub fn has_gap(&self, data: &DataSet) -> bool {
        self.gaps.iter().any(|g| &g.data == data)
    }
}

// ---------------------------------------------------------------------------------------------
// Conditions

#[derive(Debug, Clone, PartialEq)]
pub struct ConditionFact {
    /// `Condition/<id>` (or `Condition` when the resource has no id).
    pub reference: String,
    /// What the card shows: `code.text`, else the first coding's display, else `system|code`.
    pub label: String,
    /// What the terminology module recognised in `Condition.code`. Empty when nothing matched.
    pub classes: Vec<ConditionClass>,
    pub clinical_status: ClinicalStatus,
    pub verification: Verification,
    /// `onset[x]` (dateTime or period start), else `recordedDate`. `None` when undated.
    pub onset: Option<NaiveDate>,
}

impl ConditionFact {
    pub fn is_on_record(&self) -> bool {
        self.verification.is_on_record()
    }

    /// Active for contraindication purposes: active, recurrence, relapse, or no status at all
    /// (an undocumented status is not proof of resolution).
    pub fn is_active(&self) -> bool {
        matches!(
            self.clinical_status,
            ClinicalStatus::Active
                | ClinicalStatus::Recurrence
                | ClinicalStatus::Relapse
                | ClinicalStatus::Unknown
        )
    }

    pub fn has_class(&self, class: ConditionClass) -> bool {
        self.classes.contains(&class)
    }
}

/// What a condition code means for the rules. One condition may carry several classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionClass {
    Ms(MsType),
    ImmuneReaction(ImmuneReaction),
    Contraindication(ContraindicationKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MsType {
    /// Relapsing-remitting MS (SNOMED 426373005, ICD-10-CM G35.A, ICD-10-GM G35.1x).
    RelapsingRemitting,
    PrimaryProgressive,
    SecondaryProgressive,
    /// MS without subtype (WHO G35, ICD-10-CM G35.D, SNOMED 24700007): RRMS cannot be confirmed.
    Unspecified,
}

/// Serious immune reactions and liver injury (R4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImmuneReaction {
    AutoimmuneHepatitis,
    /// Toxic liver disease / drug-induced liver injury (ICD-10 K71.x).
    LiverInjury,
    Hlh,
    ImmuneThrombocytopenia,
    AntiGbmDisease,
    Ttp,
    AcquiredHaemophiliaA,
    AutoimmuneEncephalitis,
    /// Autoimmune thyroid disease: a warning rather than critical by default.
    ThyroidDisease,
    /// Autoimmune cytopenia: autoimmune haemolytic anaemia, autoimmune neutropenia, pancytopenia.
    AutoimmuneCytopenia,
    /// Adult-onset Still's disease.
    AdultOnsetStillsDisease,
}

/// Contraindications: hypersensitivity and HIV under both profiles, the rest under `ema-2020`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContraindicationKind {
    /// Hypersensitivity to alemtuzumab (AllergyIntolerance); both profiles.
    Hypersensitivity,
    /// Both profiles.
    Hiv,
    SevereActiveInfection,
    /// Any hypertension diagnosis; alone it is not a contraindication (only uncontrolled is).
    Hypertension,
    /// A diagnosis that says the hypertension is uncontrolled.
    UncontrolledHypertension,
    CervicocephalicArterialDissection,
    Stroke,
    Angina,
    MyocardialInfarction,
    Coagulopathy,
    /// Autoimmune disease other than MS.
    OtherAutoimmuneDisease,
    /// Anticoagulant or anti-platelet therapy (a medication taken, or a "long-term use of
    /// anticoagulants / antithrombotics" diagnosis such as ICD-10-CM Z79.01).
    AntithromboticTherapy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClinicalStatus {
    Active,
    Recurrence,
    Relapse,
    Inactive,
    Remission,
    Resolved,
    /// No clinicalStatus, or a code we do not know.
    #[default]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verification {
    Confirmed,
    Provisional,
    Differential,
    Unconfirmed,
    Refuted,
    EnteredInError,
    #[default]
    Unknown,
}

impl Verification {
    /// Refuted and entered-in-error records are not on record; every other status is.
    pub fn is_on_record(self) -> bool {
        !matches!(self, Verification::Refuted | Verification::EnteredInError)
    }
}

// ---------------------------------------------------------------------------------------------
// Medications

#[derive(Debug, Clone, PartialEq)]
pub struct MedicationFact {
    /// `MedicationStatement/<id>` etc.
    pub reference: String,
    pub source: MedicationSource,
    pub class: MedicationClass,
    /// What the card shows (medication text or display).
    pub label: String,
    pub status: MedicationStatus,
    /// Start of the treatment or the administration date. `None` when undated.
    pub start: Option<NaiveDate>,
    /// End of the treatment; `None` when ongoing or unknown (see `status`).
    pub end: Option<NaiveDate>,
    pub stop_reason: StopReason,
    /// `MedicationRequest.intent`; `None` for statements and administrations.
    pub intent: Option<RequestIntent>,
}

/// `MedicationRequest.intent`, grouped the way exposure needs it: only an *order* that was
/// completed says the drug was given; a proposal or plan never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestIntent {
    /// `order`, `original-order`, `reflex-order`, `filler-order`, `instance-order`.
    Order,
    /// `proposal`.
    Proposal,
    /// `plan`.
    Plan,
    /// `directive`, `option`, absent or unknown.
    Other,
}

impl RequestIntent {
    pub fn parse(code: &str) -> Self {
        match code {
            "order" | "original-order" | "reflex-order" | "filler-order" | "instance-order" => {
                RequestIntent::Order
            }
            "proposal" => RequestIntent::Proposal,
            "plan" => RequestIntent::Plan,
            _ => RequestIntent::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MedicationSource {
    Request,
    Statement,
    Administration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MedicationClass {
    /// Alemtuzumab. `campath` when the product code is the oncology product (Campath).
    Alemtuzumab {
        campath: bool,
    },
    /// A disease-modifying therapy for MS; `ingredient` is the terminology key (INN, grouped:
    /// peginterferon beta-1a counts as interferon beta-1a).
    Dmt {
        ingredient: String,
    },
    /// Anticoagulant or anti-platelet agent (ATC B01AA, B01AB, B01AC, B01AE, B01AF).
    Antithrombotic,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MedicationStatus {
    Active,
    Completed,
    Stopped,
    OnHold,
    Intended,
    Draft,
    NotTaken,
    Cancelled,
    EnteredInError,
    #[default]
    Unknown,
}

impl MedicationStatus {
    /// Whether a record with this status shows the drug was (or is being) given.
    pub fn counts_as_taken(self) -> bool {
        matches!(
            self,
            MedicationStatus::Active
                | MedicationStatus::Completed
                | MedicationStatus::Stopped
                | MedicationStatus::OnHold
                | MedicationStatus::Unknown
        )
    }

    /// Still going on (no end expected yet).
    pub fn is_ongoing(self) -> bool {
        matches!(self, MedicationStatus::Active | MedicationStatus::OnHold)
    }
}

/// Why a treatment was stopped, from `statusReason` / `reasonCode` text or codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StopReason {
    #[default]
    None,
    /// Stopped for lack of efficacy: counts as a full and adequate course whatever its length.
    Inefficacy,
    /// Stopped for intolerance: does *not* make a short course adequate.
    Intolerance,
    Other,
}

// ---------------------------------------------------------------------------------------------
// Observations

#[derive(Debug, Clone, PartialEq)]
pub struct LabFact {
    /// `Observation/<id>`.
    pub reference: String,
    pub test: LabTest,
    pub value: Option<f64>,
    /// `valueQuantity.unit`, else `.code`, as written.
    pub unit: Option<String>,
    pub date: Option<NaiveDate>,
    /// `referenceRange.high.value`, the lab's upper limit of normal.
    pub reference_high: Option<f64>,
    pub status: ObservationStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabTest {
    Alt,
    Ast,
    TotalBilirubin,
}

impl LabTest {
    pub const PANEL: [LabTest; 3] = [LabTest::Alt, LabTest::Ast, LabTest::TotalBilirubin];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ObservationStatus {
    Final,
    Amended,
    Corrected,
    Preliminary,
    Registered,
    Cancelled,
    EnteredInError,
    #[default]
    Unknown,
}

impl ObservationStatus {
    pub fn is_valid(self) -> bool {
        !matches!(
            self,
            ObservationStatus::Cancelled | ObservationStatus::EnteredInError
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Allergies and intolerances

/// One AllergyIntolerance record.
#[derive(Debug, Clone, PartialEq)]
pub struct AllergyFact {
    /// `AllergyIntolerance/<id>`.
    pub reference: String,
    /// What the card shows: `code.text`, else the first coding's display, else `system|code`.
    pub label: String,
    /// The substance (`code`) is alemtuzumab (terminology: any alemtuzumab code or text, Campath
    /// included: a hypersensitivity to the molecule is one whatever the product).
    pub alemtuzumab: bool,
    /// `clinicalStatus`: active, inactive, resolved; `Unknown` when absent.
    pub clinical_status: ClinicalStatus,
    pub verification: Verification,
    /// `onsetDateTime`, else `recordedDate`.
    pub onset: Option<NaiveDate>,
}

impl AllergyFact {
    /// On record and not resolved: refuted, entered-in-error, inactive and resolved ones do not count.
    pub fn is_current(&self) -> bool {
        self.verification.is_on_record()
            && !matches!(
                self.clinical_status,
                ClinicalStatus::Inactive | ClinicalStatus::Resolved
            )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BloodPressureFact {
    pub reference: String,
    pub systolic: Option<f64>,
    pub diastolic: Option<f64>,
    pub date: Option<NaiveDate>,
}

// ---------------------------------------------------------------------------------------------
// Orders

/// An alemtuzumab draft order of the hook call (only alemtuzumab orders reach the rules).
#[derive(Debug, Clone, PartialEq)]
pub struct DraftOrder {
    /// `MedicationRequest/<id>`: what the delete suggestion points at.
    pub reference: String,
    /// Medication text for the card.
    pub label: String,
    /// `authoredOn`, shown on the card only: every rule is evaluated at the hook call's date
    /// (a pended order signed months later is judged on today's age and labs).
    pub authored_on: Option<NaiveDate>,
    pub campath: bool,
    /// The order's Medication could not be read, and it was recognised as alemtuzumab from the
    /// reference's `display` only (the card says so).
    pub identified_by_display: bool,
}

/// Which hook is being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    OrderSign,
    OrderSelect,
    PatientView,
}

impl HookKind {
    /// Every hook this service answers.
    pub const ALL: [HookKind; 3] = [
        HookKind::OrderSign,
        HookKind::OrderSelect,
        HookKind::PatientView,
    ];

    /// The hook's name on the wire (cds-hooks.org hook definitions): the one spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            HookKind::OrderSign => "order-sign",
            HookKind::OrderSelect => "order-select",
            HookKind::PatientView => "patient-view",
        }
    }

    /// The hook named `name`, if this service answers it.
    pub fn from_name(name: &str) -> Option<HookKind> {
        HookKind::ALL.into_iter().find(|h| h.as_str() == name)
    }
}

// ---------------------------------------------------------------------------------------------
// Data that could not be obtained

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataGap {
    pub data: DataSet,
    pub reason: GapReason,
}

/// What could not be obtained. The named sets are declared, with their prefetch key and query,
/// once in `data_sets.rs` ([`crate::rules::DATA_SETS`]); the rules a gap blocks are derived from
/// what each rule needs ([`crate::rules::RULES`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DataSet {
    Patient,
    Conditions,
    MedicationRequests,
    MedicationStatements,
    MedicationAdministrations,
    LiverLabs,
    BloodPressure,
    /// AllergyIntolerance (hypersensitivity to alemtuzumab).
    Allergies,
    /// The Medication a `medicationReference` points at (the reference).
    Medication(String),
    /// A resource that was present but could not be read (e.g. `MedicationRequest/abc`).
    Resource(String),
}

/// Why data is missing. Rendered in the card's detail; never carries a token or patient data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GapReason {
    /// Not in the prefetch and no `fhirServer` to ask.
    NotProvided,
    /// The FHIR server could not be reached (connection refused, reset, DNS).
    Unreachable,
    /// The hook call's deadline passed before the answer came.
    Timeout,
    /// The FHIR server answered with this HTTP status.
    HttpStatus(u16),
    /// The answer was not FHIR JSON.
    NotFhirJson,
    /// The prefetch or server gave an OperationOutcome (its diagnostics, trimmed).
    OperationOutcome(String),
    /// More pages than the configured limit.
    PageLimit(u32),
    /// A `next` link pointed back at a page already read, or to another origin.
    BadNextLink,
    /// The resource was there but could not be read as FHIR R4 (the parser's message).
    Unreadable(String),
    /// `fhirServer` is not on the allow-list (the host).
    ServerNotAllowed(String),
    /// Not read: a per-call limit was reached (`setting` = `limit`); `not_read` resources were left
    /// out (`fhir.max_medication_reads`, `fhir.max_call_response_bytes`).
    CallLimit {
        setting: &'static str,
        limit: u64,
        not_read: u32,
    },
}
