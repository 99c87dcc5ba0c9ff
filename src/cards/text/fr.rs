//! Textes des cartes en français. Relecture pharmaceutique : ce fichier contient tout ce que voit
//! le prescripteur francophone. Les arguments `{…}` sont des valeurs du dossier (déjà échappées),
//! des dates déjà au format JJ/MM/AAAA (voir `fmt_date`) ou des nombres déjà formatés (virgule
//! décimale). Termes de la lettre de l'ANSM (règles cliniques §5) : « sclérose en plaques
//! rémittente-récurrente (SEP-RR) », « prescription non signée », « de l'alemtuzumab ».

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

pub struct Fr;

fn or_unknown(d: Option<&str>) -> &str {
    d.unwrap_or("date inconnue")
}

impl Texts for Fr {
    // --- Noms ----------------------------------------------------------------------------------
    fn decimal_separator(&self) -> char {
        ','
    }

    fn fmt_date(&self, date: NaiveDate) -> String {
        date.format("%d/%m/%Y").to_string()
    }

    fn ingredient_name(&self, key: &str) -> String {
        // Dénominations communes internationales en français.
        let name = match key {
            "interferon beta-1a" => "interféron bêta-1a",
            "interferon beta-1b" => "interféron bêta-1b",
            "peginterferon beta-1a" => "peginterféron bêta-1a",
            "glatiramer" | "glatiramer acetate" => "acétate de glatiramère",
            "teriflunomide" => "tériflunomide",
            "dimethyl fumarate" => "diméthyl fumarate",
            "monomethyl fumarate" => "monométhyl fumarate",
            "ponesimod" => "ponésimod",
            "ocrelizumab" => "ocrélizumab",
            other => other,
        };
        name.to_string()
    }

