//! Card texts in English. Pharmacist review: this file holds everything an English-speaking
//! prescriber sees. `{…}` arguments are record values (already escaped), dates already formatted
//! by `fmt_date` (ISO YYYY-MM-DD, kept in English prose) or numbers already formatted (decimal
//! point).

use crate::cards::OverrideReason;
use chrono::NaiveDate;

use crate::rules::{
    ContraindicationKind, Criterion, DataSet, DmtCourseStatus, GapReason, ImmuneReaction, LabTest,
    MedicationSource, Profile, RuleCode, StopReason, UlnSource, WeakExposureReason,
};

use super::{fit_names, LabLine, Texts, WeakLine};
use crate::cards::contraindications::ContraindicationTexts;
use crate::cards::data_unavailable::DataUnavailableTexts;
use crate::cards::r1_initiation::{DmtLine, InitiationTexts, InitiationWarningKind};
use crate::cards::r2_infusion_monitoring::{BpAge, InfusionTexts};
use crate::cards::r3_liver_function::{LiverSummary, LiverTexts};
use crate::cards::r4_readministration::{ReadminTexts, SignalKind};
use crate::cards::r5_patient_counselling::CounsellingTexts;

pub struct En;

fn or_unknown(d: Option<&str>) -> &str {
    d.unwrap_or("unknown date")
}

impl Texts for En {
    // --- Names ---------------------------------------------------------------------------------
    fn decimal_separator(&self) -> char {
        '.'
    }

    fn fmt_date(&self, date: NaiveDate) -> String {
        crate::cards::format::fmt_date(date)
    }

    fn ingredient_name(&self, key: &str) -> String {
        // The terminology keys are the English INNs.
        key.to_string()
    }

