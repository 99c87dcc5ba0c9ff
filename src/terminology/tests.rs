//! Tests of the value sets and their matching, through the public API.

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

/// The recognition half of `rules::r1_initiation`'s `icd10_cm_g35a_is_rrms_but_who_g35_is_unconfirmed`:
/// the classes the rule receives for these codes.
#[test]
fn icd10_g35_codes_as_the_rules_receive_them() {
    let term = Terminology::default();
    assert_eq!(
        ms(&term, ICD10_CM, "G35.A"),
        vec![ConditionClass::Ms(MsType::RelapsingRemitting)]
    );
    assert_eq!(
        ms(&term, ICD10, "G35"),
        vec![ConditionClass::Ms(MsType::Unspecified)]
    );
}

/// The recognition half of `rules::r1_initiation`'s `ms_coded_locally_with_french_text_is_recognised`:
/// a local code the terminology does not know, with a French text naming relapsing-remitting MS.
#[test]
fn ms_coded_locally_with_french_text_as_the_rules_receive_it() {
    let term = Terminology::default();
    assert_eq!(
        term.condition_classes(
            &[c("urn:oid:1.2.250.1.999", "SEP-RR")],
            Some("Sclérose en plaques rémittente-récurrente"),
        ),
        vec![ConditionClass::Ms(MsType::RelapsingRemitting)]
    );
}

/// The `bloodPressure` query asks for every code `vital_sign` recognises and only those: the
/// defaults and a hospital's `vital:*` codes (a reading coded 55284-4 only, or locally, was never
/// fetched from the FHIR server when the query listed the contract's three codes).
#[test]
fn the_blood_pressure_query_asks_for_every_code_recognised() {
    let term = Terminology::default();
    let loinc = |code: &str| Code::new(LOINC, code);
    assert_eq!(
        term.blood_pressure_query_codes(),
        vec![
            loinc("55284-4"),
            loinc("85354-9"),
            loinc("8480-6"),
            loinc("8462-4")
        ]
    );
    let local = Terminology::default()
        .with_local_codes(&[LocalCode {
            concept: "vital:systolic".into(),
            system: "urn:hospital:vitals".into(),
            code: "PAS".into(),
        }])
        .expect("valid local code");
    let codes = local.blood_pressure_query_codes();
    assert!(
        codes.contains(&Code::new("urn:hospital:vitals", "PAS")),
        "{codes:?}"
    );
    assert_eq!(codes.len(), 5);
    for code in &codes {
        assert!(
            local.vital_sign(std::slice::from_ref(code)).is_some(),
            "{code:?}"
        );
    }
    assert_eq!(
        local.query_codes(ObservationCodes::BloodPressure),
        codes,
        "the data set's query reads the same list"
    );
}