    fn service_name(&self) -> &'static str {
        "Sécurité alemtuzumab"
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
                "lettre de l'ANSM aux professionnels de santé du 30/04/2019 (mise à jour le \
                 15/04/2021) : restrictions d'utilisation de l'alemtuzumab (Lemtrada)"
            }
            Profile::Ema2020 => {
                "décision de la Commission européenne du 16/01/2020 après réévaluation par l'EMA \
                 (RCP actuel de Lemtrada)"
            }
        }
    }

    fn rule_title(&self, rule: RuleCode) -> &'static str {
        match rule {
            RuleCode::InitiationEligibility => "R1 — Éligibilité à l'instauration",
            RuleCode::InfusionMonitoring => "R2 — Surveillance de la perfusion",
            RuleCode::LiverFunction => "R3 — Fonction hépatique",
            RuleCode::ReAdministration => "R4 — Réadministration de l'alemtuzumab",
            RuleCode::PatientCounselling => "R5 — Information du patient",
            RuleCode::Contraindication => "Contre-indications",
            RuleCode::DataUnavailable => "Données indisponibles",
        }
    }

    fn rule_tag(&self, rule: RuleCode) -> &'static str {
        match rule {
            RuleCode::InitiationEligibility => "R1",
            RuleCode::InfusionMonitoring => "R2",
            RuleCode::LiverFunction => "R3",
            RuleCode::ReAdministration => "R4",
            RuleCode::PatientCounselling => "R5",
            RuleCode::Contraindication => "contre-indications",
            RuleCode::DataUnavailable => "données",
        }
    }

    fn rule_measure(&self, rule: RuleCode, profile: Profile) -> &'static str {
        match (rule, profile) {
            (RuleCode::InitiationEligibility, Profile::Ansm2019) => {
                "Un nouveau patient ne peut débuter l'alemtuzumab que s'il est adulte et atteint \
                 d'une sclérose en plaques rémittente-récurrente (SEP-RR) très active malgré un \
                 traitement complet et bien conduit par au moins deux autres traitements de fond, \
                 ou s'il fait partie des « patients adultes atteints de SEP-RR très active pour \
                 lesquels tous les autres traitements de fond sont contre-indiqués ou \
                 inadaptés »."
            }
            (RuleCode::InitiationEligibility, Profile::Ema2020) => {
                "Un nouveau patient ne peut débuter l'alemtuzumab que s'il est adulte et atteint \
                 d'une sclérose en plaques rémittente-récurrente (SEP-RR) très active malgré un \
                 traitement complet et bien conduit par au moins un traitement de fond, ou s'il \
                 fait partie des patients adultes atteints de SEP-RR sévère d'évolution rapide."
            }
            (RuleCode::InfusionMonitoring, _) => {
                "Les constantes vitales, dont la pression artérielle, doivent être surveillées \
                 avant et régulièrement pendant la perfusion ; en cas de modification \
                 cliniquement significative, l'arrêt de la perfusion et une surveillance \
                 complémentaire, ECG compris, doivent être envisagés."
            }
            (RuleCode::LiverFunction, _) => {
                "La fonction hépatique doit être évaluée avant et pendant le traitement."
            }
            (RuleCode::ReAdministration, _) => {
                "En cas de symptômes d'atteinte hépatique ou d'autres réactions immunitaires \
                 graves, le traitement ne doit être réadministré qu'après une évaluation \
                 rigoureuse."
            }
            (RuleCode::PatientCounselling, _) => {
                "Le patient doit être informé qu'il doit consulter immédiatement en cas de \
                 symptômes dans les jours suivant la perfusion ou de symptômes d'atteinte \
                 hépatique."
            }
            (RuleCode::Contraindication, Profile::Ansm2019) => {
                "Selon le RCP de Lemtrada (rubrique 4.3, depuis 2013), l'alemtuzumab est \
                 contre-indiqué en cas d'hypersensibilité à la substance active ou à l'un des \
                 excipients et en cas d'infection par le VIH : ces contre-indications sont \
                 vérifiées sous les deux profils de règles."
            }
            (RuleCode::Contraindication, Profile::Ema2020) => {
                "Selon le RCP actuel (rubrique 4.3), l'alemtuzumab est contre-indiqué en cas \
                 d'hypersensibilité à la substance active ou à l'un des excipients, \
                 d'infection par le VIH, d'infection active sévère, d'hypertension artérielle non \
                 contrôlée, d'antécédent de dissection artérielle cervicocéphalique, d'AVC, \
                 d'angor ou d'infarctus du myocarde, de coagulopathie connue ou de traitement \
                 antiagrégant plaquettaire ou anticoagulant, et de maladie auto-immune autre que \
                 la SEP."
            }
            (RuleCode::DataUnavailable, _) => {
                "Une règle de sécurité dont les données n'ont pas pu être obtenues n'est jamais \
                 considérée comme respectée."
            }
        }
    }

    fn medication_source_name(&self, source: MedicationSource) -> &'static str {
        match source {
            MedicationSource::Request => "prescription",
            MedicationSource::Statement => "déclaration de traitement",
            MedicationSource::Administration => "administration",
        }
    }

    fn lab_test_name(&self, test: LabTest) -> &'static str {
        match test {
            LabTest::Alt => "ALAT",
            LabTest::Ast => "ASAT",
            LabTest::TotalBilirubin => "bilirubine totale",
        }
    }

    fn immune_reaction_name(&self, reaction: ImmuneReaction) -> &'static str {
        match reaction {
            ImmuneReaction::AutoimmuneHepatitis => "hépatite auto-immune",
            ImmuneReaction::LiverInjury => "atteinte hépatique toxique ou médicamenteuse",
            ImmuneReaction::Hlh => "lymphohistiocytose hémophagocytaire (LHH)",
            ImmuneReaction::ImmuneThrombocytopenia => "thrombopénie immunologique (PTI)",
            ImmuneReaction::AntiGbmDisease => {
                "maladie à anticorps anti-membrane basale glomérulaire (anti-MBG)"
            }
            ImmuneReaction::Ttp => "purpura thrombotique thrombocytopénique (PTT)",
            ImmuneReaction::AcquiredHaemophiliaA => "hémophilie A acquise",
            ImmuneReaction::AutoimmuneEncephalitis => "encéphalite auto-immune",
            ImmuneReaction::ThyroidDisease => "dysthyroïdie auto-immune",
            ImmuneReaction::AutoimmuneCytopenia => {
                "cytopénie auto-immune (anémie hémolytique auto-immune, neutropénie, pancytopénie)"
            }
            ImmuneReaction::AdultOnsetStillsDisease => "maladie de Still de l'adulte",
        }
    }

    fn contraindication_name(&self, kind: ContraindicationKind) -> &'static str {
        match kind {
            ContraindicationKind::Hypersensitivity => "hypersensibilité à l'alemtuzumab",
            ContraindicationKind::Hiv => "infection par le VIH",
            ContraindicationKind::SevereActiveInfection => "infection active sévère",
            ContraindicationKind::Hypertension => {
                "hypertension artérielle (contre-indiquée si non contrôlée)"
            }
            ContraindicationKind::UncontrolledHypertension => {
                "hypertension artérielle non contrôlée"
            }
            ContraindicationKind::CervicocephalicArterialDissection => {
                "antécédent de dissection artérielle cervicocéphalique"
            }
            ContraindicationKind::Stroke => "antécédent d'accident vasculaire cérébral (AVC)",
            ContraindicationKind::Angina => "antécédent d'angor (angine de poitrine)",
            ContraindicationKind::MyocardialInfarction => "antécédent d'infarctus du myocarde",
            ContraindicationKind::Coagulopathy => "coagulopathie connue",
            ContraindicationKind::OtherAutoimmuneDisease => "maladie auto-immune autre que la SEP",
            ContraindicationKind::AntithromboticTherapy => {
                "traitement anticoagulant ou antiagrégant plaquettaire"
            }
        }
    }

    fn data_set_name(&self, data: &DataSet) -> &'static str {
        match data {
            DataSet::Patient => "patient, date de naissance",
            DataSet::Conditions => "diagnostics",
            DataSet::MedicationRequests => "prescriptions de médicaments",
            DataSet::MedicationStatements => "déclarations de traitements",
            DataSet::MedicationAdministrations => "administrations de médicaments",
            DataSet::LiverLabs => "bilan hépatique",
            DataSet::BloodPressure => "pression artérielle",
            DataSet::Allergies => "allergies et intolérances",
            DataSet::Medication(_) => "médicament référencé",
            DataSet::Resource(_) => "ressource illisible",
        }
    }

    fn data_set_detail(&self, data: &DataSet, reference: &str) -> String {
        match data {
            DataSet::Medication(_) => {
                format!("le médicament référencé par la prescription ({reference})")
            }
            DataSet::Resource(_) => {
                format!("la ressource {reference}, présente mais illisible")
            }
            _ => format!(
                "{} (clé de prefetch « {reference} »)",
                self.data_set_name(data)
            ),
        }
    }

    fn gap_reason(&self, reason: &GapReason, text: &str) -> String {
        match reason {
            GapReason::NotProvided => {
                "absentes du prefetch et aucun serveur FHIR (fhirServer) à interroger".into()
            }
            GapReason::Unreachable => "le serveur FHIR n'a pas pu être joint".into(),
            GapReason::Timeout => "le serveur FHIR n'a pas répondu dans le délai imparti".into(),
            GapReason::HttpStatus(code) => {
                format!("le serveur FHIR a répondu avec le statut HTTP {code}")
            }
            GapReason::NotFhirJson => "la réponse n'était pas du JSON FHIR".into(),
            GapReason::OperationOutcome(_) if text.is_empty() => {
                "le serveur a renvoyé un OperationOutcome sans diagnostic".into()
            }
            GapReason::OperationOutcome(_) => {
                format!("le serveur a renvoyé un OperationOutcome : {text}")
            }
            GapReason::PageLimit(pages) => {
                format!("plus de {pages} pages de résultats (limite configurée atteinte)")
            }
            GapReason::BadNextLink => {
                "un lien « next » renvoyait vers une page déjà lue ou vers un autre serveur".into()
            }
            GapReason::Unreadable(_) => format!("ressource illisible en FHIR R4 : {text}"),
            GapReason::ServerNotAllowed(_) => {
                format!("le serveur FHIR {text} n'est pas dans la liste des serveurs autorisés")
            }
            GapReason::CallLimit {
                setting,
                limit,
                not_read,
            } => format!(
                "non lu : la limite de cet appel est atteinte ({setting} = {limit}) ; \
                 {not_read} non lu(s)"
            ),
        }
    }

    fn criterion_short(&self, criterion: Criterion, failed: bool) -> &'static str {
        match (criterion, failed) {
            (Criterion::Adult, true) => "patient mineur",
            (Criterion::Adult, false) => "âge inconnu",
            (Criterion::RelapsingRemittingMs, true) => "SEP-RR non établie",
            (Criterion::RelapsingRemittingMs, false) => "SEP-RR non confirmée",
            (Criterion::PriorDmts, true) => "traitements de fond antérieurs insuffisants",
            (Criterion::PriorDmts, false) => "traitements de fond antérieurs non confirmés",
        }
    }

    fn override_display(&self, reason: OverrideReason) -> &'static str {
        match reason {
            OverrideReason::AllOtherDmtsContraindicated => {
                "Tous les autres traitements de fond sont contre-indiqués ou inadaptés"
            }
            OverrideReason::RapidlyEvolvingSevereRrms => "SEP-RR sévère d'évolution rapide",
            OverrideReason::RrmsConfirmedByNeurologist => "SEP-RR confirmée par le neurologue",
            OverrideReason::ScheduleDeviationDocumented => {
                "Calendrier des cures justifié et documenté"
            }
            OverrideReason::DmtHistoryOutsideRecord => {
                "Traitements de fond antérieurs documentés hors de ce dossier"
            }
            OverrideReason::CriteriaConfirmedDocumented => {
                "Critères vérifiés par le prescripteur et documentés"
            }
            OverrideReason::RigorousEvaluationDocumented => {
                "Évaluation rigoureuse réalisée et documentée"
            }
            OverrideReason::BenefitRiskDocumented => {
                "Balance bénéfice-risque évaluée et documentée"
            }
            OverrideReason::ContraindicationResolved => "Contre-indication levée ou résolue",
            OverrideReason::OtherDocumented => "Autre motif (documenté dans le dossier)",
        }
    }

    // --- Parties communes -------------------------------------------------------------------------
    fn heading_data(&self) -> &'static str {
        "Données utilisées"
    }

    fn heading_missing(&self) -> &'static str {
        "Manquant ou non vérifiable"
    }

    fn heading_attest(&self) -> &'static str {
        "À attester par le prescripteur"
    }

    fn profile_line(&self, profile: Profile) -> String {
        format!(
            "Profil de règles : **{}** — {}.",
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
                "Prescription concernée : {label} ({reference}), rédigée le {authored}, évaluée \
                 à la date du {date} (date de l'appel : âge et examens jugés à cette date)."
            ),
            None => format!(
                "Prescription concernée : {label} ({reference}), évaluée à la date du {date}."
            ),
        }
    }

    fn order_identified_by_display(&self) -> &'static str {
        "Le médicament de la prescription n'a pas pu être lu : la prescription a été reconnue \
         comme de l'alemtuzumab d'après le libellé (display) de sa référence. Vérifier le \
         médicament prescrit."
    }

    fn list_separator(&self) -> &'static str {
        " ; "
    }

    fn unknown_date(&self) -> &'static str {
        "date inconnue"
    }

    fn delete_label(&self) -> &'static str {
        "Annuler la prescription de l'alemtuzumab"
    }

    fn delete_description(&self, reference: &str) -> String {
        format!("Supprimer la prescription non signée {reference}")
    }

    fn delete_not_offered(&self) -> &'static str {
        "La référence de la prescription n'est pas exploitable : l'annulation automatique n'est \
         pas proposée, annulez la prescription manuellement si nécessaire."
    }

    fn override_invitation(&self) -> &'static str {
        "Pour maintenir la prescription, choisissez un motif de dérogation : il est enregistré."
    }

    // --- Lignes communes à plusieurs règles ------------------------------------------------------
    fn weak_exposure_record(&self, l: &WeakLine<'_>) -> String {
        let source = self.medication_source_name(l.source);
        let why = match l.why {
            WeakExposureReason::Proposal => "simple proposition de prescription (intent proposal)",
            WeakExposureReason::Plan => "plan de traitement, pas une prescription exécutée",
            WeakExposureReason::OrderNotCompleted => {
                "prescription jamais menée à terme (statut autre que « terminée »)"
            }
            WeakExposureReason::Campath => {
                "produit Campath (oncologie), qui ne compte pas comme exposition dans la SEP"
            }
        };
        format!(
            "{} ({}, {source}, {}) : {why}",
            l.label,
            l.reference,
            or_unknown(l.date.as_deref())
        )
    }

    fn lab_line(&self, lab: &LabLine<'_>) -> String {
        let value = match (&lab.value, lab.unit) {
            (Some(v), Some(u)) => format!("{v} {u}"),
            (Some(v), None) => format!("{v} (unité non précisée)"),
            (None, _) => "pas de valeur numérique".to_string(),
        };
        let uln = match &lab.uln {
            Some((u, UlnSource::ReferenceRange)) => {
                format!("LSN {u} (intervalle de référence du laboratoire)")
            }
            Some((u, UlnSource::ConfiguredDefault)) => format!(
                "LSN par défaut {u} (le laboratoire n'a pas fourni d'intervalle de référence)"
            ),
            None => "LSN inconnue".to_string(),
        };
        let ratio = match &lab.ratio {
            Some(r) => format!(", soit {r} × LSN"),
            None => String::new(),
        };
        let value = match &lab.original {
            Some(original) => format!("{value} (converti depuis {original})"),
            None => value,
        };
        format!(
            "{} : {value} le {} ; {uln}{ratio} ({})",
            self.lab_test_name(lab.test),
            or_unknown(lab.date.as_deref()),
            lab.reference
        )
    }
}