    fn service_name(&self) -> &'static str {
        "Alemtuzumab safety"
    }

    fn profile_short(&self, profile: Profile) -> &'static str {
        match profile {
            Profile::Ansm2019 => "ANSM 2019",
            Profile::Ema2020 => "EMA 2020",
        }
    }

    fn profile_long(&self, profile: Profile) -> &'static str {
        match profile {
            Profile::Ansm2019 => {
                "ANSM letter to health professionals of 2019-04-30 (updated 2021-04-15): \
                 restrictions of use of alemtuzumab (Lemtrada)"
            }
            Profile::Ema2020 => {
                "European Commission decision of 2020-01-16 after the EMA review (current Lemtrada \
                 SmPC)"
            }
        }
    }

    fn rule_title(&self, rule: RuleCode) -> &'static str {
        match rule {
            RuleCode::InitiationEligibility => "R1 — Eligibility to start treatment",
            RuleCode::InfusionMonitoring => "R2 — Infusion monitoring",
            RuleCode::LiverFunction => "R3 — Liver function",
            RuleCode::ReAdministration => "R4 — Re-administration of alemtuzumab",
            RuleCode::PatientCounselling => "R5 — Patient information",
            RuleCode::Contraindication => "Contraindications",
            RuleCode::DataUnavailable => "Data unavailable",
        }
    }

    fn rule_tag(&self, rule: RuleCode) -> &'static str {
        match rule {
            RuleCode::InitiationEligibility => "R1",
            RuleCode::InfusionMonitoring => "R2",
            RuleCode::LiverFunction => "R3",
            RuleCode::ReAdministration => "R4",
            RuleCode::PatientCounselling => "R5",
            RuleCode::Contraindication => "contraindications",
            RuleCode::DataUnavailable => "data",
        }
    }

    fn rule_measure(&self, rule: RuleCode, profile: Profile) -> &'static str {
        match (rule, profile) {
            (RuleCode::InitiationEligibility, Profile::Ansm2019) => {
                "A new patient may only start alemtuzumab as an adult with highly active \
                 relapsing-remitting multiple sclerosis (RRMS) despite a full and adequate course \
                 of at least two other disease-modifying therapies (DMTs), or in \"adult patients \
                 with highly active RRMS for whom all other DMTs are contraindicated or \
                 unsuitable\"."
            }
            (RuleCode::InitiationEligibility, Profile::Ema2020) => {
                "A new patient may only start alemtuzumab as an adult with highly active \
                 relapsing-remitting multiple sclerosis (RRMS) despite a full and adequate course \
                 of at least one disease-modifying therapy (DMT), or in adult patients with rapidly \
                 evolving severe RRMS."
            }
            (RuleCode::InfusionMonitoring, _) => {
                "Vital signs, including blood pressure, must be monitored before and regularly \
                 during the infusion; if clinically significant changes occur, stopping the \
                 infusion and further monitoring, including an ECG, must be considered."
            }
            (RuleCode::LiverFunction, _) => {
                "Liver function must be evaluated before and during treatment."
            }
            (RuleCode::ReAdministration, _) => {
                "After symptoms of liver injury or other serious immune reactions, treatment may \
                 only be re-administered after rigorous evaluation."
            }
            (RuleCode::PatientCounselling, _) => {
                "Patients must be told to seek medical care immediately for symptoms in the few \
                 days after the infusion, or for symptoms of liver injury."
            }
            (RuleCode::Contraindication, Profile::Ansm2019) => {
                "Under the Lemtrada SmPC (section 4.3, since 2013), alemtuzumab is \
                 contraindicated with hypersensitivity to the active substance or any excipient \
                 and with HIV infection: these are checked under both rule profiles."
            }
            (RuleCode::Contraindication, Profile::Ema2020) => {
                "Under the current SmPC (section 4.3), alemtuzumab is contraindicated with \
                 hypersensitivity to the active substance or any excipient, HIV \
                 infection, severe active infection, uncontrolled hypertension, a history of \
                 cervicocephalic arterial dissection, stroke, angina or myocardial infarction, a \
                 known coagulopathy or anti-platelet or anticoagulant therapy, and autoimmune \
                 disease other than MS."
            }
            (RuleCode::DataUnavailable, _) => {
                "A safety rule whose data could not be obtained is never treated as passed."
            }
        }
    }

    fn medication_source_name(&self, source: MedicationSource) -> &'static str {
        match source {
            MedicationSource::Request => "order",
            MedicationSource::Statement => "medication statement",
            MedicationSource::Administration => "administration",
        }
    }

    fn lab_test_name(&self, test: LabTest) -> &'static str {
        match test {
            LabTest::Alt => "ALT",
            LabTest::Ast => "AST",
            LabTest::TotalBilirubin => "total bilirubin",
        }
    }

    fn immune_reaction_name(&self, reaction: ImmuneReaction) -> &'static str {
        match reaction {
            ImmuneReaction::AutoimmuneHepatitis => "autoimmune hepatitis",
            ImmuneReaction::LiverInjury => "toxic or drug-induced liver injury",
            ImmuneReaction::Hlh => "haemophagocytic lymphohistiocytosis (HLH)",
            ImmuneReaction::ImmuneThrombocytopenia => "immune thrombocytopenia (ITP)",
            ImmuneReaction::AntiGbmDisease => {
                "anti-glomerular basement membrane (anti-GBM) disease"
            }
            ImmuneReaction::Ttp => "thrombotic thrombocytopenic purpura (TTP)",
            ImmuneReaction::AcquiredHaemophiliaA => "acquired haemophilia A",
            ImmuneReaction::AutoimmuneEncephalitis => "autoimmune encephalitis",
            ImmuneReaction::ThyroidDisease => "autoimmune thyroid disease",
            ImmuneReaction::AutoimmuneCytopenia => {
                "autoimmune cytopenia (autoimmune haemolytic anaemia, neutropenia, pancytopenia)"
            }
            ImmuneReaction::AdultOnsetStillsDisease => "adult-onset Still's disease",
        }
    }

    fn contraindication_name(&self, kind: ContraindicationKind) -> &'static str {
        match kind {
            ContraindicationKind::Hypersensitivity => "hypersensitivity to alemtuzumab",
            ContraindicationKind::Hiv => "HIV infection",
            ContraindicationKind::SevereActiveInfection => "severe active infection",
            ContraindicationKind::Hypertension => {
                "hypertension (a contraindication when uncontrolled)"
            }
            ContraindicationKind::UncontrolledHypertension => "uncontrolled hypertension",
            ContraindicationKind::CervicocephalicArterialDissection => {
                "history of cervicocephalic arterial dissection"
            }
            ContraindicationKind::Stroke => "history of stroke",
            ContraindicationKind::Angina => "history of angina pectoris",
            ContraindicationKind::MyocardialInfarction => "history of myocardial infarction",
            ContraindicationKind::Coagulopathy => "known coagulopathy",
            ContraindicationKind::OtherAutoimmuneDisease => "autoimmune disease other than MS",
            ContraindicationKind::AntithromboticTherapy => "anticoagulant or anti-platelet therapy",
        }
    }

    fn data_set_name(&self, data: &DataSet) -> &'static str {
        match data {
            DataSet::Patient => "patient, birth date",
            DataSet::Conditions => "diagnoses",
            DataSet::MedicationRequests => "medication orders",
            DataSet::MedicationStatements => "medication statements",
            DataSet::MedicationAdministrations => "medication administrations",
            DataSet::LiverLabs => "liver tests",
            DataSet::BloodPressure => "blood pressure",
            DataSet::Allergies => "allergies and intolerances",
            DataSet::Medication(_) => "referenced medication",
            DataSet::Resource(_) => "unreadable resource",
        }
    }

    fn data_set_detail(&self, data: &DataSet, reference: &str) -> String {
        match data {
            DataSet::Medication(_) => {
                format!("the medication the order points at ({reference})")
            }
            DataSet::Resource(_) => format!("the resource {reference}, present but unreadable"),
            _ => format!(
                "{} (prefetch key \"{reference}\")",
                self.data_set_name(data)
            ),
        }
    }

    fn gap_reason(&self, reason: &GapReason, text: &str) -> String {
        match reason {
            GapReason::NotProvided => {
                "not in the prefetch, and no FHIR server (fhirServer) to ask".into()
            }
            GapReason::Unreachable => "the FHIR server could not be reached".into(),
            GapReason::Timeout => "the FHIR server did not answer in time".into(),
            GapReason::HttpStatus(code) => {
                format!("the FHIR server answered with HTTP status {code}")
            }
            GapReason::NotFhirJson => "the answer was not FHIR JSON".into(),
            GapReason::OperationOutcome(_) if text.is_empty() => {
                "the server returned an OperationOutcome without diagnostics".into()
            }
            GapReason::OperationOutcome(_) => {
                format!("the server returned an OperationOutcome: {text}")
            }
            GapReason::PageLimit(pages) => {
                format!("more than {pages} pages of results (configured limit reached)")
            }
            GapReason::BadNextLink => {
                "a \"next\" link pointed back at a page already read or to another server".into()
            }
            GapReason::Unreadable(_) => format!("the resource is not readable as FHIR R4: {text}"),
            GapReason::ServerNotAllowed(_) => {
                format!("the FHIR server {text} is not on the allow-list")
            }
            GapReason::CallLimit {
                setting,
                limit,
                not_read,
            } => format!(
                "not read: this hook call's limit was reached ({setting} = {limit}); \
                 {not_read} left unread"
            ),
        }
    }

    fn criterion_short(&self, criterion: Criterion, failed: bool) -> &'static str {
        match (criterion, failed) {
            (Criterion::Adult, true) => "patient not an adult",
            (Criterion::Adult, false) => "age unknown",
            (Criterion::RelapsingRemittingMs, true) => "no RRMS on record",
            (Criterion::RelapsingRemittingMs, false) => "RRMS not confirmed",
            (Criterion::PriorDmts, true) => "too few prior DMTs",
            (Criterion::PriorDmts, false) => "prior DMTs not confirmed",
        }
    }

    fn override_display(&self, reason: OverrideReason) -> &'static str {
        match reason {
            OverrideReason::AllOtherDmtsContraindicated => {
                "All other DMTs contraindicated or unsuitable"
            }
            OverrideReason::RapidlyEvolvingSevereRrms => "Rapidly evolving severe RRMS",
            OverrideReason::RrmsConfirmedByNeurologist => "RRMS confirmed by the neurologist",
            OverrideReason::ScheduleDeviationDocumented => {
                "Course schedule justified and documented"
            }
            OverrideReason::DmtHistoryOutsideRecord => "DMT history documented outside this record",
            OverrideReason::CriteriaConfirmedDocumented => {
                "Criteria checked by the prescriber and documented"
            }
            OverrideReason::RigorousEvaluationDocumented => {
                "Rigorous evaluation done and documented"
            }
            OverrideReason::BenefitRiskDocumented => "Benefit-risk assessed and documented",
            OverrideReason::ContraindicationResolved => "Contraindication lifted or resolved",
            OverrideReason::OtherDocumented => "Other (documented in the chart)",
        }
    }

    // --- Common parts --------------------------------------------------------------------------
    fn heading_data(&self) -> &'static str {
        "Data used"
    }

    fn heading_missing(&self) -> &'static str {
        "Missing or not checkable"
    }

    fn heading_attest(&self) -> &'static str {
        "For the prescriber to attest"
    }

    fn profile_line(&self, profile: Profile) -> String {
        format!(
            "Rule profile: **{}** — {}.",
            self.profile_short(profile),
            self.profile_long(profile)
        )
    }

    fn order_line(
        &self,
        reference: &str,
        label: &str,
        date: &str,
        authored_on: Option<&str>,
    ) -> String {
        match authored_on {
            Some(authored) => format!(
                "Order concerned: {label} ({reference}), authored on {authored}, judged as of \
                 {date} (the date of this call: age and tests are judged on that date)."
            ),
            None => format!("Order concerned: {label} ({reference}), evaluated as of {date}."),
        }
    }

    fn order_identified_by_display(&self) -> &'static str {
        "The order's Medication could not be read: the order was recognised as alemtuzumab from \
         the display of its medication reference. Check the drug ordered."
    }

    fn list_separator(&self) -> &'static str {
        "; "
    }

    fn unknown_date(&self) -> &'static str {
        "unknown date"
    }

    fn delete_label(&self) -> &'static str {
        "Cancel the alemtuzumab order"
    }

    fn delete_description(&self, reference: &str) -> String {
        format!("Delete the unsigned order {reference}")
    }

    fn delete_not_offered(&self) -> &'static str {
        "The order reference is not usable, so automatic cancellation is not offered: cancel the \
         order by hand if needed."
    }

    fn override_invitation(&self) -> &'static str {
        "To keep the order, choose an override reason: it is recorded."
    }

    // --- Lines several rules show ----------------------------------------------------------------
    fn weak_exposure_record(&self, l: &WeakLine<'_>) -> String {
        let source = self.medication_source_name(l.source);
        let why = match l.why {
            WeakExposureReason::Proposal => "only a proposal (intent proposal)",
            WeakExposureReason::Plan => "a treatment plan, not an order carried out",
            WeakExposureReason::OrderNotCompleted => "an order never completed",
            WeakExposureReason::Campath => {
                "a Campath (oncology) product, which does not count as MS exposure"
            }
        };
        format!(
            "{} ({}, {source}, {}): {why}",
            l.label,
            l.reference,
            or_unknown(l.date.as_deref())
        )
    }

    fn lab_line(&self, lab: &LabLine<'_>) -> String {
        let value = match (&lab.value, lab.unit) {
            (Some(v), Some(u)) => format!("{v} {u}"),
            (Some(v), None) => format!("{v} (unit not given)"),
            (None, _) => "no numeric value".to_string(),
        };
        let uln = match &lab.uln {
            Some((u, UlnSource::ReferenceRange)) => format!("ULN {u} (the lab's reference range)"),
            Some((u, UlnSource::ConfiguredDefault)) => {
                format!("ULN {u} by default (the lab gave no reference range)")
            }
            None => "ULN unknown".to_string(),
        };
        let ratio = match &lab.ratio {
            Some(r) => format!(", i.e. {r} × ULN"),
            None => String::new(),
        };
        let value = match &lab.original {
            Some(original) => format!("{value} (converted from {original})"),
            None => value,
        };
        format!(
            "{}: {value} on {}; {uln}{ratio} ({})",
            self.lab_test_name(lab.test),
            or_unknown(lab.date.as_deref()),
            lab.reference
        )
    }
}

