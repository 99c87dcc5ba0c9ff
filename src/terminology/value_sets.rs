//! The default value sets (`docs/clinical-rules.md` §4, with each code's status **V** / **S** /
//! **U**) and the concept ids local codes are added to. How they match is `matcher.rs`.

use crate::rules::{ContraindicationKind, ImmuneReaction, LabTest, MsType, StopReason};

use super::matcher::CodeSet;
use super::{Terminology, VitalSign, ICD10, ICD10_CM, ICD10_FR, ICD10_GM, LOINC, RXNORM, SNOMED};

pub(super) const MS_TYPES: [(MsType, &str); 4] = [
    (MsType::RelapsingRemitting, "relapsing-remitting"),
    (MsType::PrimaryProgressive, "primary-progressive"),
    (MsType::SecondaryProgressive, "secondary-progressive"),
    (MsType::Unspecified, "unspecified"),
];

pub(super) const REACTIONS: [(ImmuneReaction, &str); 11] = [
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

pub(super) const CONTRAINDICATIONS: [(ContraindicationKind, &str); 12] = [
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

pub(super) const LABS: [(LabTest, &str); 3] = [
    (LabTest::Alt, "alt"),
    (LabTest::Ast, "ast"),
    (LabTest::TotalBilirubin, "total-bilirubin"),
];

pub(super) const VITALS: [(VitalSign, &str); 3] = [
    (VitalSign::BloodPressurePanel, "blood-pressure-panel"),
    (VitalSign::Systolic, "systolic"),
    (VitalSign::Diastolic, "diastolic"),
];

pub(super) const STOPS: [(StopReason, &str); 2] = [
    (StopReason::Inefficacy, "inefficacy"),
    (StopReason::Intolerance, "intolerance"),
];

/// Words in a hypertension diagnosis' text that make it uncontrolled (EN + FR, accent-folded).
pub(super) const UNCONTROLLED_QUALIFIERS: [&str; 9] = [
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

pub(super) fn default_alemtuzumab() -> CodeSet {
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
pub(super) fn default_dmts() -> Vec<(String, CodeSet)> {
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

pub(super) fn default_antithrombotic() -> CodeSet {
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

pub(super) fn default_ms() -> Vec<(MsType, CodeSet)> {
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

pub(super) fn default_reactions() -> Vec<(ImmuneReaction, CodeSet)> {
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

pub(super) fn default_contraindications() -> Vec<(ContraindicationKind, CodeSet)> {
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

pub(super) fn default_labs() -> Vec<(LabTest, CodeSet)> {
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
