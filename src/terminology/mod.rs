//! Value sets as data: which codes (RxNorm, ATC, SNOMED CT, ICD-10, LOINC) and texts mean what for
//! the rules. The source of truth is `docs/clinical-rules.md` §4; status marks follow it: **V** seen
//! in a regulator / WHOCC / HL7 source, **S** secondary source, **U** unconfirmed (never the only
//! way to match a concept: every U code below has text or other codes beside it).
//!
//! The FHIR facts builder calls [`Terminology::medication_class`], [`Terminology::condition_classes`],
//! [`Terminology::lab_test`], [`Terminology::vital_sign`] and [`Terminology::stop_reason`];
//! the rules themselves only see the resulting classes.
//!
//! # Matching
//! - Exact `(system, code)` pairs (systems compared trimmed, case-insensitively, without a trailing `/`).
//! - ATC (`http://www.whocc.no/atc`) by prefix: `B01AC` matches `B01AC06`.
//! - ICD-10 family (WHO `http://hl7.org/fhir/sid/icd-10`, ICD-10-CM `http://hl7.org/fhir/sid/icd-10-cm`,
//!   French CIM-10 `http://hl7.org/fhir/sid/icd-10-fr`, German ICD-10-GM
//!   `http://fhir.de/CodeSystem/bfarm/icd-10-gm`): codes are normalised (trimmed, uppercased, dots and
//!   other punctuation removed, so `G35.A` and `g35a` are the same) then matched by prefix or by
//!   3-character category range (`I10`–`I15` matches `I11.9`). MS is matched by explicit rules, not by
//!   the `G35` prefix (see `matcher.rs`, `ms_from_icd`).
//! - Text, case-insensitive and accent-folded, on whole words: for medications only when no coding
//!   matched; for conditions only for the few concepts whose codes are unconfirmed or missing, when
//!   no coding matched, plus the "uncontrolled" qualifier of a hypertension diagnosis.
//!
//! # Local codes
//! [`Terminology::with_local_codes`] adds hospital codes to a concept. Local codes match exactly
//! (ICD-10 codes after normalisation), except ATC codes which match by prefix like the defaults.
//! Concept ids (case-insensitive), also listed by [`Terminology::concept_ids`]:
//!
//! | Concept id | Meaning |
//! |---|---|
//! | `alemtuzumab` | alemtuzumab for MS (Lemtrada) or ingredient-level |
//! | `campath` | the oncology product (Campath / MabCampath): alemtuzumab with `campath: true` |
//! | `dmt:<ingredient>` | a prior MS DMT; an existing key (`dmt:fingolimod`, `dmt:interferon beta-1a`, …) or a new ingredient key, which becomes a new DMT ingredient |
//! | `antithrombotic` | anticoagulant or anti-platelet medication |
//! | `ms:relapsing-remitting`, `ms:primary-progressive`, `ms:secondary-progressive`, `ms:unspecified` | MS diagnoses |
//! | `reaction:autoimmune-hepatitis`, `reaction:liver-injury`, `reaction:hlh`, `reaction:immune-thrombocytopenia`, `reaction:anti-gbm-disease`, `reaction:ttp`, `reaction:acquired-haemophilia-a`, `reaction:autoimmune-encephalitis`, `reaction:thyroid-disease` | serious immune reactions (R4) |
//! | `contraindication:hiv`, `contraindication:severe-active-infection`, `contraindication:hypertension`, `contraindication:uncontrolled-hypertension`, `contraindication:cervicocephalic-arterial-dissection`, `contraindication:stroke`, `contraindication:angina`, `contraindication:myocardial-infarction`, `contraindication:coagulopathy`, `contraindication:other-autoimmune-disease`, `contraindication:antithrombotic-therapy` | ema-2020 contraindication diagnoses |
//! | `lab:alt`, `lab:ast`, `lab:total-bilirubin` | liver panel tests |
//! | `vital:blood-pressure-panel`, `vital:systolic`, `vital:diastolic` | blood pressure |
//! | `stop:inefficacy`, `stop:intolerance` | reasons a treatment was stopped |
//!
//! # Files
//! | File | What |
//! |---|---|
//! | `mod.rs` | the API: [`Terminology`] (recognition, local codes, the codes queries ask for), code systems |
//! | `value_sets.rs` | every default code and text, with its source status, and the concept ids |
//! | `matcher.rs` | how a coding or a text is matched: normalisation, ATC and ICD-10 prefixes, whole words |
//!
//! Above `rules` (it recognises the classes the rules read, `rules::facts`) and used only by the
//! FHIR side (`fhir::facts`), the prefetch templates (`services`) and configuration: the rules never
//! import it.