// --- R1 ------------------------------------------------------------------------------------------
impl InitiationTexts for En {
    fn initiation_summary_failed(&self, failed: &[Criterion]) -> String {
        let names: Vec<&str> = failed
            .iter()
            .map(|c| self.criterion_short(*c, true))
            .collect();
        if names.is_empty() {
            "Alemtuzumab: R1 criteria to start treatment not met, review the order".into()
        } else {
            format!(
                "Alemtuzumab: R1 criteria to start treatment not met ({})",
                names.join(", ")
            )
        }
    }

    fn initiation_summary_unconfirmed(&self, unconfirmed: &[Criterion]) -> String {
        let names: Vec<&str> = unconfirmed
            .iter()
            .map(|c| self.criterion_short(*c, false))
            .collect();
        if names.is_empty() {
            "Alemtuzumab: R1 eligibility to be confirmed by the prescriber".into()
        } else {
            format!(
                "Alemtuzumab: R1 eligibility to be confirmed ({})",
                names.join(", ")
            )
        }
    }

    fn initiation_summary_warnings(&self, kinds: &[InitiationWarningKind]) -> String {
        let names: Vec<String> = kinds
            .iter()
            .map(|k| {
                match k {
                    InitiationWarningKind::WeakExposure => {
                        "alemtuzumab on record, administration not proven"
                    }
                    InitiationWarningKind::ImmuneReaction => {
                        "serious immune reaction with no alemtuzumab on record"
                    }
                    InitiationWarningKind::ConcurrentDmt => "another DMT ordered at the same time",
                }
                .to_string()
            })
            .collect();
        if names.is_empty() {
            return "Alemtuzumab: R1 eligibility to be confirmed by the prescriber".into();
        }
        fit_names(&names, |list| {
            format!("Alemtuzumab: check before starting treatment ({list})")
        })
    }