// --- R1 ------------------------------------------------------------------------------------------
impl InitiationTexts for Fr {
    fn initiation_summary_failed(&self, failed: &[Criterion]) -> String {
        let names: Vec<&str> = failed
            .iter()
            .map(|c| self.criterion_short(*c, true))
            .collect();
        if names.is_empty() {
            "Alemtuzumab : critères d'instauration R1 non remplis, prescription à revoir".into()
        } else {
            format!(
                "Alemtuzumab : critères d'instauration R1 non remplis ({})",
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
            "Alemtuzumab : éligibilité R1 à confirmer par le prescripteur".into()
        } else {
            format!(
                "Alemtuzumab : éligibilité R1 à confirmer ({})",
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
                        "alemtuzumab au dossier sans administration prouvée"
                    }
                    InitiationWarningKind::ImmuneReaction => {
                        "réaction immunitaire grave sans alemtuzumab au dossier"
                    }
                    InitiationWarningKind::ConcurrentDmt => {
                        "autre traitement de fond prescrit en même temps"
                    }
                }
                .to_string()
            })
            .collect();
        if names.is_empty() {
            return "Alemtuzumab : éligibilité R1 à confirmer par le prescripteur".into();
        }
        fit_names(&names, |list| {
            format!("Alemtuzumab : à vérifier avant l'instauration ({list})")
        })
    }

    fn criteria_failed_line(&self, names: &str) -> String {
        format!("**Critères non remplis** : {names}.")
    }

    fn criteria_unconfirmed_line(&self, names: &str) -> String {
        format!("**Critères non confirmés par les données** : {names}.")
    }

    fn age_known(&self, years: u32, birth_date: &str, adult_failed: bool) -> String {
        let base =
            format!("Âge à la date d'évaluation : {years} ans (date de naissance {birth_date})");
        if adult_failed {
            format!("{base} — l'alemtuzumab n'est autorisé que chez l'adulte.")
        } else {
            format!("{base}.")
        }
    }

    fn age_unknown(&self) -> &'static str {
        "Âge inconnu : aucune date de naissance au dossier."
    }

    fn ms_relapsing_remitting(&self, label: &str) -> String {
        format!("Diagnostic de SEP-RR au dossier : {label}.")
    }

    fn ms_only_progressive(&self, labels: &str, earlier_rrms: Option<&str>) -> String {
        match earlier_rrms {
            Some(rrms) => format!(
                "Forme actuelle de la SEP progressive : {labels}. Le diagnostic antérieur de \
                 SEP-RR ({rrms}) est inactif ou résolu et suivi d'une forme progressive. \
                 L'alemtuzumab n'est indiqué que dans la SEP-RR."
            ),
            None => format!(
                "Seule une forme progressive de SEP est au dossier : {labels}. L'alemtuzumab \
                 n'est indiqué que dans la SEP-RR."
            ),
        }
    }

    fn ms_conflicting(&self, rrms: &str, progressive: &str) -> String {
        format!(
            "Diagnostics de SEP contradictoires, tous deux actifs : SEP-RR ({rrms}) et forme \
             progressive ({progressive}). La forme actuelle n'a pas pu être confirmée."
        )
    }

    fn ms_unspecified(&self, labels: &str) -> String {
        format!(
            "Sclérose en plaques sans forme précisée au dossier : {labels}. La forme \
             rémittente-récurrente n'est pas confirmée."
        )
    }

    fn ms_no_diagnosis(&self, unrecognised: Option<&str>) -> String {
        match unrecognised {
            Some(list) => format!(
                "Aucun diagnostic de sclérose en plaques reconnu au dossier. Diagnostics non \
                 reconnus par la terminologie (une SEP codée localement peut en faire partie) : \
                 {list}."
            ),
            None => "Aucun diagnostic de sclérose en plaques au dossier.".into(),
        }
    }

    fn ms_unknown(&self) -> &'static str {
        "Les diagnostics n'ont pas pu être obtenus : la forme de SEP n'a pas été vérifiée."
    }

    fn dmt_heading(&self) -> &'static str {
        "Traitements de fond antérieurs au dossier :"
    }

    fn dmt_none(&self, unrecognised: bool) -> &'static str {
        if unrecognised {
            "Aucun traitement de fond antérieur reconnu au dossier (voir les médicaments non \
             reconnus ci-dessous)."
        } else {
            "Aucun traitement de fond antérieur au dossier."
        }
    }

    fn unrecognised_medications_line(&self, labels: &str) -> String {
        format!(
            "Médicaments au dossier non reconnus par la terminologie (peut-être des traitements \
             de fond, à vérifier) : {labels}."
        )
    }

    fn heading_warnings(&self) -> &'static str {
        "Points d'attention"
    }

    fn warning_weak_exposure(&self, record: &str) -> String {
        format!(
            "Alemtuzumab au dossier sans administration prouvée : {record}. Le patient est \
             considéré comme un nouveau patient : vérifier qu'il n'a jamais reçu de cure."
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
            "**{}** au dossier : {label} (début : {}) ({reference}), chez un patient sans \
             alemtuzumab au dossier : possible cure antérieure non enregistrée (reçue \
             ailleurs), ou maladie auto-immune (contre-indication selon le RCP 2020). À \
             vérifier avant de débuter.",
            self.immune_reaction_name(reaction),
            or_unknown(onset)
        )
    }

    fn warning_concurrent_dmt(&self, label: &str, reference: &str) -> String {
        format!(
            "Autre traitement de fond prescrit dans le même temps : {label} ({reference}). \
             L'alemtuzumab s'administre seul, après la fenêtre thérapeutique du traitement \
             précédent."
        )
    }

    fn attest_warnings(&self) -> &'static str {
        "que les points d'attention ci-dessus ont été vérifiés"
    }

    fn dmt_line(&self, c: &DmtLine<'_>) -> String {
        let source = self.medication_source_name(c.source);
        let start = c.start.as_deref().unwrap_or("début inconnu");
        let end = match (&c.end, c.ongoing) {
            (_, true) => "en cours".to_string(),
            (Some(end), false) => end.clone(),
            (None, false) => "fin inconnue".to_string(),
        };
        let months = match c.months {
            Some(m) => format!(", {m} mois"),
            None => String::new(),
        };
        let stop = match c.stop_reason {
            StopReason::None if c.ongoing => "",
            StopReason::None => " ; motif d'arrêt non documenté",
            StopReason::Inefficacy => " ; arrêté pour inefficacité",
            StopReason::Intolerance => " ; arrêté pour intolérance",
            StopReason::Other => " ; arrêté pour un autre motif",
        };
        let status = match c.status {
            DmtCourseStatus::CountedDuration => {
                "**compté** : traitement complet et bien conduit (durée suffisante)"
            }
            DmtCourseStatus::CountedInefficacy => {
                "**compté** : arrêté pour inefficacité, ce qui compte quelle que soit la durée"
            }
            DmtCourseStatus::TooShort => {
                "**non compté** : durée insuffisante et arrêt non motivé par une inefficacité"
            }
            DmtCourseStatus::CountedCladribineCourse => {
                "**compté** : cladribine en comprimés, cure complète (les deux années de \
                 traitement reçues, ou 12 mois écoulés depuis la première semaine)"
            }
            DmtCourseStatus::Undated => "**non compté** : aucune date, à préciser",
            DmtCourseStatus::SameIngredient => "**non compté** : même molécule déjà comptée",
        };
        format!(
            "{} ({}, {source}) : {start} → {end}{months}{stop} — {status}.",
            c.label, c.ingredient
        )
    }

    fn dmt_count_line(&self, counted: usize, required: u32, ingredients: &str) -> String {
        if counted == 0 {
            format!(
                "Molécules distinctes ayant fait l'objet d'un traitement complet et bien conduit : \
                 aucune (requis par le profil : {required})."
            )
        } else {
            format!(
                "Molécules distinctes ayant fait l'objet d'un traitement complet et bien conduit : \
                 {counted} (requis par le profil : {required}) : {ingredients}."
            )
        }
    }

    fn attest_highly_active(&self) -> &'static str {
        "que la SEP-RR est très active (jugement clinique que les données ne montrent pas)"
    }

    fn attest_dmt_alternative(&self, profile: Profile) -> &'static str {
        match profile {
            Profile::Ansm2019 => {
                "à défaut de traitements de fond antérieurs suffisants : que le patient fait \
                 partie des « patients adultes atteints de SEP-RR très active pour lesquels tous \
                 les autres traitements de fond sont contre-indiqués ou inadaptés » (motif de \
                 dérogation)"
            }
            Profile::Ema2020 => {
                "à défaut de traitement de fond antérieur suffisant : une SEP-RR sévère \
                 d'évolution rapide, soit au moins 2 poussées invalidantes en 12 mois et au moins \
                 1 lésion rehaussée par le gadolinium ou une augmentation significative de la \
                 charge lésionnelle T2 à l'IRM (motif de dérogation)"
            }
        }
    }

    fn attest_age(&self) -> &'static str {
        "l'âge du patient (aucune date de naissance au dossier)"
    }

    fn attest_ms_type(&self) -> &'static str {
        "la forme rémittente-récurrente de la sclérose en plaques (SEP-RR)"
    }

    fn attest_undated(&self) -> &'static str {
        "les dates et la durée des traitements de fond sans date listés ci-dessus"
    }

    fn attest_outside_record(&self) -> &'static str {
        "tout traitement de fond reçu mais absent de ce dossier (motif « hors de ce dossier »)"
    }
}