mod matcher;
#[cfg(test)]
mod tests;
mod value_sets;

use crate::rules::{
    Code, ConditionClass, ContraindicationKind, ImmuneReaction, LabTest, MedicationClass, MsType,
    ObservationCodes, StopReason,
};

use matcher::{
    contains_words, fold_text, is_icd_system, ms_from_icd, norm_icd, norm_system, CodeSet,
};
use value_sets::{
    default_dmts, CONTRAINDICATIONS, LABS, MS_TYPES, REACTIONS, STOPS, UNCONTROLLED_QUALIFIERS,
    VITALS,
};

pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const LOINC: &str = "http://loinc.org";
pub const ATC: &str = "http://www.whocc.no/atc";
/// WHO ICD-10.
pub const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
pub const ICD10_CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
/// French CIM-10 (ATIH): WHO ICD-10 with national extensions (extra characters after the WHO code),
/// so WHO prefixes apply. The URI is the one used by French FHIR profiles (S).
pub const ICD10_FR: &str = "http://hl7.org/fhir/sid/icd-10-fr";
/// German ICD-10-GM (BfArM), as used by the German base profiles: WHO ICD-10 with national
/// extensions, e.g. `G35.1x` relapsing-remitting MS (S).
pub const ICD10_GM: &str = "http://fhir.de/CodeSystem/bfarm/icd-10-gm";

/// Blood-pressure codes (LOINC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VitalSign {
    /// The panel 85354-9 (with systolic / diastolic components).
    BloodPressurePanel,
    Systolic,
    Diastolic,
}

/// A hospital code added to a concept by configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCode {
    /// A concept id of the module documentation, e.g. `dmt:fingolimod` or `lab:alt`.
    pub concept: String,
    pub system: String,
    pub code: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TerminologyError {
    #[error(
        "unknown concept `{0}` in local codes; expected alemtuzumab, campath, dmt:<ingredient>, \
         antithrombotic, ms:*, reaction:*, contraindication:*, lab:*, vital:* or stop:* \
         (see the terminology documentation for the full list)"
    )]
    UnknownConcept(String),
    #[error("local code for concept `{concept}` has an empty system or code")]
    EmptyCode { concept: String },
}

// ---------------------------------------------------------------------------------------------
// The terminology

/// The value sets. `Default` holds the reference's codes; configuration adds local codes with
/// [`Terminology::with_local_codes`].
#[derive(Debug, Clone)]
pub struct Terminology {
    alemtuzumab: CodeSet,
    campath: CodeSet,
    /// `(ingredient key, codes)`, in matching order.
    dmts: Vec<(String, CodeSet)>,
    antithrombotic: CodeSet,
    /// SNOMED CT and local codes; ICD-10 goes through [`ms_from_icd`].
    ms: Vec<(MsType, CodeSet)>,
    reactions: Vec<(ImmuneReaction, CodeSet)>,
    contraindications: Vec<(ContraindicationKind, CodeSet)>,
    labs: Vec<(LabTest, CodeSet)>,
    vitals: Vec<(VitalSign, CodeSet)>,
    stops: Vec<(StopReason, CodeSet)>,
}

fn kebab_lookup<T: Copy>(table: &[(T, &str)], name: &str) -> Option<T> {
    table.iter().find(|(_, n)| *n == name).map(|(t, _)| *t)
}

