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
//!   the `G35` prefix (see [`ms_from_icd`]).
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

use std::collections::HashSet;

use super::facts::{
    Code, ConditionClass, ContraindicationKind, ImmuneReaction, LabTest, MedicationClass, MsType,
    StopReason,
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

const ICD_SYSTEMS: [&str; 4] = [ICD10, ICD10_CM, ICD10_FR, ICD10_GM];

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

const MS_TYPES: [(MsType, &str); 4] = [
    (MsType::RelapsingRemitting, "relapsing-remitting"),
    (MsType::PrimaryProgressive, "primary-progressive"),
    (MsType::SecondaryProgressive, "secondary-progressive"),
    (MsType::Unspecified, "unspecified"),
];

const REACTIONS: [(ImmuneReaction, &str); 11] = [
    (ImmuneReaction::AutoimmuneHepatitis, "autoimmune-hepatitis"),
    (ImmuneReaction::LiverInjury, "liver-injury"),
    (ImmuneReaction::Hlh, "hlh"),
    (
        ImmuneReaction::ImmuneThrombocytopenia,
        "immune-thrombocytopenia",
    ),
    (ImmuneReaction::AntiGbmDisease, "anti-gbm-disease"),
    (ImmuneReaction::Ttp, "ttp"),
    (
        ImmuneReaction::AcquiredHaemophiliaA,
        "acquired-haemophilia-a",
    ),
    (
        ImmuneReaction::AutoimmuneEncephalitis,
        "autoimmune-encephalitis",
    ),
    (ImmuneReaction::ThyroidDisease, "thyroid-disease"),
    (ImmuneReaction::AutoimmuneCytopenia, "autoimmune-cytopenia"),
    (
        ImmuneReaction::AdultOnsetStillsDisease,
        "adult-onset-stills-disease",
    ),
];

const CONTRAINDICATIONS: [(ContraindicationKind, &str); 12] = [
    (ContraindicationKind::Hypersensitivity, "hypersensitivity"),
    (ContraindicationKind::Hiv, "hiv"),
    (
        ContraindicationKind::SevereActiveInfection,
        "severe-active-infection",
    ),
    (ContraindicationKind::Hypertension, "hypertension"),
    (
        ContraindicationKind::UncontrolledHypertension,
        "uncontrolled-hypertension",
    ),
    (
        ContraindicationKind::CervicocephalicArterialDissection,
        "cervicocephalic-arterial-dissection",
    ),
    (ContraindicationKind::Stroke, "stroke"),
    (ContraindicationKind::Angina, "angina"),
    (
        ContraindicationKind::MyocardialInfarction,
        "myocardial-infarction",
    ),
    (ContraindicationKind::Coagulopathy, "coagulopathy"),
    (
        ContraindicationKind::OtherAutoimmuneDisease,
        "other-autoimmune-disease",
    ),
    (
        ContraindicationKind::AntithromboticTherapy,
        "antithrombotic-therapy",
    ),
];

const LABS: [(LabTest, &str); 3] = [
    (LabTest::Alt, "alt"),
    (LabTest::Ast, "ast"),
    (LabTest::TotalBilirubin, "total-bilirubin"),
];

const VITALS: [(VitalSign, &str); 3] = [
    (VitalSign::BloodPressurePanel, "blood-pressure-panel"),
    (VitalSign::Systolic, "systolic"),
    (VitalSign::Diastolic, "diastolic"),
];

const STOPS: [(StopReason, &str); 2] = [
    (StopReason::Inefficacy, "inefficacy"),
    (StopReason::Intolerance, "intolerance"),
];

/// Words in a hypertension diagnosis' text that make it uncontrolled (EN + FR, accent-folded).
const UNCONTROLLED_QUALIFIERS: [&str; 9] = [
    "uncontrolled",
    "poorly controlled",
    "not controlled",
    "non controlee",
    "non controle",
    "mal controlee",
    "hypertensive crisis",
    "hypertensive urgency",
    "hypertensive emergency",
];

// ---------------------------------------------------------------------------------------------
// Normalisation

fn norm_system(system: &str) -> String {
    system.trim().trim_end_matches('/').to_ascii_lowercase()
}

fn is_icd_system(norm_system: &str) -> bool {
    ICD_SYSTEMS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(norm_system))
}

/// ICD-10 code normalised: uppercase ASCII letters and digits only (`g35.a ` → `G35A`).
fn norm_icd(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn norm_code(norm_system: &str, code: &str) -> String {
    if is_icd_system(norm_system) {
        norm_icd(code)
    } else if norm_system == ATC {
        code.trim().to_ascii_uppercase()
    } else {
        code.trim().to_string()
    }
}

/// Lowercase, accents folded, punctuation as spaces, single spaces, padded with one space on each
/// side so that `" word "` finds whole words.
fn fold_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    let mut last_space = true;
    for c in text.chars().flat_map(char::to_lowercase) {
        let folded: &str = match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ÿ' => "y",
            'œ' => "oe",
            'æ' => "ae",
            'ß' => "ss",
            c if c.is_alphanumeric() => {
                out.push(c);
                last_space = false;
                continue;
            }
            _ => " ",
        };
        if folded == " " {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push_str(folded);
            last_space = false;
        }
    }
    if !last_space {
        out.push(' ');
    }
    out
}

fn contains_words(folded_haystack: &str, needle: &str) -> bool {
    let needle = fold_text(needle);
    !needle.trim().is_empty() && folded_haystack.contains(&needle)
}

// ---------------------------------------------------------------------------------------------
// Code sets

#[derive(Debug, Clone)]
enum IcdMatch {
    /// Normalised prefix (`K71` matches `K71.9`).
    Prefix(String),
    /// 3-character categories, inclusive (`I10`..=`I15`).
    Categories(String, String),
}

#[derive(Debug, Clone)]
struct IcdRule {
    /// Restrict to one ICD-10 system (normalised URI); `None` = every ICD-10 system.
    only: Option<&'static str>,
    matcher: IcdMatch,
}

#[derive(Debug, Clone, Default)]
struct CodeSet {
    /// `(normalised system, normalised code)`.
    exact: HashSet<(String, String)>,
    /// Uppercase ATC prefixes.
    atc: Vec<String>,
    icd: Vec<IcdRule>,
    /// Needles, matched on whole words of the folded text.
    text: Vec<String>,
}

impl CodeSet {
    fn new() -> Self {
        Self::default()
    }

    fn codes(mut self, system: &str, codes: &[&str]) -> Self {
        for code in codes {
            self.add(system, code);
        }
        self
    }

    fn atc(mut self, prefixes: &[&str]) -> Self {
        self.atc
            .extend(prefixes.iter().map(|p| p.trim().to_ascii_uppercase()));
        self
    }

    /// ICD-10 prefixes valid in every ICD-10 system.
    fn icd(self, prefixes: &[&str]) -> Self {
        self.icd_in(None, prefixes)
    }