    fn criteria_failed_line(&self, names: &str) -> String {
        format!("**Criteria not met**: {names}.")
    }

    fn criteria_unconfirmed_line(&self, names: &str) -> String {
        format!("**Criteria the data cannot confirm**: {names}.")
    }

    fn age_known(&self, years: u32, birth_date: &str, adult_failed: bool) -> String {
        let base = format!("Age at the evaluation date: {years} years (born {birth_date})");
        if adult_failed {
            format!("{base} — alemtuzumab is only authorised in adults.")
        } else {
            format!("{base}.")
        }
    }

    fn age_unknown(&self) -> &'static str {
        "Age unknown: no birth date on record."
    }

    fn ms_relapsing_remitting(&self, label: &str) -> String {
        format!("RRMS diagnosis on record: {label}.")
    }

    fn ms_only_progressive(&self, labels: &str, earlier_rrms: Option<&str>) -> String {
        match earlier_rrms {
            Some(rrms) => format!(
                "The current MS phenotype is progressive: {labels}. The earlier RRMS diagnosis \
                 ({rrms}) is inactive or resolved and was followed by a progressive form. \
                 Alemtuzumab is only indicated in RRMS."
            ),
            None => format!(
                "Only progressive MS is on record: {labels}. Alemtuzumab is only indicated in \
                 RRMS."
            ),
        }
    }

    fn ms_conflicting(&self, rrms: &str, progressive: &str) -> String {
        format!(
            "Conflicting MS diagnoses, both active: RRMS ({rrms}) and a progressive form \
             ({progressive}). The current phenotype could not be confirmed."
        )
    }

    fn ms_unspecified(&self, labels: &str) -> String {
        format!(
            "Multiple sclerosis without subtype on record: {labels}. The relapsing-remitting form \
             is not confirmed."
        )
    }

    fn ms_no_diagnosis(&self, unrecognised: Option<&str>) -> String {
        match unrecognised {
            Some(list) => format!(
                "No multiple sclerosis diagnosis recognised on record. Diagnoses the terminology \
                 did not recognise (a locally coded MS may be among them): {list}."
            ),
            None => "No multiple sclerosis diagnosis on record.".into(),
        }
    }

    fn ms_unknown(&self) -> &'static str {
        "The diagnoses could not be obtained: the MS type was not checked."
    }

    fn dmt_heading(&self) -> &'static str {
        "Prior DMTs on record:"
    }

    fn dmt_none(&self, unrecognised: bool) -> &'static str {
        if unrecognised {
            "No prior DMT recognised on record (see the medications not recognised below)."
        } else {
            "No prior DMT on record."
        }
    }

    fn unrecognised_medications_line(&self, labels: &str) -> String {
        format!(
            "Medications on record not recognised by the terminology (possibly DMTs, please \
             check): {labels}."
        )
    }

    fn heading_warnings(&self) -> &'static str {
        "Points to check"
    }

    fn warning_weak_exposure(&self, record: &str) -> String {
        format!(
            "Alemtuzumab on record but administration not proven: {record}. The patient is \
             treated as a new patient: check that no course was ever given."
        )
    }

    fn warning_immune_reaction(
        &self,
        reaction: ImmuneReaction,
        label: &str,
        onset: Option<&str>,
        reference: &str,
    ) -> String {
        format!(
            "**{}** on record: {label} (onset: {}) ({reference}), in a patient with no \
             alemtuzumab on record: possibly an earlier course given elsewhere and not recorded, \
             or an autoimmune disease (a contraindication under the 2020 SmPC). Check before \
             starting.",
            self.immune_reaction_name(reaction),
            or_unknown(onset)
        )
    }

    fn warning_concurrent_dmt(&self, label: &str, reference: &str) -> String {
        format!(
            "Another DMT ordered at the same time: {label} ({reference}). Alemtuzumab is given \
             alone, after the washout of the previous DMT."
        )
    }

    fn attest_warnings(&self) -> &'static str {
        "that the points to check above were checked"
    }

    fn dmt_line(&self, c: &DmtLine<'_>) -> String {
        let source = self.medication_source_name(c.source);
        let start = c.start.as_deref().unwrap_or("start unknown");
        let end = match (&c.end, c.ongoing) {
            (_, true) => "ongoing".to_string(),
            (Some(end), false) => end.clone(),
            (None, false) => "end unknown".to_string(),
        };
        let months = match c.months {
            Some(1) => ", 1 month".to_string(),
            Some(m) => format!(", {m} months"),
            None => String::new(),
        };
        let stop = match c.stop_reason {
            StopReason::None if c.ongoing => "",
            StopReason::None => "; no documented stop reason",
            StopReason::Inefficacy => "; stopped for lack of efficacy",
            StopReason::Intolerance => "; stopped for intolerance",
            StopReason::Other => "; stopped for another reason",
        };
        let status = match c.status {
            DmtCourseStatus::CountedDuration => {
                "**counted**: full and adequate course (long enough)"
            }
            DmtCourseStatus::CountedInefficacy => {
                "**counted**: stopped for lack of efficacy, which counts whatever the length"
            }
            DmtCourseStatus::TooShort => {
                "**not counted**: too short and not stopped for lack of efficacy"
            }
            DmtCourseStatus::CountedCladribineCourse => {
                "**counted**: cladribine tablets, full course (both treatment years given, or 12 \
                 months since the first week)"
            }
            DmtCourseStatus::Undated => "**not counted**: no dates, please specify",
            DmtCourseStatus::SameIngredient => "**not counted**: same ingredient already counted",
        };
        format!(
            "{} ({}, {source}): {start} → {end}{months}{stop} — {status}.",
            c.label, c.ingredient
        )
    }

    fn dmt_count_line(&self, counted: usize, required: u32, ingredients: &str) -> String {
        if counted == 0 {
            format!(
                "Distinct ingredients given as a full and adequate course: none (the profile \
                 requires {required})."
            )
        } else {
            format!(
                "Distinct ingredients given as a full and adequate course: {counted} (the profile \
                 requires {required}): {ingredients}."
            )
        }
    }

    fn attest_highly_active(&self) -> &'static str {
        "that the RRMS is highly active (a clinical judgement the data cannot show)"
    }

    fn attest_dmt_alternative(&self, profile: Profile) -> &'static str {
        match profile {
            Profile::Ansm2019 => {
                "failing enough prior DMTs: that the patient is among the \"adult patients with \
                 highly active RRMS for whom all other DMTs are contraindicated or unsuitable\" \
                 (override reason)"
            }
            Profile::Ema2020 => {
                "failing enough prior DMTs: rapidly evolving severe RRMS, i.e. at least 2 \
                 disabling relapses in 12 months and at least 1 gadolinium-enhancing lesion or a \
                 significant increase in T2 lesion load on MRI (override reason)"
            }
        }
    }

    fn attest_age(&self) -> &'static str {
        "the patient's age (no birth date on record)"
    }

    fn attest_ms_type(&self) -> &'static str {
        "the relapsing-remitting form of the multiple sclerosis"
    }

    fn attest_undated(&self) -> &'static str {
        "the dates and length of the undated DMT courses listed above"
    }

    fn attest_outside_record(&self) -> &'static str {
        "any DMT received but missing from this record (reason \"outside this record\")"
    }
}