fn set_for<'a, T: PartialEq + Copy>(
    sets: &'a mut [(T, CodeSet)],
    table: &[(T, &str)],
    name: &str,
) -> Option<&'a mut CodeSet> {
    let key = kebab_lookup(table, name)?;
    sets.iter_mut().find(|(k, _)| *k == key).map(|(_, s)| s)
}

impl Terminology {
    /// Adds hospital codes to the concepts (see the module documentation for the concept ids).
    pub fn with_local_codes(mut self, codes: &[LocalCode]) -> Result<Self, TerminologyError> {
        for local in codes {
            let concept = local.concept.trim().to_ascii_lowercase();
            let (system, code) = (local.system.trim(), local.code.trim());
            let unknown = || TerminologyError::UnknownConcept(local.concept.clone());
            let set: &mut CodeSet = match concept.split_once(':') {
                None => match concept.as_str() {
                    "alemtuzumab" => &mut self.alemtuzumab,
                    "campath" => &mut self.campath,
                    "antithrombotic" => &mut self.antithrombotic,
                    _ => return Err(unknown()),
                },
                Some(("dmt", key)) => {
                    let key = key.trim();
                    if key.is_empty() {
                        return Err(unknown());
                    }
                    let index = match self.dmts.iter().position(|(k, _)| k == key) {
                        Some(i) => i,
                        None => {
                            self.dmts.push((key.to_string(), CodeSet::new()));
                            self.dmts.len() - 1
                        }
                    };
                    &mut self.dmts[index].1
                }
                Some(("ms", name)) => set_for(&mut self.ms, &MS_TYPES, name).ok_or_else(unknown)?,
                Some(("reaction", name)) => {
                    set_for(&mut self.reactions, &REACTIONS, name).ok_or_else(unknown)?
                }
                Some(("contraindication", name)) => {
                    set_for(&mut self.contraindications, &CONTRAINDICATIONS, name)
                        .ok_or_else(unknown)?
                }
                Some(("lab", name)) => set_for(&mut self.labs, &LABS, name).ok_or_else(unknown)?,
                Some(("vital", name)) => {
                    set_for(&mut self.vitals, &VITALS, name).ok_or_else(unknown)?
                }
                Some(("stop", name)) => {
                    set_for(&mut self.stops, &STOPS, name).ok_or_else(unknown)?
                }
                Some(_) => return Err(unknown()),
            };
            if system.is_empty() || code.is_empty() {
                return Err(TerminologyError::EmptyCode {
                    concept: local.concept.clone(),
                });
            }
            set.add(system, code);
        }
        Ok(self)
    }

    /// Every concept id accepted by [`Terminology::with_local_codes`] with the default ingredient
    /// keys (a new `dmt:<ingredient>` key is accepted too and creates an ingredient).
    pub fn concept_ids() -> Vec<String> {
        let mut ids: Vec<String> = vec!["alemtuzumab".into(), "campath".into()];
        ids.extend(default_dmts().into_iter().map(|(k, _)| format!("dmt:{k}")));
        ids.push("antithrombotic".into());
        ids.extend(MS_TYPES.iter().map(|(_, n)| format!("ms:{n}")));
        ids.extend(REACTIONS.iter().map(|(_, n)| format!("reaction:{n}")));
        ids.extend(
            CONTRAINDICATIONS
                .iter()
                .map(|(_, n)| format!("contraindication:{n}")),
        );
        ids.extend(LABS.iter().map(|(_, n)| format!("lab:{n}")));
        ids.extend(VITALS.iter().map(|(_, n)| format!("vital:{n}")));
        ids.extend(STOPS.iter().map(|(_, n)| format!("stop:{n}")));
        ids
    }