// --- R2 ------------------------------------------------------------------------------------------
impl InfusionTexts for Fr {
    fn infusion_summary(&self) -> &'static str {
        "Perfusion de l'alemtuzumab : PA et fréquence cardiaque avant, au moins toutes les heures \
         pendant, surveillance ≥ 2 h après"
    }

    fn infusion_plan(&self, profile: Profile) -> Vec<&'static str> {
        let mut plan = vec![
            "Mesurer la pression artérielle et la fréquence cardiaque avant le début de la \
             perfusion.",
            "Les mesurer au moins toutes les heures pendant la perfusion.",
            "Surveiller le patient au moins 2 heures après la fin de la perfusion.",
            "En cas de modification cliniquement significative des constantes vitales : \
             envisager l'arrêt de la perfusion et une surveillance complémentaire, avec un ECG.",
            "Les réactions cardiovasculaires graves surviennent le plus souvent dans les 1 à 3 \
             jours suivant la perfusion : en informer le patient (R5).",
        ];
        if profile == Profile::Ema2020 {
            plan.push(
                "Administrer uniquement dans un établissement hospitalier disposant d'un accès \
                 rapide à une unité de soins intensifs.",
            );
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
                "Pression artérielle du jour : {bp} le {date} ({reference}), valeur de référence \
                 pour la perfusion."
            ),
            BpAge::Older { days: Some(days) } => format!(
                "Dernière pression artérielle au dossier : {bp} le {date}, il y a {days} jour{} \
                 ({reference}) : mesurer une valeur de référence le jour de la perfusion.",
                if days > 1 { "s" } else { "" }
            ),
            BpAge::Older { days: None } | BpAge::Undated => format!(
                "Dernière pression artérielle au dossier : {bp} le {date} ({reference}) : \
                 mesurer une valeur de référence le jour de la perfusion."
            ),
        }
    }

    fn baseline_bp_none(&self) -> &'static str {
        "Aucune pression artérielle au dossier : mesurer une valeur de référence avant la \
         perfusion."
    }
}