// --- R2 ------------------------------------------------------------------------------------------
impl InfusionTexts for En {
    fn infusion_summary(&self) -> &'static str {
        "Alemtuzumab infusion: check BP and heart rate before, at least hourly during, and for at \
         least 2 h after"
    }

    fn infusion_plan(&self, profile: Profile) -> Vec<&'static str> {
        let mut plan = vec![
            "Measure blood pressure and heart rate before the infusion starts.",
            "Measure them at least hourly during the infusion.",
            "Observe the patient for at least 2 hours after the end of the infusion.",
            "On a clinically significant change in vital signs: consider stopping the infusion \
             and further monitoring, including an ECG.",
            "Serious cardiovascular reactions usually occur within 1 to 3 days after the \
             infusion: tell the patient (R5).",
        ];
        if profile == Profile::Ema2020 {
            plan.push("Give only in a hospital with ready access to intensive care.");
        }
        plan
    }

    fn baseline_bp(
        &self,
        systolic: Option<&str>,
        diastolic: Option<&str>,
        date: Option<&str>,
        age: BpAge,
        reference: &str,
    ) -> String {
        let bp = format!(
            "{}/{} mmHg",
            systolic.unwrap_or("?"),
            diastolic.unwrap_or("?")
        );
        let date = or_unknown(date);
        match age {
            BpAge::EvaluationDay => format!(
                "Blood pressure today: {bp} on {date} ({reference}), the baseline for the \
                 infusion."
            ),
            BpAge::Older { days: Some(days) } => format!(
                "Last blood pressure on record: {bp} on {date}, {days} day{} ago ({reference}): \
                 measure a baseline on the day of the infusion.",
                if days == 1 { "" } else { "s" }
            ),
            BpAge::Older { days: None } | BpAge::Undated => format!(
                "Last blood pressure on record: {bp} on {date} ({reference}): measure a baseline \
                 on the day of the infusion."
            ),
        }
    }

    fn baseline_bp_none(&self) -> &'static str {
        "No blood pressure on record: measure a baseline before the infusion."
    }
}