    fn icd_in(mut self, only: Option<&'static str>, prefixes: &[&str]) -> Self {
        self.icd.extend(prefixes.iter().map(|p| IcdRule {
            only,
            matcher: IcdMatch::Prefix(norm_icd(p)),
        }));
        self
    }

    fn icd_range(mut self, from: &str, to: &str) -> Self {
        self.icd.push(IcdRule {
            only: None,
            matcher: IcdMatch::Categories(norm_icd(from), norm_icd(to)),
        });
        self
    }

    fn text(mut self, needles: &[&str]) -> Self {
        self.text.extend(needles.iter().map(|n| fold_text(n)));
        self
    }

    /// Adds one code: ATC codes become prefixes, everything else an exact pair.
    fn add(&mut self, system: &str, code: &str) {
        let system = norm_system(system);
        if system == ATC {
            self.atc.push(code.trim().to_ascii_uppercase());
        } else {
            let code = norm_code(&system, code);
            self.exact.insert((system, code));
        }
    }

    fn matches_code(&self, code: &Code) -> bool {
        let system = norm_system(&code.system);
        let value = norm_code(&system, &code.code);
        if value.is_empty() {
            return false;
        }
        if self.exact.contains(&(system.clone(), value.clone())) {
            return true;
        }
        if system == ATC {
            return self
                .atc
                .iter()
                .any(|p| !p.is_empty() && value.starts_with(p.as_str()));
        }
        if is_icd_system(&system) {
            return self.icd.iter().any(|rule| {
                rule.only
                    .map_or(true, |only| only.eq_ignore_ascii_case(&system))
                    && match &rule.matcher {
                        IcdMatch::Prefix(p) => value.starts_with(p.as_str()),
                        IcdMatch::Categories(from, to) => {
                            let category: String = value.chars().take(3).collect();
                            category.len() == 3
                                && category.as_str() >= from.as_str()
                                && category.as_str() <= to.as_str()
                        }
                    }
            });
        }
        false
    }

    fn matches_any_code(&self, codes: &[Code]) -> bool {
        codes.iter().any(|c| self.matches_code(c))
    }

    /// `folded` is the output of [`fold_text`].
    fn matches_text(&self, folded: &str) -> bool {
        self.text
            .iter()
            .any(|n| n.trim().len() > 1 && folded.contains(n.as_str()))
    }
}