    /// The class of a medication from its codings, else (only when no coding matched) its text.
    /// Campath beats alemtuzumab, which beats DMTs, which beat antithrombotics.
    pub fn medication_class(&self, codes: &[Code], text: Option<&str>) -> MedicationClass {
        if self.campath.matches_any_code(codes) {
            return MedicationClass::Alemtuzumab { campath: true };
        }
        if self.alemtuzumab.matches_any_code(codes) {
            return MedicationClass::Alemtuzumab { campath: false };
        }
        if let Some((key, _)) = self.dmts.iter().find(|(_, s)| s.matches_any_code(codes)) {
            return MedicationClass::Dmt {
                ingredient: key.clone(),
            };
        }
        if self.antithrombotic.matches_any_code(codes) {
            return MedicationClass::Antithrombotic;
        }
        let Some(text) = text else {
            return MedicationClass::Other;
        };
        let folded = fold_text(text);
        if self.campath.matches_text(&folded) {
            MedicationClass::Alemtuzumab { campath: true }
        } else if self.alemtuzumab.matches_text(&folded) {
            MedicationClass::Alemtuzumab { campath: false }
        } else if let Some((key, _)) = self.dmts.iter().find(|(_, s)| s.matches_text(&folded)) {
            MedicationClass::Dmt {
                ingredient: key.clone(),
            }
        } else if self.antithrombotic.matches_text(&folded) {
            MedicationClass::Antithrombotic
        } else {
            MedicationClass::Other
        }
    }

    /// Every class a condition's codes (and, for a few concepts, its text) belong to.
    pub fn condition_classes(&self, codes: &[Code], text: Option<&str>) -> Vec<ConditionClass> {
        let mut classes: Vec<ConditionClass> = Vec::new();
        let push = |c: ConditionClass, classes: &mut Vec<ConditionClass>| {
            if !classes.contains(&c) {
                classes.push(c);
            }
        };
        for code in codes {
            let system = norm_system(&code.system);
            if is_icd_system(&system) {
                if let Some(ms) = ms_from_icd(&norm_icd(&code.code)) {
                    push(ConditionClass::Ms(ms), &mut classes);
                }
            }
        }
        for (ms, set) in &self.ms {
            if set.matches_any_code(codes) {
                push(ConditionClass::Ms(*ms), &mut classes);
            }
        }
        for (reaction, set) in &self.reactions {
            if set.matches_any_code(codes) {
                push(ConditionClass::ImmuneReaction(*reaction), &mut classes);
            }
        }
        for (kind, set) in &self.contraindications {
            if set.matches_any_code(codes) {
                push(ConditionClass::Contraindication(*kind), &mut classes);
            }
        }
        let folded = text.map(fold_text).unwrap_or_default();
        let coded_ms = classes.iter().any(|c| matches!(c, ConditionClass::Ms(_)));
        if !coded_ms && !folded.trim().is_empty() {
            // An MS diagnosis coded only locally, with its text ("SEP rémittente-récurrente").
            for (ms, set) in &self.ms {
                if set.matches_text(&folded) {
                    push(ConditionClass::Ms(*ms), &mut classes);
                }
            }
        }
        if classes.iter().all(|c| matches!(c, ConditionClass::Ms(_))) && !folded.trim().is_empty() {
            for (reaction, set) in &self.reactions {
                if set.matches_text(&folded) {
                    push(ConditionClass::ImmuneReaction(*reaction), &mut classes);
                }
            }
            for (kind, set) in &self.contraindications {
                if set.matches_text(&folded) {
                    push(ConditionClass::Contraindication(*kind), &mut classes);
                }
            }
        }
        let hypertension = ConditionClass::Contraindication(ContraindicationKind::Hypertension);
        if classes.contains(&hypertension)
            && UNCONTROLLED_QUALIFIERS
                .iter()
                .any(|q| contains_words(&folded, q))
        {
            push(
                ConditionClass::Contraindication(ContraindicationKind::UncontrolledHypertension),
                &mut classes,
            );
        }
        let has_ms = classes.iter().any(|c| matches!(c, ConditionClass::Ms(_)));
        if has_ms {
            // MS itself is never "another autoimmune disease".
            classes.retain(|c| {
                *c != ConditionClass::Contraindication(ContraindicationKind::OtherAutoimmuneDisease)
            });
            // A subtype on the same condition beats "unspecified".
            let specific = classes
                .iter()
                .any(|c| matches!(c, ConditionClass::Ms(t) if *t != MsType::Unspecified));
            if specific {
                classes.retain(|c| *c != ConditionClass::Ms(MsType::Unspecified));
            }
        }
        classes
    }