// --- R3 ------------------------------------------------------------------------------------------
impl LiverTexts for En {
    fn liver_summary(&self, situation: &LiverSummary<'_>) -> String {
        match situation {
            LiverSummary::PanelMissing { missing: [], days } => {
                format!("Complete liver panel needed within {days} days before alemtuzumab")
            }
            LiverSummary::PanelMissing { missing, days } => format!(
                "Liver tests needed before alemtuzumab: no result within {days} days for {}",
                missing.join(", ")
            ),
            LiverSummary::MonitoringOverdue {
                last_panel: Some(date),
            } => format!(
                "Monthly liver monitoring after alemtuzumab is overdue: last complete panel on \
                 {date}"
            ),
            LiverSummary::MonitoringOverdue { last_panel: None } => {
                "Monthly liver monitoring after alemtuzumab is overdue: no complete panel on \
                 record"
                    .into()
            }
            LiverSummary::Abnormal { tests, exposed } => {
                let when = if *exposed {
                    "after alemtuzumab"
                } else {
                    "before alemtuzumab"
                };
                if tests.is_empty() {
                    format!("Abnormal liver tests {when}: result above the upper limit of normal")
                } else {
                    format!(
                        "Abnormal liver tests {when}: {} above the upper limit of normal",
                        tests.join(", ")
                    )
                }
            }
            LiverSummary::MonitoringUndated => {
                "Alemtuzumab on record without a date: give the last infusion date and order a \
                 liver panel"
                    .into()
            }
            LiverSummary::NotInterpretable { tests: [] } => {
                "Liver tests could not be interpreted (unknown unit, no reference range)".into()
            }
            LiverSummary::NotInterpretable { tests } => format!(
                "Liver tests could not be interpreted: {} (unknown unit, no reference range)",
                tests.join(", ")
            ),
        }
    }

    fn liver_missing_line(&self, tests: &str, days: u32) -> String {
        format!("No result within {days} days before the order: {tests}.")
    }

    fn liver_overdue_lines(
        &self,
        last_infusion: &str,
        monitor_until: &str,
        last_panel: Option<&str>,
        interval_days: u32,
    ) -> Vec<String> {
        vec![
            format!(
                "Last alemtuzumab infusion: {last_infusion}; monthly liver monitoring until \
                 {monitor_until}."
            ),
            match last_panel {
                Some(date) => format!(
                    "Last complete liver panel (ALT, AST and total bilirubin): {date}, more than \
                     {interval_days} days ago."
                ),
                None => "No complete liver panel (ALT, AST and total bilirubin) on record.".into(),
            },
        ]
    }

    fn liver_monitoring_source(&self, profile: Profile) -> Option<&'static str> {
        match profile {
            Profile::Ansm2019 => Some(
                "Monthly liver monitoring until 48 months after the last infusion comes from the \
                 SmPC (2020), not from the 2019 ANSM letter, which asks for an evaluation before \
                 and during treatment.",
            ),
            Profile::Ema2020 => None,
        }
    }

    fn liver_undated_lines(&self, last_panel: Option<&str>) -> Vec<String> {
        vec![
            "Alemtuzumab is on record but no administration is dated: monthly liver monitoring \
             (until 48 months after the last infusion) cannot be dated. Give the date of the \
             last infusion."
                .to_string(),
            match last_panel {
                Some(date) => {
                    format!("Last complete liver panel (ALT, AST and total bilirubin): {date}.")
                }
                None => "No complete liver panel (ALT, AST and total bilirubin) on record.".into(),
            },
        ]
    }

    fn liver_not_interpretable_intro(&self) -> &'static str {
        "Results that could not be interpreted (a unit that cannot be converted and no reference \
         range): never treated as normal; have the lab interpret them or repeat the panel:"
    }

    fn liver_abnormal_intro(&self) -> &'static str {
        "Results above the upper limit of normal (ULN):"
    }

    fn liver_latest_heading(&self) -> &'static str {
        "Latest liver test results:"
    }

    fn liver_no_results(&self) -> &'static str {
        "No ALT, AST or total bilirubin result on record."
    }

    fn liver_order_label(&self) -> &'static str {
        "Order a liver panel (ALT, AST, total bilirubin)"
    }

    fn liver_order_description(&self) -> &'static str {
        "Create an unsigned service request: liver panel (ALT, AST, total bilirubin)"
    }

    fn liver_panel_text(&self) -> &'static str {
        "Liver panel: ALT (LOINC 1742-6), AST (LOINC 1920-8), total bilirubin (LOINC 1975-2)"
    }

    fn liver_order_reason(&self) -> &'static str {
        "Liver function monitoring on alemtuzumab (Lemtrada)"
    }

    fn liver_order_not_offered(&self) -> &'static str {
        "Ordering the panel automatically is not offered (unusable patient id): order it by hand."
    }

    fn liver_attest(&self) -> &'static str {
        "Check the liver panel before every course and monthly during monitoring; document any \
         decision to go ahead without a recent panel."
    }
}