// --- R3 ------------------------------------------------------------------------------------------
impl LiverTexts for Fr {
    fn liver_summary(&self, situation: &LiverSummary<'_>) -> String {
        match situation {
            LiverSummary::PanelMissing { missing: [], days } => {
                format!("Bilan hépatique complet requis dans les {days} jours avant l'alemtuzumab")
            }
            LiverSummary::PanelMissing { missing, days } => format!(
                "Bilan hépatique requis avant l'alemtuzumab : pas de résultat dans les {days} \
                 jours pour {}",
                missing.join(", ")
            ),
            LiverSummary::MonitoringOverdue {
                last_panel: Some(date),
            } => format!(
                "Surveillance hépatique mensuelle en retard après l'alemtuzumab : dernier bilan \
                 complet le {date}"
            ),
            LiverSummary::MonitoringOverdue { last_panel: None } => {
                "Surveillance hépatique mensuelle en retard après l'alemtuzumab : aucun bilan \
                 complet au dossier"
                    .into()
            }
            LiverSummary::Abnormal { tests, exposed } => {
                let when = if *exposed {
                    "après l'alemtuzumab"
                } else {
                    "avant l'alemtuzumab"
                };
                if tests.is_empty() {
                    format!("Bilan hépatique anormal {when} : résultat au-dessus de la normale")
                } else {
                    format!(
                        "Bilan hépatique anormal {when} : {} au-dessus de la normale",
                        tests.join(", ")
                    )
                }
            }
            LiverSummary::MonitoringUndated => {
                "Alemtuzumab au dossier sans date : préciser la dernière perfusion et faire un \
                 bilan hépatique"
                    .into()
            }
            LiverSummary::NotInterpretable { tests: [] } => {
                "Bilan hépatique non interprétable (unité inconnue, sans intervalle de référence)"
                    .into()
            }
            LiverSummary::NotInterpretable { tests } => format!(
                "Bilan hépatique non interprétable : {} (unité inconnue, sans intervalle de \
                 référence)",
                tests.join(", ")
            ),
        }
    }