/// MS type of a normalised ICD-10 code (any ICD-10 system), by explicit rules:
/// - ICD-10-CM (since October 2025): `G35.A` RRMS; `G35.B0`–`G35.B2` PPMS; `G35.C0`–`G35.C2`
///   SPMS; `G35.D` unspecified (S).
/// - ICD-10-GM: `G35.1x` relapsing-remitting (S). Assumed from the German classification, not
///   in the reference (U): `G35.2x` primary progressive ("primär-chronisch"), `G35.3x` secondary
///   progressive ("sekundär-chronisch"); both subtypes also have SNOMED CT and ICD-10-CM codes.
/// - WHO / CIM-10 `G35` and every other `G35…` code (GM `G35.0` first manifestation, `G35.9`):
///   MS without subtype, i.e. "RRMS not confirmed", never RRMS.
///
/// The subcode letters of ICD-10-CM and digits of ICD-10-GM do not collide, so the rules apply to
/// every ICD-10 system (a CM code sent under the WHO URI is still understood).
fn ms_from_icd(code: &str) -> Option<MsType> {
    let rest = code.strip_prefix("G35")?;
    Some(if rest == "A" || rest.starts_with('1') {
        MsType::RelapsingRemitting
    } else if rest.starts_with('B') || rest.starts_with('2') {
        MsType::PrimaryProgressive
    } else if rest.starts_with('C') || rest.starts_with('3') {
        MsType::SecondaryProgressive
    } else {
        MsType::Unspecified
    })
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

impl Default for Terminology {
    fn default() -> Self {
        Self {
            alemtuzumab: default_alemtuzumab(),
            campath: CodeSet::new()
                // Campath 30 mg/mL (V).
                .codes(RXNORM, &["828265", "828267", "284679"])
                .text(&["campath", "mabcampath"]),
            dmts: default_dmts(),
            antithrombotic: default_antithrombotic(),
            ms: default_ms(),
            reactions: default_reactions(),
            contraindications: default_contraindications(),
            labs: default_labs(),
            vitals: vec![
                (
                    VitalSign::BloodPressurePanel,
                    // 85354-9 BP panel (V); 55284-4 "Blood pressure systolic and diastolic" (S).
                    CodeSet::new().codes(LOINC, &["85354-9", "55284-4"]),
                ),
                (
                    VitalSign::Systolic,
                    CodeSet::new().codes(LOINC, &["8480-6"]),
                ),
                (
                    VitalSign::Diastolic,
                    CodeSet::new().codes(LOINC, &["8462-4"]),
                ),
            ],
            stops: vec![
                (
                    StopReason::Inefficacy,
                    CodeSet::new().text(&[
                        "inefficacy",
                        "ineffective",
                        "not effective",
                        "lack of efficacy",
                        "loss of efficacy",
                        "treatment failure",
                        "therapeutic failure",
                        "breakthrough disease",
                        "breakthrough",
                        "inefficacite",
                        "inefficace",
                        "echec",
                        "manque d efficacite",
                    ]),
                ),
                (
                    StopReason::Intolerance,
                    CodeSet::new().text(&[
                        "intolerance",
                        "intolerant",
                        "not tolerated",
                        "adverse effect",
                        "adverse effects",
                        "adverse event",
                        "adverse events",
                        "adverse reaction",
                        "side effect",
                        "side effects",
                        "effet indesirable",
                        "effets indesirables",
                        "effet secondaire",
                        "effets secondaires",
                        "mal tolere",
                    ]),
                ),
            ],
        }
    }
}

fn default_alemtuzumab() -> CodeSet {
    CodeSet::new()
        // RxNorm ingredient 117055 (V; shared with Campath) and the Lemtrada SCD/SBD/BN/SBDC/SCDC (V).
        .codes(
            RXNORM,
            &[
                "117055", "1594658", "1594663", "1594659", "1594660", "1594657",
            ],
        )
        // ATC L04AG06 (since 2024), L04AA34 (2015–2023), L01XC04 (older) (V).
        .atc(&["L04AG06", "L04AA34", "L01XC04"])
        // SNOMED CT substance (V).
        .codes(SNOMED, &["129472003"])
        .text(&["alemtuzumab", "lemtrada"])
}

/// Prior DMTs: RxNorm ingredient codes are S (secondary), ATC V unless marked U; every ingredient
/// also matches on its INN and brand names.
fn default_dmts() -> Vec<(String, CodeSet)> {
    let dmt = |key: &str, rxnorm: &[&str], atc: &[&str], text: &[&str]| {
        (
            key.to_string(),
            CodeSet::new().codes(RXNORM, rxnorm).atc(atc).text(text),
        )
    };
    vec![
        // Peginterferon beta-1a (RxNorm 1546168, ATC L03AB13) is grouped with interferon beta-1a.
        dmt(
            "interferon beta-1a",
            &["75917", "1546168"],
            &["L03AB07", "L03AB13"],
            &[
                "interferon beta 1a",
                "interferon beta1a",
                "ifn beta 1a",
                "peginterferon beta 1a",
                "peginterferon beta1a",
                "avonex",
                "rebif",
                "plegridy",
            ],
        ),
        dmt(
            "interferon beta-1b",
            &["72257"],
            &["L03AB08"],
            &[
                "interferon beta 1b",
                "interferon beta1b",
                "ifn beta 1b",
                "betaferon",
                "betaseron",
                "extavia",
            ],
        ),
        dmt(
            "glatiramer",
            &["214582"],
            &["L03AX13"],
            &["glatiramer", "copaxone", "glatopa"],
        ),
        dmt(
            "teriflunomide",
            &["1310520"],
            &["L04AK02", "L04AA31"],
            &["teriflunomide", "aubagio"],
        ),
        dmt(
            "dimethyl fumarate",
            &["1373478"],
            &["L04AX07", "N07XX09"],
            &["dimethyl fumarate", "fumarate de dimethyle", "tecfidera"],
        ),
        dmt(
            "diroximel fumarate",
            &["2261783"],
            &["L04AX09"],
            &["diroximel fumarate", "vumerity"],
        ),
        // Not in the reference: text only (add codes locally if needed).
        dmt(
            "monomethyl fumarate",
            &[],
            &[],
            &["monomethyl fumarate", "bafiertam"],
        ),
        dmt(
            "fingolimod",
            &["1012892"],
            &["L04AE01", "L04AA27"],
            &["fingolimod", "gilenya"],
        ),
        dmt(
            "siponimod",
            &["2121085"],
            &["L04AE03", "L04AA42"],
            &["siponimod", "mayzent"],
        ),
        dmt(
            "ozanimod",
            &["2288236"],
            &["L04AE02", "L04AA38"],
            &["ozanimod", "zeposia"],
        ),
        // U: unconfirmed ATC L04AE04 for ponesimod; RxNorm, L04AA50 and text also match.
        dmt(
            "ponesimod",
            &["2532300"],
            &["L04AA50", "L04AE04"],
            &["ponesimod", "ponvory"],
        ),
        // ATC L04AA40 is the MS product (Mavenclad); the oncology L01BB04 is deliberately absent.
        dmt(
            "cladribine",
            &["44157"],
            &["L04AA40"],
            &["cladribine", "mavenclad"],
        ),
        dmt(
            "natalizumab",
            &["354770"],
            &["L04AG03", "L04AA23"],
            &["natalizumab", "tysabri", "tyruko"],
        ),
        dmt(
            "ocrelizumab",
            &["1876366"],
            &["L04AG08", "L04AA36"],
            &["ocrelizumab", "ocrevus"],
        ),
        // U: unconfirmed ATC L04AG12 for ofatumumab; RxNorm, L04AA52 and text also match.
        dmt(
            "ofatumumab",
            &["712566"],
            &["L04AA52", "L04AG12"],
            &["ofatumumab", "kesimpta"],
        ),
        // Not in the reference: text only.
        dmt("ublituximab", &[], &[], &["ublituximab", "briumvi"]),
        // Off-label in MS.
        dmt(
            "rituximab",
            &["121191"],
            &["L01FA01", "L01XC02"],
            &["rituximab", "mabthera", "rituxan", "truxima", "rixathon"],
        ),
        // U: unconfirmed ATC L01DB07 for mitoxantrone; RxNorm and text also match.
        dmt(
            "mitoxantrone",
            &["7005"],
            &["L01DB07"],
            &["mitoxantrone", "novantrone", "elsep"],
        ),
        // Fampridine (Fampyra) is symptomatic, not a DMT: deliberately absent.
    ]
}

fn default_antithrombotic() -> CodeSet {
    CodeSet::new()
        // Vitamin K antagonists, heparins, platelet aggregation inhibitors (incl. aspirin B01AC06),
        // direct thrombin inhibitors, direct factor Xa inhibitors (V).
        .atc(&["B01AA", "B01AB", "B01AC", "B01AE", "B01AF"])
        // S, secondary: RxNorm ingredients warfarin, aspirin, clopidogrel, apixaban, rivaroxaban,
        // dabigatran, edoxaban, heparin, enoxaparin, ticagrelor, prasugrel.
        .codes(
            RXNORM,
            &[
                "11289", "1191", "32968", "1364430", "1114195", "1546356", "1599538", "5224",
                "67108", "1116632", "613391",
            ],
        )
        .text(&[
            "warfarin",
            "warfarine",
            "coumadin",
            "coumadine",
            "acenocoumarol",
            "sintrom",
            "fluindione",
            "previscan",
            "phenprocoumon",
            "marcumar",
            "aspirin",
            "aspirine",
            "acetylsalicylic acid",
            "acide acetylsalicylique",
            "kardegic",
            "clopidogrel",
            "plavix",
            "prasugrel",
            "efient",
            "ticagrelor",
            "brilique",
            "brilinta",
            "apixaban",
            "eliquis",
            "rivaroxaban",
            "xarelto",
            "dabigatran",
            "pradaxa",
            "edoxaban",
            "lixiana",
            "savaysa",
            "heparin",
            "heparine",
            "enoxaparin",
            "enoxaparine",
            "lovenox",
            "clexane",
            "tinzaparin",
            "tinzaparine",
            "innohep",
            "dalteparin",
            "dalteparine",
            "fragmin",
            "fondaparinux",
            "arixtra",
        ])
}

fn default_ms() -> Vec<(MsType, CodeSet)> {
    vec![
        // 426373005 RRMS (V). Text (EN, FR) for diagnoses coded only locally: matched when no
        // code of the condition is recognised as MS.
        (
            MsType::RelapsingRemitting,
            CodeSet::new().codes(SNOMED, &["426373005"]).text(&[
                "relapsing remitting",
                "relapsing remittent",
                "remitting relapsing",
                "rrms",
                "remittente recurrente",
                "recurrente remittente",
                "remittente",
                "sep rr",
                "sep r r",
                "forme recurrente remittente",
                "poussees remissions",
            ]),
        ),
        // 428700003 PPMS (S).
        (
            MsType::PrimaryProgressive,
            CodeSet::new().codes(SNOMED, &["428700003"]).text(&[
                "primary progressive",
                "primary chronic progressive",
                "ppms",
                "primaire progressive",
                "progressive primaire",
                "primitivement progressive",
                "sep pp",
            ]),
        ),
        // 425500002 SPMS (V).
        (
            MsType::SecondaryProgressive,
            CodeSet::new().codes(SNOMED, &["425500002"]).text(&[
                "secondary progressive",
                "spms",
                "secondairement progressive",
                "secondaire progressive",
                "progressive secondaire",
                "sep sp",
            ]),
        ),
        // 24700007 MS without subtype (V).
        (
            MsType::Unspecified,
            CodeSet::new().codes(SNOMED, &["24700007"]).text(&[
                "multiple sclerosis",
                "sclerose en plaques",
                "sclerose multiple",
                "disseminated sclerosis",
                "sep",
            ]),
        ),
    ]
}

fn default_reactions() -> Vec<(ImmuneReaction, CodeSet)> {
    vec![
        (
            ImmuneReaction::AutoimmuneHepatitis,
            // SNOMED 408335007, ICD-10 K75.4 (V).
            CodeSet::new()
                .codes(SNOMED, &["408335007"])
                .icd(&["K75.4"])
                .text(&[
                    "autoimmune hepatitis",
                    "hepatite auto immune",
                    "hepatite autoimmune",
                    "hai",
                ]),
        ),
        (
            ImmuneReaction::LiverInjury,
            // Toxic liver disease ICD-10 K71.x (V).
            CodeSet::new().icd(&["K71"]).text(&[
                "drug induced liver injury",
                "toxic liver disease",
                "toxic hepatitis",
                "hepatite medicamenteuse",
                "hepatite toxique",
                "atteinte hepatique medicamenteuse",
                "cytolyse hepatique",
                "hepatite cytolytique",
                "liver injury",
                "atteinte hepatique",
                "lesion hepatique",
            ]),
        ),
        (
            ImmuneReaction::Hlh,
            // ICD-10 D76.1 (V); the SNOMED CT code is unconfirmed, so text matches instead.
            CodeSet::new().icd(&["D76.1"]).text(&[
                "hemophagocytic lymphohistiocytosis",
                "haemophagocytic lymphohistiocytosis",
                "hemophagocytic syndrome",
                "haemophagocytic syndrome",
                "lymphohistiocytose hemophagocytaire",
                "syndrome d activation macrophagique",
            ]),
        ),
        (
            ImmuneReaction::ImmuneThrombocytopenia,
            // SNOMED 32273002 / 2897005, ICD-10 D69.3 (V).
            CodeSet::new()
                .codes(SNOMED, &["32273002", "2897005"])
                .icd(&["D69.3"])
                .text(&[
                    "immune thrombocytopenia",
                    "immune thrombocytopenic purpura",
                    "idiopathic thrombocytopenic purpura",
                    "thrombopenie immunologique",
                    "thrombocytopenie immunologique",
                    "purpura thrombopenique immunologique",
                    "purpura thrombopenique idiopathique",
                    "pti",
                    "itp",
                ]),
        ),
        (
            ImmuneReaction::AntiGbmDisease,
            // ICD-10 M31.0 (V). U: unconfirmed SNOMED 50581000; ICD-10 and text also match.
            CodeSet::new()
                .icd(&["M31.0"])
                .codes(SNOMED, &["50581000"])
                .text(&[
                    "goodpasture",
                    "anti gbm",
                    "anti glomerular basement membrane",
                    "anti membrane basale glomerulaire",
                ]),
        ),
        (
            ImmuneReaction::Ttp,
            // U: unconfirmed ICD-10 M31.1 (thrombotic microangiopathy) and SNOMED 78129009;
            // text also matches.
            CodeSet::new()
                .icd(&["M31.1"])
                .codes(SNOMED, &["78129009"])
                .text(&[
                    "thrombotic thrombocytopenic purpura",
                    "purpura thrombotique thrombocytopenique",
                    "moschcowitz",
                ]),
        ),
        (
            ImmuneReaction::AcquiredHaemophiliaA,
            // ICD-10-CM D68.311 (V); WHO D68.3 (V) in the WHO-based systems only, because in
            // ICD-10-CM D68.3x also holds drug-induced (extrinsic anticoagulant) bleeding.
            CodeSet::new()
                .codes(ICD10_CM, &["D68.311"])
                .icd_in(Some(ICD10), &["D68.3"])
                .icd_in(Some(ICD10_FR), &["D68.3"])
                .icd_in(Some(ICD10_GM), &["D68.3"])
                .text(&[
                    "acquired haemophilia",
                    "acquired hemophilia",
                    "hemophilie acquise",
                ]),
        ),
        (
            ImmuneReaction::AutoimmuneEncephalitis,
            // No code in the reference: text and local codes only.
            CodeSet::new().text(&[
                "autoimmune encephalitis",
                "encephalite auto immune",
                "anti nmda receptor encephalitis",
                "encephalite anti nmda",
                "limbic encephalitis",
                "encephalite limbique",
            ]),
        ),
        (
            ImmuneReaction::ThyroidDisease,
            // Graves' 353295004 / E05.0, hypothyroidism 40930008 / E03.9, hyperthyroidism
            // 34486009 / E05.9 (V). Autoimmune (Hashimoto) thyroiditis ICD-10 E06.3 (S).
            CodeSet::new()
                .codes(SNOMED, &["353295004", "40930008", "34486009"])
                .icd(&["E05.0", "E03.9", "E05.9", "E06.3"])
                .text(&[
                    "graves disease",
                    "maladie de basedow",
                    "basedow",
                    "hashimoto",
                    "autoimmune thyroiditis",
                    "thyroidite auto immune",
                    "hypothyroidism",
                    "hyperthyroidism",
                    "hypothyroidie",
                    "hyperthyroidie",
                ]),
        ),
        (
            ImmuneReaction::AutoimmuneCytopenia,
            // Autoimmune haemolytic anaemia ICD-10 D59.0 (drug-induced) and D59.1 (V); ICD-10-CM
            // D59.1x. U: autoimmune neutropenia and pancytopenia have no specific code in the
            // reference: text and local codes (`reaction:autoimmune-cytopenia`).
            CodeSet::new().icd(&["D59.0", "D59.1"]).text(&[
                "autoimmune haemolytic anaemia",
                "autoimmune hemolytic anemia",
                "autoimmune haemolytic anemia",
                "anemie hemolytique auto immune",
                "anemie hemolytique autoimmune",
                "ahai",
                "evans syndrome",
                "syndrome d evans",
                "autoimmune neutropenia",
                "neutropenie auto immune",
                "neutropenie autoimmune",
                "autoimmune cytopenia",
                "cytopenie auto immune",
                "pancytopenia",
                "pancytopenie",
            ]),
        ),
        (
            ImmuneReaction::AdultOnsetStillsDisease,
            // ICD-10 M06.1 (V; it also sits in M06, so the condition is "other autoimmune
            // disease" too).
            CodeSet::new().icd(&["M06.1"]).text(&[
                "adult onset still",
                "adult onset stills",
                "still s disease",
                "stills disease",
                "maladie de still",
            ]),
        ),
    ]
}

fn default_contraindications() -> Vec<(ContraindicationKind, CodeSet)> {
    use ContraindicationKind::*;
    vec![
        // Hypersensitivity to alemtuzumab is read from AllergyIntolerance (whose substance the
        // alemtuzumab codes match); as a diagnosis only text and local codes.
        (
            Hypersensitivity,
            CodeSet::new().text(&[
                "allergy to alemtuzumab",
                "alemtuzumab allergy",
                "hypersensitivity to alemtuzumab",
                "allergie a l alemtuzumab",
                "hypersensibilite a l alemtuzumab",
            ]),
        ),
        // SNOMED 86406008, ICD-10 B20–B24, Z21 (V).
        (
            Hiv,
            CodeSet::new()
                .codes(SNOMED, &["86406008"])
                .icd_range("B20", "B24")
                .icd(&["Z21"]),
        ),
        // Sepsis, tuberculosis, active chronic hepatitis B/C (ICD-10 B18.x), herpes zoster (B02),
        // CMV disease (B25) (docs/clinical-rules.md §4). U: unconfirmed choices, each backed by
        // text: sepsis SNOMED 91302008, septic shock SNOMED 76623002, ICD-10 A40/A41 (sepsis),
        // ICD-10-CM R65.2 (severe sepsis), active tuberculosis ICD-10 A15–A19.
        (
            SevereActiveInfection,
            CodeSet::new()
                .codes(SNOMED, &["91302008", "76623002"])
                .icd(&["A40", "A41", "B18", "B02", "B25"])
                .icd_in(Some(ICD10_CM), &["R65.2"])
                .icd_range("A15", "A19")
                .text(&[
                    "chronic hepatitis b",
                    "chronic hepatitis c",
                    "hepatite b chronique",
                    "hepatite c chronique",
                    "hepatite chronique b",
                    "hepatite chronique c",
                    "herpes zoster",
                    "shingles",
                    "zona",
                    "cytomegalovirus disease",
                    "maladie a cmv",
                    "cmv disease",
                    "sepsis",
                    "septic shock",
                    "choc septique",
                    "septicemia",
                    "septicemie",
                    "active tuberculosis",
                    "tuberculose active",
                    "severe infection",
                    "infection severe",
                ]),
        ),
        // SNOMED 38341003, ICD-10 I10–I15 (V). Alone not a contraindication.
        (
            Hypertension,
            CodeSet::new()
                .codes(SNOMED, &["38341003"])
                .icd_range("I10", "I15"),
        ),
        // Explicit code: ICD-10-CM I16.x hypertensive urgency / emergency / crisis (S). Otherwise a
        // hypertension code whose text says uncontrolled (see UNCONTROLLED_QUALIFIERS), or this
        // text when nothing is coded.
        (
            UncontrolledHypertension,
            CodeSet::new().icd_in(Some(ICD10_CM), &["I16"]).text(&[
                "uncontrolled hypertension",
                "hypertension non controlee",
                "hta non controlee",
                "hypertensive crisis",
                "hypertensive emergency",
                "crise hypertensive",
                "urgence hypertensive",
            ]),
        ),
        // Vertebral artery dissection 230730001, I72.6 / I77.74; carotid dissection I72.0 / I77.71;
        // cerebral artery dissection I67.0 (V).
        (
            CervicocephalicArterialDissection,
            CodeSet::new()
                .codes(SNOMED, &["230730001"])
                .icd(&["I72.6", "I77.74", "I72.0", "I77.71", "I67.0"]),
        ),
        // SNOMED 230690007, ICD-10 I60–I64, ICD-10-CM Z86.73 (V).
        (
            Stroke,
            CodeSet::new()
                .codes(SNOMED, &["230690007"])
                .icd_range("I60", "I64")
                .icd_in(Some(ICD10_CM), &["Z86.73"]),
        ),
        // SNOMED 194828000, ICD-10 I20 (V).
        (
            Angina,
            CodeSet::new().codes(SNOMED, &["194828000"]).icd(&["I20"]),
        ),
        // SNOMED 22298006, ICD-10 I21, I22, I25.2 (V).
        (
            MyocardialInfarction,
            CodeSet::new()
                .codes(SNOMED, &["22298006"])
                .icd(&["I21", "I22", "I25.2"]),
        ),
        // SNOMED 64779008, ICD-10 D65–D69 (V). This includes D69.3 (ITP) and D68.3 (acquired
        // haemophilia), which then carry both classes.
        (
            Coagulopathy,
            CodeSet::new()
                .codes(SNOMED, &["64779008"])
                .icd_range("D65", "D69"),
        ),
        // Root SNOMED 85828009 (V) plus an explicit list (S): rheumatoid arthritis 69896004 / M05,
        // M06; SLE 55464009 / M32; Crohn's disease 34000006 / K50; ulcerative colitis 64766004 /
        // K51; type 1 diabetes 46635009 / E10; myasthenia gravis 91637004 / G70.0; Sjögren's
        // 83901003 / M35.0; coeliac disease 396331005 / K90.0. Psoriasis is left out (immune-
        // mediated but not usually listed as an autoimmune contraindication): add it locally with
        // `contraindication:other-autoimmune-disease` if the hospital wants it. MS never counts
        // (removed in `condition_classes`). Autoimmune thyroid disease is R4's `thyroid-disease`.
        (
            OtherAutoimmuneDisease,
            CodeSet::new()
                .codes(
                    SNOMED,
                    &[
                        "85828009",
                        "69896004",
                        "55464009",
                        "34000006",
                        "64766004",
                        "46635009",
                        "91637004",
                        "83901003",
                        "396331005",
                        // U: vitiligo (added by the 2020 decision's list in docs/clinical-rules.md §4).
                        "56727007",
                    ],
                )
                .icd(&[
                    "M05", "M06", "M32", "K50", "K51", "E10", "G70.0", "M35.0", "K90.0", "L80",
                ])
                .text(&[
                    "vitiligo",
                    "rheumatoid arthritis",
                    "polyarthrite rhumatoide",
                    "systemic lupus",
                    "lupus erythemateux systemique",
                    "crohn",
                    "ulcerative colitis",
                    "rectocolite hemorragique",
                    "type 1 diabetes",
                    "diabete de type 1",
                    "myasthenia gravis",
                    "myasthenie",
                    "sjogren",
                    "coeliac disease",
                    "celiac disease",
                    "maladie coeliaque",
                ]),
        ),
        // ICD-10-CM Z79.01 long-term use of anticoagulants, Z79.02 of antithrombotics /
        // antiplatelets, Z79.82 of aspirin (S). The medication itself is matched by `antithrombotic`.
        (
            AntithromboticTherapy,
            CodeSet::new().icd_in(Some(ICD10_CM), &["Z79.01", "Z79.02", "Z79.82"]),
        ),
    ]
}

fn default_labs() -> Vec<(LabTest, CodeSet)> {
    vec![
        // ALT 1742-6 (V); variants 1743-4, 76625-3 (S).
        (
            LabTest::Alt,
            CodeSet::new().codes(LOINC, &["1742-6", "1743-4", "76625-3"]),
        ),
        // AST 1920-8 (V); variants 1919-0, 30239-8 (S).
        (
            LabTest::Ast,
            CodeSet::new().codes(LOINC, &["1920-8", "1919-0", "30239-8"]),
        ),
        // Total bilirubin 1975-2 (V); 14631-6 total bilirubin in moles/volume (S).
        (
            LabTest::TotalBilirubin,
            CodeSet::new().codes(LOINC, &["1975-2", "14631-6"]),
        ),
    ]
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

    /// Every code [`Terminology::lab_test`] accepts, defaults and local codes, for the liver-test
    /// queries (`services::PrefetchTemplates`): a code accepted is a code asked for.
    /// Deterministic order: ALT, AST, total bilirubin, each sorted by (system, code), no
    /// duplicates. Systems are as matched (trimmed, lowercase, no trailing `/`); an ATC local code
    /// is its prefix.
    pub fn lab_codes(&self) -> Vec<Code> {
        let mut out: Vec<Code> = Vec::new();
        for (_, set) in &self.labs {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(system: &str, code: &str) -> Code {
        Code::new(system, code)
    }

    fn ms(term: &Terminology, system: &str, code: &str) -> Vec<ConditionClass> {
        term.condition_classes(&[c(system, code)], None)
    }

    /// The two `ema-2020` classes that had no test by code (issue 18 item 3): angina (SNOMED
    /// 194828000, ICD-10 I20) and cervicocephalic arterial dissection (SNOMED 230730001, ICD-10
    /// I72.0 / I72.6 / I67.0, ICD-10-CM I77.71 / I77.74), each to its contraindication kind and
    /// nothing else; neighbouring codes are not.
    #[test]
    fn angina_and_cervicocephalic_arterial_dissection_by_code() {
        use ContraindicationKind::*;
        let t = Terminology::default();
        let ci = ConditionClass::Contraindication;
        for (system, code) in [
            (SNOMED, "194828000"),
            (ICD10, "I20"),
            (ICD10, "I20.0"),
            (ICD10, "I20.9"),
            (ICD10_CM, "I20.9"),
        ] {
            assert_eq!(ms(&t, system, code), vec![ci(Angina)], "{system}|{code}");
        }
        for (system, code) in [
            (SNOMED, "230730001"),
            (ICD10, "I72.0"),
            (ICD10, "I72.6"),
            (ICD10, "I67.0"),
            (ICD10_CM, "I77.71"),
            (ICD10_CM, "I77.74"),
        ] {
            assert_eq!(
                ms(&t, system, code),
                vec![ci(CervicocephalicArterialDissection)],
                "{system}|{code}"
            );
        }
        // Chronic ischaemic heart disease, an upper-limb artery aneurysm, a cerebral aneurysm.
        for (system, code) in [(ICD10, "I25.1"), (ICD10, "I72.1"), (ICD10, "I67.1")] {
            let got = ms(&t, system, code);
            assert!(
                !got.contains(&ci(Angina)) && !got.contains(&ci(CervicocephalicArterialDissection)),
                "{system}|{code}: {got:?}"
            );
        }
    }

    #[test]
    fn alemtuzumab_and_campath() {
        let t = Terminology::default();
        let lemtrada = MedicationClass::Alemtuzumab { campath: false };
        let campath = MedicationClass::Alemtuzumab { campath: true };
        assert_eq!(t.medication_class(&[c(RXNORM, "117055")], None), lemtrada);
        assert_eq!(t.medication_class(&[c(RXNORM, "1594658")], None), lemtrada);
        assert_eq!(t.medication_class(&[c(ATC, "L04AG06")], None), lemtrada);
        assert_eq!(
            t.medication_class(&[c(SNOMED, "129472003")], None),
            lemtrada
        );
        assert_eq!(
            t.medication_class(&[c(RXNORM, "117055"), c(RXNORM, "828265")], None),
            campath
        );
        assert_eq!(t.medication_class(&[], Some("LEMTRADA 12 mg")), lemtrada);
        assert_eq!(
            t.medication_class(&[], Some("MabCampath 30 mg/ml")),
            campath
        );
        assert_eq!(
            t.medication_class(&[], Some("Campath (alemtuzumab)")),
            campath
        );
        // Text is only used when no coding matched.
        assert_eq!(
            t.medication_class(&[c(RXNORM, "1012892")], Some("alemtuzumab")),
            MedicationClass::Dmt {
                ingredient: "fingolimod".into()
            }
        );
        assert_eq!(
            t.medication_class(&[c(RXNORM, "999999")], Some("Lemtrada")),
            lemtrada
        );
    }

    #[test]
    fn dmts_by_code_and_name_grouping_peginterferon() {
        let t = Terminology::default();
        let dmt = |k: &str| MedicationClass::Dmt {
            ingredient: k.into(),
        };
        assert_eq!(
            t.medication_class(&[c(ATC, "L03AB13")], None),
            dmt("interferon beta-1a")
        );
        assert_eq!(
            t.medication_class(&[], Some("Plegridy 125 µg")),
            dmt("interferon beta-1a")
        );
        assert_eq!(
            t.medication_class(&[], Some("Peginterféron bêta-1a")),
            dmt("interferon beta-1a")
        );
        assert_eq!(
            t.medication_class(&[], Some("Betaseron")),
            dmt("interferon beta-1b")
        );
        assert_eq!(
            t.medication_class(&[], Some("TECFIDERA 240mg")),
            dmt("dimethyl fumarate")
        );
        assert_eq!(t.medication_class(&[], Some("Gilenya")), dmt("fingolimod"));
        assert_eq!(
            t.medication_class(&[c(ATC, "L04AA27")], None),
            dmt("fingolimod")
        );
        assert_eq!(t.medication_class(&[], Some("Kesimpta")), dmt("ofatumumab"));
        assert_eq!(
            t.medication_class(&[], Some("Fampyra 10 mg")),
            MedicationClass::Other
        );
        assert_eq!(
            t.medication_class(&[], Some("fampridine")),
            MedicationClass::Other
        );
        assert_eq!(t.medication_class(&[], None), MedicationClass::Other);
    }

    #[test]
    fn antithrombotics() {
        let t = Terminology::default();
        for codes in [
            vec![c(ATC, "B01AC06")],
            vec![c(ATC, "b01af01")],
            vec![c(RXNORM, "1364430")],
        ] {
            assert_eq!(
                t.medication_class(&codes, None),
                MedicationClass::Antithrombotic
            );
        }
        assert_eq!(
            t.medication_class(&[], Some("Kardégic 75 mg")),
            MedicationClass::Antithrombotic
        );
        assert_eq!(
            t.medication_class(&[c(ATC, "B01")], None),
            MedicationClass::Other
        );
    }

    #[test]
    fn ms_codes() {
        let t = Terminology::default();
        let rr = vec![ConditionClass::Ms(MsType::RelapsingRemitting)];
        let un = vec![ConditionClass::Ms(MsType::Unspecified)];
        assert_eq!(ms(&t, ICD10_CM, "G35.A"), rr);
        assert_eq!(ms(&t, ICD10_CM, "g35a"), rr);
        assert_eq!(ms(&t, ICD10_GM, "G35.10"), rr);
        assert_eq!(ms(&t, SNOMED, "426373005"), rr);
        assert_eq!(ms(&t, ICD10, "G35"), un);
        assert_eq!(ms(&t, ICD10_FR, "G35"), un);
        assert_eq!(ms(&t, ICD10_CM, "G35.D"), un);
        assert_eq!(ms(&t, SNOMED, "24700007"), un);
        assert_eq!(
            ms(&t, ICD10_CM, "G35.B1"),
            vec![ConditionClass::Ms(MsType::PrimaryProgressive)]
        );
        assert_eq!(
            ms(&t, ICD10_CM, "G35.C2"),
            vec![ConditionClass::Ms(MsType::SecondaryProgressive)]
        );
        // Not MS.
        assert!(ms(&t, ICD10, "G36").is_empty());
        assert!(ms(&t, SNOMED, "G35").is_empty());
        // A subtype on the same condition beats "unspecified".
        assert_eq!(
            t.condition_classes(&[c(ICD10, "G35"), c(SNOMED, "426373005")], None),
            rr
        );
    }

    #[test]
    fn reactions_and_contraindications() {
        use ContraindicationKind::*;
        let t = Terminology::default();
        let ci = ConditionClass::Contraindication;
        let ir = ConditionClass::ImmuneReaction;
        assert_eq!(ms(&t, ICD10, "B22.7"), vec![ci(Hiv)]);
        // CMV disease, chronic hepatitis B, zoster: severe active infections (issue 11 point 5).
        assert_eq!(ms(&t, ICD10, "B25"), vec![ci(SevereActiveInfection)]);
        assert_eq!(ms(&t, ICD10, "B18.1"), vec![ci(SevereActiveInfection)]);
        assert_eq!(ms(&t, ICD10, "B02.9"), vec![ci(SevereActiveInfection)]);
        assert_eq!(ms(&t, ICD10, "L80"), vec![ci(OtherAutoimmuneDisease)]);
        assert_eq!(
            ms(&t, ICD10, "D59.1"),
            vec![ir(ImmuneReaction::AutoimmuneCytopenia)]
        );
        assert!(ms(&t, ICD10, "M06.1").contains(&ir(ImmuneReaction::AdultOnsetStillsDisease)));
        // French chart wording, coded locally.
        let local = [c("urn:oid:1.2.250.1.999", "X1")];
        for (text, class) in [
            ("Cytolyse hépatique", ir(ImmuneReaction::LiverInjury)),
            (
                "Hépatite auto-immune",
                ir(ImmuneReaction::AutoimmuneHepatitis),
            ),
            ("PTI", ir(ImmuneReaction::ImmuneThrombocytopenia)),
            (
                "Anémie hémolytique auto-immune",
                ir(ImmuneReaction::AutoimmuneCytopenia),
            ),
            (
                "Maladie de Still de l'adulte",
                ir(ImmuneReaction::AdultOnsetStillsDisease),
            ),
            ("Zona thoracique", ci(SevereActiveInfection)),
        ] {
            assert!(
                t.condition_classes(&local, Some(text)).contains(&class),
                "{text}"
            );
        }
        // MS on text: subtype wins over "unspecified".
        for (text, class) in [
            (
                "Sclérose en plaques rémittente-récurrente",
                MsType::RelapsingRemitting,
            ),
            ("SEP-RR", MsType::RelapsingRemitting),
            (
                "Relapsing-remitting multiple sclerosis",
                MsType::RelapsingRemitting,
            ),
            (
                "SEP secondairement progressive",
                MsType::SecondaryProgressive,
            ),
            ("Sclérose en plaques", MsType::Unspecified),
        ] {
            assert_eq!(
                t.condition_classes(&local, Some(text)),
                vec![ConditionClass::Ms(class)],
                "{text}"
            );
        }
        assert_eq!(ms(&t, ICD10_CM, "I11.9"), vec![ci(Hypertension)]);
        assert_eq!(
            ms(&t, ICD10_CM, "I16.0"),
            vec![ci(UncontrolledHypertension)]
        );
        assert_eq!(
            t.condition_classes(&[c(SNOMED, "38341003")], Some("HTA non contrôlée")),
            vec![ci(Hypertension), ci(UncontrolledHypertension)]
        );
        assert_eq!(
            t.condition_classes(&[c(SNOMED, "38341003")], Some("Essential hypertension")),
            vec![ci(Hypertension)]
        );
        assert_eq!(ms(&t, ICD10, "I63.9"), vec![ci(Stroke)]);
        assert_eq!(ms(&t, ICD10, "I25.2"), vec![ci(MyocardialInfarction)]);
        assert!(ms(&t, ICD10, "I25.1").is_empty());
        assert_eq!(
            ms(&t, ICD10_CM, "I77.71"),
            vec![ci(CervicocephalicArterialDissection)]
        );
        assert_eq!(
            ms(&t, ICD10, "D69.3"),
            vec![ir(ImmuneReaction::ImmuneThrombocytopenia), ci(Coagulopathy)]
        );
        assert_eq!(
            ms(&t, ICD10_CM, "D68.311"),
            vec![ir(ImmuneReaction::AcquiredHaemophiliaA), ci(Coagulopathy)]
        );
        assert_eq!(ms(&t, ICD10_CM, "D68.32"), vec![ci(Coagulopathy)]);
        assert_eq!(
            ms(&t, ICD10, "K75.4"),
            vec![ir(ImmuneReaction::AutoimmuneHepatitis)]
        );
        assert_eq!(
            ms(&t, ICD10, "K71.6"),
            vec![ir(ImmuneReaction::LiverInjury)]
        );
        assert_eq!(ms(&t, ICD10, "D76.1"), vec![ir(ImmuneReaction::Hlh)]);
        assert_eq!(
            ms(&t, SNOMED, "353295004"),
            vec![ir(ImmuneReaction::ThyroidDisease)]
        );
        assert_eq!(
            ms(&t, ICD10, "E05.0"),
            vec![ir(ImmuneReaction::ThyroidDisease)]
        );
        assert_eq!(ms(&t, ICD10, "A41.9"), vec![ci(SevereActiveInfection)]);
        assert_eq!(ms(&t, ICD10, "A16.2"), vec![ci(SevereActiveInfection)]);
        assert_eq!(ms(&t, SNOMED, "69896004"), vec![ci(OtherAutoimmuneDisease)]);
        assert_eq!(ms(&t, ICD10_CM, "Z79.01"), vec![ci(AntithromboticTherapy)]);
        // U codes are never the only way: text also matches when nothing is coded.
        assert_eq!(
            t.condition_classes(&[], Some("Lymphohistiocytose hémophagocytaire")),
            vec![ir(ImmuneReaction::Hlh)]
        );
        assert_eq!(
            t.condition_classes(
                &[c(SNOMED, "1")],
                Some("Purpura thrombotique thrombocytopénique")
            ),
            vec![ir(ImmuneReaction::Ttp)]
        );
        assert_eq!(
            t.condition_classes(&[], Some("Septic shock")),
            vec![ci(SevereActiveInfection)]
        );
    }

    #[test]
    fn labs_vitals_and_order_codes() {
        let t = Terminology::default();
        assert_eq!(t.lab_test(&[c(LOINC, "1742-6")]), Some(LabTest::Alt));
        assert_eq!(t.lab_test(&[c(LOINC, "76625-3")]), Some(LabTest::Alt));
        assert_eq!(t.lab_test(&[c(LOINC, "1919-0")]), Some(LabTest::Ast));
        assert_eq!(
            t.lab_test(&[c(LOINC, "1975-2")]),
            Some(LabTest::TotalBilirubin)
        );
        assert_eq!(t.lab_test(&[c(LOINC, "1968-7")]), None, "direct bilirubin");
        assert_eq!(t.lab_test(&[c(SNOMED, "1742-6")]), None);
        assert_eq!(
            t.vital_sign(&[c(LOINC, "85354-9")]),
            Some(VitalSign::BloodPressurePanel)
        );
        assert_eq!(
            t.vital_sign(&[c(LOINC, "8480-6")]),
            Some(VitalSign::Systolic)
        );
        assert_eq!(
            t.vital_sign(&[c(LOINC, "8462-4")]),
            Some(VitalSign::Diastolic)
        );
        assert_eq!(t.liver_panel_order_code(), c(LOINC, "24325-3"));
        assert_eq!(t.lab_code(LabTest::Ast), c(LOINC, "1920-8"));
    }

    #[test]
    fn stop_reasons() {
        let t = Terminology::default();
        assert_eq!(t.stop_reason(&[], None), StopReason::None);
        assert_eq!(
            t.stop_reason(&[], Some("Inefficacité")),
            StopReason::Inefficacy
        );
        assert_eq!(
            t.stop_reason(&[], Some("Échec thérapeutique")),
            StopReason::Inefficacy
        );
        assert_eq!(
            t.stop_reason(&[], Some("breakthrough disease")),
            StopReason::Inefficacy
        );
        assert_eq!(
            t.stop_reason(&[], Some("Effets indésirables")),
            StopReason::Intolerance
        );
        assert_eq!(
            t.stop_reason(&[], Some("side effect: lymphopenia")),
            StopReason::Intolerance
        );
        assert_eq!(
            t.stop_reason(&[], Some("pregnancy wish")),
            StopReason::Other
        );
    }

    #[test]
    fn local_codes_extend_concepts() {
        let local = |concept: &str, system: &str, code: &str| LocalCode {
            concept: concept.into(),
            system: system.into(),
            code: code.into(),
        };
        let t = Terminology::default()
            .with_local_codes(&[
                local("dmt:fingolimod", "urn:hospital:drugs", "FINGO-05"),
                local("dmt:new-drug", "urn:hospital:drugs", "NEW-1"),
                local("lab:alt", "urn:hospital:lab", "TGP"),
                local("stop:inefficacy", "urn:hospital:stop", "INEF"),
                local("reaction:hlh", SNOMED, "12345"),
                local("contraindication:hiv", "urn:hospital:dx", "VIH"),
            ])
            .expect("valid local codes");
        assert_eq!(
            t.medication_class(&[c("urn:hospital:drugs", "FINGO-05")], None),
            MedicationClass::Dmt {
                ingredient: "fingolimod".into()
            }
        );
        assert_eq!(
            t.medication_class(&[c("urn:hospital:drugs", "NEW-1")], None),
            MedicationClass::Dmt {
                ingredient: "new-drug".into()
            }
        );
        assert_eq!(
            t.lab_test(&[c("urn:hospital:lab", "TGP")]),
            Some(LabTest::Alt)
        );
        assert_eq!(
            t.stop_reason(&[c("urn:hospital:stop", "INEF")], None),
            StopReason::Inefficacy
        );
        assert_eq!(
            ms(&t, SNOMED, "12345"),
            vec![ConditionClass::ImmuneReaction(ImmuneReaction::Hlh)]
        );
        assert_eq!(
            ms(&t, "urn:hospital:dx", "VIH"),
            vec![ConditionClass::Contraindication(ContraindicationKind::Hiv)]
        );
        // The defaults do not know them.
        assert_eq!(
            Terminology::default().lab_test(&[c("urn:hospital:lab", "TGP")]),
            None
        );
    }

    #[test]
    fn local_code_errors() {
        let bad = |concept: &str, code: &str| {
            Terminology::default().with_local_codes(&[LocalCode {
                concept: concept.into(),
                system: "urn:x".into(),
                code: code.into(),
            }])
        };
        assert!(matches!(
            bad("lab:ggt", "X"),
            Err(TerminologyError::UnknownConcept(c)) if c == "lab:ggt"
        ));
        assert!(matches!(
            bad("dmt:", "X"),
            Err(TerminologyError::UnknownConcept(_))
        ));
        assert!(matches!(
            bad("aspirin", "X"),
            Err(TerminologyError::UnknownConcept(_))
        ));
        assert!(matches!(
            bad("lab:alt", "  "),
            Err(TerminologyError::EmptyCode { .. })
        ));
        // Concept ids are case-insensitive: the code is then an ALT test.
        assert_eq!(
            bad("LAB:ALT", "X").unwrap().lab_test(&[c("urn:x", "X")]),
            Some(LabTest::Alt)
        );
    }

    #[test]
    fn concept_ids_are_all_accepted() {
        let ids = Terminology::concept_ids();
        assert!(ids.contains(&"dmt:fingolimod".to_string()));
        assert!(ids.contains(&"reaction:autoimmune-hepatitis".to_string()));
        assert!(ids.contains(&"contraindication:hiv".to_string()));
        for id in ids {
            let result = Terminology::default().with_local_codes(&[LocalCode {
                concept: id.clone(),
                system: "urn:x".into(),
                code: "1".into(),
            }]);
            assert!(result.is_ok(), "{id}");
        }
    }
}