// --- R4 ------------------------------------------------------------------------------------------
impl ReadminTexts for En {
    fn readmin_summary(&self, kinds: &[SignalKind], minimum_months: Option<u32>) -> String {
        let names: Vec<String> = kinds
            .iter()
            .map(|k| match k {
                SignalKind::HysLaw => "Hy's law".to_string(),
                SignalKind::LiverLab => "liver signal".to_string(),
                SignalKind::Diagnosis => "serious immune reaction".to_string(),
                SignalKind::CourseInterval => format!(
                    "course too soon (< {} months since the previous course)",
                    minimum_months.unwrap_or(12)
                ),
                SignalKind::LabNotAssessable => "liver test not assessable".to_string(),
                SignalKind::CourseDayCount => "one infusion day too many".to_string(),
                SignalKind::FifthCourse => "fifth course".to_string(),
                SignalKind::ConcurrentDmt => "another DMT ordered at the same time".to_string(),
            })
            .collect();
        let rigorous = kinds.iter().any(|k| k.needs_rigorous_evaluation());
        match (names.is_empty(), rigorous) {
            (true, _) => {
                "Alemtuzumab re-administration: check the new course before signing".into()
            }
            (false, true) => fit_names(&names, |list| {
                format!("Alemtuzumab re-administration: rigorous evaluation required ({list})")
            }),
            (false, false) => fit_names(&names, |list| {
                format!("Alemtuzumab re-administration to check: {list}")
            }),
        }
    }

    fn readmin_measure_schedule(&self) -> &'static str {
        "Courses are at least 12 months apart: a first course of 5 days, a second of 3 days, then \
         at most two further 3-day courses if needed; alemtuzumab is given alone."
    }

    fn readmin_weak_evidence_intro(&self) -> &'static str {
        "Alemtuzumab exposure not proven: none of these records shows an administration; the \
         signals are checked as a precaution:"
    }

    fn readmin_exposure(&self, first: Option<&str>, last: Option<&str>, courses: u32) -> String {
        format!(
            "First alemtuzumab exposure: {}; last: {}; courses on record: {courses}.",
            or_unknown(first),
            or_unknown(last)
        )
    }

    fn readmin_signals_heading(&self) -> &'static str {
        "Signals found (after the first exposure, for liver and immune signals):"
    }

    fn readmin_no_signal(&self) -> &'static str {
        "No signal detail came from the rules engine: check the chart."
    }

    fn signal_liver_lab(&self, lab: &str, factor: &str) -> String {
        format!("{lab} — above {factor} × ULN: liver injury signal.")
    }

    fn signal_hys_law(&self, transaminase: &str, bilirubin: &str) -> String {
        format!(
            "**Hy's law** (transaminase > 3 × ULN and total bilirubin > 2 × ULN): risk of severe \
             liver injury. Transaminase: {transaminase}. Bilirubin: {bilirubin}."
        )
    }

    fn signal_not_assessable(&self, lab: &str) -> String {
        format!("{lab} — not assessable (unknown unit and no reference range): please check.")
    }

    fn signal_diagnosis(
        &self,
        reaction: ImmuneReaction,
        label: &str,
        onset: Option<&str>,
        reference: &str,
    ) -> String {
        format!(
            "**{}**: {label} (onset: {}) ({reference}).",
            self.immune_reaction_name(reaction),
            or_unknown(onset)
        )
    }

    fn signal_interval(&self, last_course_end: &str, months: u32, minimum_months: u32) -> String {
        format!(
            "**Course too soon** (< {minimum_months} months since the previous course): the last \
             course ended on {last_course_end}, {months} months before this order."
        )
    }

    fn signal_day_count(
        &self,
        course_start: &str,
        day: u32,
        allowed_days: u32,
        course_number: u32,
    ) -> String {
        format!(
            "**One infusion day too many**: this order would be day {day} of course \
             {course_number}, started on {course_start}, which has only {allowed_days} days."
        )
    }

    fn signal_fifth_course(&self, course_number: u32) -> String {
        format!(
            "**Course {course_number}**: the SmPC provides for 2 courses, then at most 2 further \
             courses if needed (4 in all)."
        )
    }

    fn signal_concurrent_dmt(&self, label: &str, reference: &str) -> String {
        format!(
            "**Another DMT ordered at the same time**: {label} ({reference}). Alemtuzumab is \
             given alone."
        )
    }

    fn readmin_attest(&self, rigorous: bool, schedule: bool, concurrent: bool) -> String {
        let mut parts = Vec::new();
        if rigorous {
            parts.push(
                "Alemtuzumab may only be re-administered after a rigorous evaluation of the liver \
                 and immune signals: document it in the chart, then choose the reason \
                 \"Rigorous evaluation done and documented\".",
            );
        }
        if schedule {
            parts.push(
                "Check the course schedule (interval, number of days, number of courses); if the \
                 deviation is intended, justify it in the chart and choose the reason \"Course \
                 schedule justified and documented\".",
            );
        }
        if concurrent {
            parts.push(
                "Do not combine another DMT with alemtuzumab: cancel one of the two orders or \
                 document the reason.",
            );
        }
        if parts.is_empty() {
            parts.push("Check the chart before any new course and document the decision.");
        }
        parts.join(" ")
    }
}