    fn liver_missing_line(&self, tests: &str, days: u32) -> String {
        format!("Sans résultat dans les {days} jours précédant la prescription : {tests}.")
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
                "Dernière perfusion de l'alemtuzumab : {last_infusion} ; surveillance hépatique \
                 mensuelle jusqu'au {monitor_until}."
            ),
            match last_panel {
                Some(date) => format!(
                    "Dernier bilan hépatique complet (ALAT, ASAT et bilirubine totale) : {date}, \
                     il y a plus de {interval_days} jours."
                ),
                None => "Aucun bilan hépatique complet (ALAT, ASAT et bilirubine totale) au \
                         dossier."
                    .into(),
            },
        ]
    }

    fn liver_monitoring_source(&self, profile: Profile) -> Option<&'static str> {
        match profile {
            Profile::Ansm2019 => Some(
                "La surveillance hépatique mensuelle jusqu'à 48 mois après la dernière perfusion \
                 vient du RCP (2020), et non de la lettre de l'ANSM de 2019 qui demande une \
                 évaluation avant et pendant le traitement.",
            ),
            Profile::Ema2020 => None,
        }
    }

    fn liver_undated_lines(&self, last_panel: Option<&str>) -> Vec<String> {
        vec![
            "Alemtuzumab au dossier, mais sans aucune date d'administration : la surveillance \
             hépatique mensuelle (jusqu'à 48 mois après la dernière perfusion) ne peut pas être \
             datée. Préciser la date de la dernière perfusion."
                .to_string(),
            match last_panel {
                Some(date) => format!(
                    "Dernier bilan hépatique complet (ALAT, ASAT et bilirubine totale) : {date}."
                ),
                None => "Aucun bilan hépatique complet (ALAT, ASAT et bilirubine totale) au \
                         dossier."
                    .into(),
            },
        ]
    }

    fn liver_not_interpretable_intro(&self) -> &'static str {
        "Résultats non interprétables (unité non convertible et pas d'intervalle de référence) : \
         ils ne sont jamais considérés comme normaux ; les faire interpréter par le laboratoire \
         ou refaire le bilan :"
    }

    fn liver_abnormal_intro(&self) -> &'static str {
        "Résultats au-dessus de la limite supérieure de la normale (LSN) :"
    }

    fn liver_latest_heading(&self) -> &'static str {
        "Derniers résultats du bilan hépatique :"
    }

    fn liver_no_results(&self) -> &'static str {
        "Aucun résultat d'ALAT, d'ASAT ou de bilirubine totale au dossier."
    }

    fn liver_order_label(&self) -> &'static str {
        "Prescrire un bilan hépatique (ALAT, ASAT, bilirubine totale)"
    }

    fn liver_order_description(&self) -> &'static str {
        "Créer une demande d'examen non signée : bilan hépatique (ALAT, ASAT, bilirubine totale)"
    }

    fn liver_panel_text(&self) -> &'static str {
        "Bilan hépatique : ALAT (LOINC 1742-6), ASAT (LOINC 1920-8), bilirubine totale (LOINC \
         1975-2)"
    }

    fn liver_order_reason(&self) -> &'static str {
        "Surveillance de la fonction hépatique sous alemtuzumab (Lemtrada)"
    }

    fn liver_order_not_offered(&self) -> &'static str {
        "La prescription automatique du bilan n'est pas proposée (identifiant patient \
         inexploitable) : prescrivez-le manuellement."
    }

    fn liver_attest(&self) -> &'static str {
        "Vérifier le bilan hépatique avant toute cure et chaque mois pendant la surveillance ; \
         documenter toute décision de poursuivre sans bilan récent."
    }
}