    pub fn lab_test(&self, codes: &[Code]) -> Option<LabTest> {
        self.labs
            .iter()
            .find(|(_, s)| s.matches_any_code(codes))
            .map(|(t, _)| *t)
    }

    pub fn vital_sign(&self, codes: &[Code]) -> Option<VitalSign> {
        self.vitals
            .iter()
            .find(|(_, s)| s.matches_any_code(codes))
            .map(|(v, _)| *v)
    }

    /// Why a treatment was stopped, from codes (local codes) then text. Inefficacy wins over
    /// intolerance when both are documented (a documented inefficacy is what makes a course
    /// adequate). Text or codes that say nothing known give `Other`; nothing at all gives `None`.
    pub fn stop_reason(&self, codes: &[Code], text: Option<&str>) -> StopReason {
        for (reason, set) in &self.stops {
            if set.matches_any_code(codes) {
                return *reason;
            }
        }
        let folded = text.map(fold_text).unwrap_or_default();
        for (reason, set) in &self.stops {
            if set.matches_text(&folded) {
                return *reason;
            }
        }
        if codes.is_empty() && folded.trim().is_empty() {
            StopReason::None
        } else {
            StopReason::Other
        }
    }

    /// Hepatic function panel, for the ServiceRequest suggestion.
    pub fn liver_panel_order_code(&self) -> Code {
        Code::new(LOINC, "24325-3")
    }

    /// The LOINC code to order one test of the panel.
    pub fn lab_code(&self, test: LabTest) -> Code {
        Code::new(
            LOINC,
            match test {
                LabTest::Alt => "1742-6",
                LabTest::Ast => "1920-8",
                LabTest::TotalBilirubin => "1975-2",
            },
        )
    }

    /// The codes an observation query lists (`services::PrefetchTemplates`, the data set's
    /// [`ObservationCodes`] in `src/rules/data_sets.rs`).
    pub fn query_codes(&self, codes: ObservationCodes) -> Vec<Code> {
        match codes {
            ObservationCodes::LiverLabs => self.lab_codes(),
            ObservationCodes::BloodPressure => self.blood_pressure_query_codes(),
        }
    }

    /// Every code [`Terminology::vital_sign`] accepts, defaults and local codes, for the
    /// `bloodPressure` query (`services::PrefetchTemplates`, `fhir::gather`): a code accepted is a
    /// code asked for, as for the liver tests. With the defaults: the panels 55284-4 (S) and
    /// 85354-9 (V), systolic 8480-6, diastolic 8462-4. A reading coded only 55284-4 or with a
    /// hospital's `vital:*` code used to be read when the prefetch carried it but never fetched
    /// from the FHIR server, so its pressure went unseen.
    pub fn blood_pressure_query_codes(&self) -> Vec<Code> {
        codes_of(&self.vitals)
    }

    /// Every code [`Terminology::lab_test`] accepts, defaults and local codes, for the liver-test
    /// queries (`services::PrefetchTemplates`): a code accepted is a code asked for.
    /// Deterministic order: ALT, AST, total bilirubin, each sorted by (system, code), no
    /// duplicates. Systems are as matched (trimmed, lowercase, no trailing `/`); an ATC local code
    /// is its prefix.
    pub fn lab_codes(&self) -> Vec<Code> {
        codes_of(&self.labs)
    }
}

/// The codes of value sets in their order, each set's codes sorted by (system, code), no
/// duplicates; an ATC local code is its prefix.
fn codes_of<K>(sets: &[(K, CodeSet)]) -> Vec<Code> {
    let mut out: Vec<Code> = Vec::new();
    for (_, set) in sets {
        let mut codes: Vec<Code> = set
            .exact
            .iter()
            .map(|(system, code)| Code::new(system.as_str(), code.as_str()))
            .chain(set.atc.iter().map(|p| Code::new(ATC, p.as_str())))
            .collect();
        codes.sort_by(|a, b| (&a.system, &a.code).cmp(&(&b.system, &b.code)));
        for c in codes {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}