// --- R5 ------------------------------------------------------------------------------------------
impl CounsellingTexts for En {
    fn counselling_summary(&self) -> &'static str {
        "Alemtuzumab: tell the patient which symptoms need medical care at once and hand out the \
         patient alert card"
    }

    fn counselling_intro(&self) -> &'static str {
        "Tell the patient, and if possible their family, to seek medical care immediately \
         (calling emergency services if needed) for:"
    }

    fn counselling_days_after_heading(&self) -> &'static str {
        "In the days after each infusion (serious cardiovascular reactions usually occur 1 to 3 \
         days after):"
    }

    fn counselling_days_after(&self) -> Vec<&'static str> {
        vec![
            "signs of stroke or arterial dissection: drooping of one side of the face, weakness \
             on one side of the body, difficulty speaking, sudden severe headache, neck pain",
            "chest pain",
            "shortness of breath",
            "coughing up blood",
            "unusual bleeding or bruising",
        ]
    }

    fn counselling_any_time_heading(&self) -> &'static str {
        "At any time, including months or years after treatment (HLH up to 4 years after):"
    }

    fn counselling_any_time(&self) -> Vec<&'static str> {
        vec![
            "signs of liver injury: jaundice (yellow skin or eyes), dark urine, pain in the upper \
             right abdomen, nausea",
            "signs of haemophagocytic lymphohistiocytosis (HLH): fever, rash, swollen glands",
        ]
    }

    fn counselling_hand_out(&self) -> &'static str {
        "Hand out the patient alert card and the patient guide, and check they were understood."
    }
}

// --- Contraindications ---------------------------------------------------------------------------
impl ContraindicationTexts for En {
    fn contraindication_summary(&self, first: ContraindicationKind, others: usize) -> String {
        let name = self.contraindication_name(first);
        match others {
            0 => format!("Contraindication to alemtuzumab on record: {name}"),
            n => format!("Contraindication to alemtuzumab on record: {name} (+ {n} more)"),
        }
    }

    fn contraindication_summary_generic(&self) -> &'static str {
        "Contraindication to alemtuzumab on record: review the order"
    }

    fn contraindication_item(&self, kind: ContraindicationKind, evidence: &str) -> String {
        let source = match kind {
            ContraindicationKind::Hypersensitivity | ContraindicationKind::Hiv => {
                " — SmPC section 4.3, under both profiles"
            }
            _ => "",
        };
        format!(
            "**{}**{source}: {evidence}",
            self.contraindication_name(kind)
        )
    }

    fn contraindication_none(&self) -> &'static str {
        "No item detail came from the rules engine: check the chart."
    }

    fn evidence_condition(&self, label: &str, onset: Option<&str>, reference: &str) -> String {
        format!("{label} (onset: {}) ({reference})", or_unknown(onset))
    }

    fn evidence_medication(&self, label: &str, start: Option<&str>, reference: &str) -> String {
        format!(
            "ongoing anti-platelet or anticoagulant therapy: {label} (since: {}) ({reference})",
            or_unknown(start)
        )
    }

    fn evidence_allergy(&self, label: &str, onset: Option<&str>, reference: &str) -> String {
        format!(
            "allergy or intolerance on record: {label} (since: {}) ({reference})",
            or_unknown(onset)
        )
    }

    fn evidence_draft_order(&self, label: &str, reference: &str) -> String {
        format!(
            "anticoagulant or anti-platelet ordered in the same call as alemtuzumab (unsigned \
             order): {label} ({reference})"
        )
    }

    fn evidence_blood_pressure(
        &self,
        systolic: Option<&str>,
        diastolic: Option<&str>,
        date: Option<&str>,
        systolic_threshold: Option<&str>,
        diastolic_threshold: Option<&str>,
        reference: &str,
    ) -> String {
        format!(
            "last blood pressure {}/{} mmHg on {}, at or above the {}/{} mmHg threshold \
             ({reference})",
            systolic.unwrap_or("?"),
            diastolic.unwrap_or("?"),
            or_unknown(date),
            systolic_threshold.unwrap_or("?"),
            diastolic_threshold.unwrap_or("?"),
        )
    }

    fn contraindication_attest(&self, resolvable: bool) -> &'static str {
        if resolvable {
            "Do not give while the contraindication persists. If it has been lifted, or the \
             benefit-risk balance has been assessed, document it and choose the matching reason."
        } else {
            "Do not give: an HIV infection or a history (stroke, angina, myocardial infarction, \
             arterial dissection) does not resolve. If the benefit-risk balance has nevertheless been assessed, \
             document it and choose the matching reason."
        }
    }
}

// --- Data unavailable ----------------------------------------------------------------------------
impl DataUnavailableTexts for En {
    fn data_unavailable_summary(&self, data: &DataSet, rules: &[RuleCode]) -> String {
        let tags: Vec<&str> = rules.iter().map(|r| self.rule_tag(*r)).collect();
        if tags.is_empty() {
            format!(
                "Data unavailable ({}): safety checks incomplete",
                self.data_set_name(data)
            )
        } else {
            format!(
                "Data unavailable ({}): check {} by hand",
                self.data_set_name(data),
                tags.join(", ")
            )
        }
    }

    fn data_missing_line(&self, data: &str) -> String {
        format!("**Missing data**: {data}.")
    }

    fn data_reason_line(&self, reason: &str) -> String {
        format!("**Reason**: {reason}.")
    }

    fn data_rules_heading(&self) -> &'static str {
        "Rules not checked for this call:"
    }

    fn data_no_rule(&self) -> &'static str {
        "No rule named by the rules engine."
    }

    fn data_attest(&self) -> &'static str {
        "These rules are not treated as passed: check these points in the chart before signing."
    }
}