// --- R4 ------------------------------------------------------------------------------------------
impl ReadminTexts for Fr {
    fn readmin_summary(&self, kinds: &[SignalKind], minimum_months: Option<u32>) -> String {
        let names: Vec<String> = kinds
            .iter()
            .map(|k| match k {
                SignalKind::HysLaw => "loi de Hy".to_string(),
                SignalKind::LiverLab => "signal hépatique".to_string(),
                SignalKind::Diagnosis => "réaction immunitaire grave".to_string(),
                SignalKind::CourseInterval => format!(
                    "cure trop rapprochée (< {} mois depuis la cure précédente)",
                    minimum_months.unwrap_or(12)
                ),
                SignalKind::LabNotAssessable => "bilan non interprétable".to_string(),
                SignalKind::CourseDayCount => "jour de perfusion en trop dans la cure".to_string(),
                SignalKind::FifthCourse => "cinquième cure".to_string(),
                SignalKind::ConcurrentDmt => {
                    "autre traitement de fond prescrit en même temps".to_string()
                }
            })
            .collect();
        let rigorous = kinds.iter().any(|k| k.needs_rigorous_evaluation());
        match (names.is_empty(), rigorous) {
            (true, _) => "Réadministration de l'alemtuzumab : nouvelle cure à vérifier avant \
                          signature"
                .into(),
            (false, true) => {
                fit_names(&names, |list| {
                    format!("Réadministration de l'alemtuzumab : évaluation rigoureuse requise ({list})")
                })
            }
            (false, false) => fit_names(&names, |list| {
                format!("Réadministration de l'alemtuzumab à vérifier : {list}")
            }),
        }
    }

    fn readmin_measure_schedule(&self) -> &'static str {
        "Les cures sont espacées d'au moins 12 mois : une première cure de 5 jours, une deuxième \
         de 3 jours, puis au plus deux cures supplémentaires de 3 jours si nécessaire ; \
         l'alemtuzumab s'administre seul."
    }

    fn readmin_weak_evidence_intro(&self) -> &'static str {
        "Exposition à l'alemtuzumab non prouvée : aucun des enregistrements suivants ne montre \
         une administration ; les signaux sont vérifiés par précaution :"
    }

    fn readmin_exposure(&self, first: Option<&str>, last: Option<&str>, courses: u32) -> String {
        format!(
            "Première exposition à l'alemtuzumab : {} ; dernière : {} ; cures au dossier : \
             {courses}.",
            or_unknown(first),
            or_unknown(last)
        )
    }

    fn readmin_signals_heading(&self) -> &'static str {
        "Signaux relevés (après la première exposition pour les signaux hépatiques et \
         immunitaires) :"
    }

    fn readmin_no_signal(&self) -> &'static str {
        "Aucun signal détaillé transmis par le moteur de règles : vérifier le dossier."
    }

    fn signal_liver_lab(&self, lab: &str, factor: &str) -> String {
        format!("{lab} — au-delà de {factor} × LSN : signal d'atteinte hépatique.")
    }

    fn signal_hys_law(&self, transaminase: &str, bilirubin: &str) -> String {
        format!(
            "**Loi de Hy** (transaminases > 3 × LSN et bilirubine totale > 2 × LSN) : risque \
             d'atteinte hépatique sévère. Transaminase : {transaminase}. Bilirubine : \
             {bilirubin}."
        )
    }

    fn signal_not_assessable(&self, lab: &str) -> String {
        format!(
            "{lab} — non interprétable (unité inconnue et pas d'intervalle de référence) : à \
             vérifier."
        )
    }

    fn signal_diagnosis(
        &self,
        reaction: ImmuneReaction,
        label: &str,
        onset: Option<&str>,
        reference: &str,
    ) -> String {
        format!(
            "**{}** : {label} (début : {}) ({reference}).",
            self.immune_reaction_name(reaction),
            or_unknown(onset)
        )
    }

    fn signal_interval(&self, last_course_end: &str, months: u32, minimum_months: u32) -> String {
        format!(
            "**Cure trop rapprochée** (< {minimum_months} mois depuis la cure précédente) : \
             dernière cure terminée le {last_course_end}, {months} mois avant cette prescription."
        )
    }

    fn signal_day_count(
        &self,
        course_start: &str,
        day: u32,
        allowed_days: u32,
        course_number: u32,
    ) -> String {
        let nth = if course_number == 1 {
            "1re".to_string()
        } else {
            format!("{course_number}e")
        };
        format!(
            "**Jour de perfusion en trop** : cette prescription serait le jour {day} de la \
             {nth} cure, commencée le {course_start}, qui ne comporte que {allowed_days} jours."
        )
    }

    fn signal_fifth_course(&self, course_number: u32) -> String {
        format!(
            "**{course_number}e cure** : le RCP prévoit 2 cures, puis au plus 2 cures \
             supplémentaires si nécessaire (4 au total)."
        )
    }

    fn signal_concurrent_dmt(&self, label: &str, reference: &str) -> String {
        format!(
            "**Autre traitement de fond prescrit dans le même temps** : {label} ({reference}). \
             L'alemtuzumab s'administre seul."
        )
    }

    fn readmin_attest(&self, rigorous: bool, schedule: bool, concurrent: bool) -> String {
        let mut parts = Vec::new();
        if rigorous {
            parts.push(
                "L'alemtuzumab ne peut être réadministré qu'après une évaluation rigoureuse des \
                 signaux hépatiques et immunitaires : documentez-la dans le dossier, puis \
                 choisissez le motif « Évaluation rigoureuse réalisée et documentée ».",
            );
        }
        if schedule {
            parts.push(
                "Vérifier le calendrier des cures (intervalle, nombre de jours, nombre de \
                 cures) ; si l'écart est voulu, le justifier dans le dossier et choisir le motif \
                 « Calendrier des cures justifié et documenté ».",
            );
        }
        if concurrent {
            parts.push(
                "Ne pas associer un autre traitement de fond à l'alemtuzumab : annuler l'une \
                 des deux prescriptions ou documenter le motif.",
            );
        }
        if parts.is_empty() {
            parts.push("Vérifier le dossier avant toute nouvelle cure et documenter la décision.");
        }
        parts.join(" ")
    }
}

// --- R5 ------------------------------------------------------------------------------------------
impl CounsellingTexts for Fr {
    fn counselling_summary(&self) -> &'static str {
        "Alemtuzumab : informer le patient des symptômes imposant de consulter immédiatement et \
         remettre la carte patient"
    }

    fn counselling_intro(&self) -> &'static str {
        "Informer le patient, et si possible son entourage, qu'il doit consulter immédiatement \
         (appeler le 15 si besoin) en cas de :"
    }

    fn counselling_days_after_heading(&self) -> &'static str {
        "Dans les jours suivant chaque perfusion (les réactions cardiovasculaires graves \
         surviennent le plus souvent 1 à 3 jours après) :"
    }

    fn counselling_days_after(&self) -> Vec<&'static str> {
        vec![
            "signes d'AVC ou de dissection artérielle : affaissement d'un côté du visage, \
             faiblesse d'un côté du corps, difficulté à parler, mal de tête soudain et intense, \
             douleur dans le cou",
            "douleur thoracique",
            "essoufflement",
            "crachats de sang",
            "saignement ou ecchymoses (bleus) inhabituels",
        ]
    }

    fn counselling_any_time_heading(&self) -> &'static str {
        "À tout moment, y compris des mois ou des années après le traitement (LHH jusqu'à 4 ans \
         après) :"
    }

    fn counselling_any_time(&self) -> Vec<&'static str> {
        vec![
            "signes d'atteinte hépatique : jaunisse (peau ou yeux jaunes), urines foncées, \
             douleur en haut à droite de l'abdomen, nausées",
            "signes de lymphohistiocytose hémophagocytaire (LHH) : fièvre, éruption cutanée, \
             gonflement des ganglions",
        ]
    }

    fn counselling_hand_out(&self) -> &'static str {
        "Remettre la carte d'alerte patient et le guide du patient, et vérifier qu'ils ont été \
         compris."
    }
}

// --- Contre-indications --------------------------------------------------------------------------
impl ContraindicationTexts for Fr {
    fn contraindication_summary(&self, first: ContraindicationKind, others: usize) -> String {
        let name = self.contraindication_name(first);
        match others {
            0 => format!("Contre-indication à l'alemtuzumab au dossier : {name}"),
            1 => format!("Contre-indication à l'alemtuzumab au dossier : {name} (+ 1 autre)"),
            n => format!("Contre-indication à l'alemtuzumab au dossier : {name} (+ {n} autres)"),
        }
    }

    fn contraindication_summary_generic(&self) -> &'static str {
        "Contre-indication à l'alemtuzumab au dossier : prescription à revoir"
    }

    fn contraindication_item(&self, kind: ContraindicationKind, evidence: &str) -> String {
        let source = match kind {
            ContraindicationKind::Hypersensitivity | ContraindicationKind::Hiv => {
                " — RCP rubrique 4.3, sous les deux profils"
            }
            _ => "",
        };
        format!(
            "**{}**{source} : {evidence}",
            self.contraindication_name(kind)
        )
    }

    fn contraindication_none(&self) -> &'static str {
        "Aucun élément détaillé transmis par le moteur de règles : vérifier le dossier."
    }

    fn evidence_condition(&self, label: &str, onset: Option<&str>, reference: &str) -> String {
        format!("{label} (début : {}) ({reference})", or_unknown(onset))
    }

    fn evidence_medication(&self, label: &str, start: Option<&str>, reference: &str) -> String {
        format!(
            "traitement antiagrégant plaquettaire ou anticoagulant en cours : {label} (depuis : \
             {}) ({reference})",
            or_unknown(start)
        )
    }

    fn evidence_allergy(&self, label: &str, onset: Option<&str>, reference: &str) -> String {
        format!(
            "allergie ou intolérance au dossier : {label} (depuis : {}) ({reference})",
            or_unknown(onset)
        )
    }

    fn evidence_draft_order(&self, label: &str, reference: &str) -> String {
        format!(
            "anticoagulant ou antiagrégant plaquettaire prescrit dans le même temps que \
             l'alemtuzumab (prescription non signée) : {label} ({reference})"
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
            "dernière pression artérielle {}/{} mmHg le {}, au niveau ou au-dessus du seuil de \
             {}/{} mmHg ({reference})",
            systolic.unwrap_or("?"),
            diastolic.unwrap_or("?"),
            or_unknown(date),
            systolic_threshold.unwrap_or("?"),
            diastolic_threshold.unwrap_or("?"),
        )
    }

    fn contraindication_attest(&self, resolvable: bool) -> &'static str {
        if resolvable {
            "Ne pas administrer tant que la contre-indication persiste. Si elle est levée, ou si \
             la balance bénéfice-risque a été évaluée, le documenter et choisir le motif \
             correspondant."
        } else {
            "Ne pas administrer : une infection par le VIH ou un antécédent (AVC, angor, infarctus \
             du myocarde, dissection artérielle) ne se résout pas. Si la balance bénéfice-risque a néanmoins été \
             évaluée, le documenter et choisir le motif correspondant."
        }
    }
}

// --- Données indisponibles -----------------------------------------------------------------------
impl DataUnavailableTexts for Fr {
    fn data_unavailable_summary(&self, data: &DataSet, rules: &[RuleCode]) -> String {
        let tags: Vec<&str> = rules.iter().map(|r| self.rule_tag(*r)).collect();
        if tags.is_empty() {
            format!(
                "Données indisponibles ({}) : vérifications de sécurité incomplètes",
                self.data_set_name(data)
            )
        } else {
            format!(
                "Données indisponibles ({}) : {} à vérifier manuellement",
                self.data_set_name(data),
                tags.join(", ")
            )
        }
    }

    fn data_missing_line(&self, data: &str) -> String {
        format!("**Données manquantes** : {data}.")
    }

    fn data_reason_line(&self, reason: &str) -> String {
        format!("**Raison** : {reason}.")
    }

    fn data_rules_heading(&self) -> &'static str {
        "Règles non vérifiées pour cet appel :"
    }

    fn data_no_rule(&self) -> &'static str {
        "Aucune règle précisée par le moteur de règles."
    }

    fn data_attest(&self) -> &'static str {
        "Ces règles ne sont pas considérées comme respectées : vérifiez ces points dans le \
         dossier avant de signer."
    }
}
