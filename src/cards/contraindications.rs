//! The contraindication card (`contraindication`): how a finding of `rules/contraindications.rs`
//! is shown. The contraindications are stated in docs/clinical-rules.md §2 (R1 "Concurrent
//! drafts", R2) and the Lemtrada SmPC §4.3 quoted in `rules/contraindications.rs`; the card's
//! contract is docs/wire-contract.md §Cards.
//!
//! The card lists each contraindication with its evidence (a diagnosis, an allergy, a draft
//! order, a medication, a blood pressure), the delete suggestion when critical, and override
//! reasons: "contraindication resolved" only when some item can resolve (a history cannot).

use super::format::escape_md;
use super::text::{En, Fr, Texts};
use super::{Ctx, Language, OverrideReason, Parts};
use crate::rules::{ContraindicationDetail, ContraindicationEvidence, ContraindicationKind};
use crate::wire::Indicator;

/// The words of the contraindication card that no other card says; the shared ones are [`Texts`].
/// One implementation per language: `impl ContraindicationTexts for Fr` in `text/fr.rs`, `for En`
/// in `text/en.rs`.
pub(crate) trait ContraindicationTexts: Texts {
    fn contraindication_summary(&self, first: ContraindicationKind, others: usize) -> String;
    fn contraindication_summary_generic(&self) -> &'static str;
    fn contraindication_item(&self, kind: ContraindicationKind, evidence: &str) -> String;
    fn contraindication_none(&self) -> &'static str;
    fn evidence_condition(&self, label: &str, onset: Option<&str>, reference: &str) -> String;
    fn evidence_medication(&self, label: &str, start: Option<&str>, reference: &str) -> String;
    fn evidence_allergy(&self, label: &str, onset: Option<&str>, reference: &str) -> String;
    fn evidence_draft_order(&self, label: &str, reference: &str) -> String;
    fn evidence_blood_pressure(
        &self,
        systolic: Option<&str>,
        diastolic: Option<&str>,
        date: Option<&str>,
        systolic_threshold: Option<&str>,
        diastolic_threshold: Option<&str>,
        reference: &str,
    ) -> String;
    /// `resolvable`: some item can resolve (a history of stroke, angina, infarction or
    /// dissection does not).
    fn contraindication_attest(&self, resolvable: bool) -> &'static str;
}

/// The card's words in `language` (each language implements all of them).
fn words(language: Language) -> &'static dyn ContraindicationTexts {
    match language {
        Language::Fr => &Fr,
        Language::En => &En,
    }
}

/// What a contraindication finding adds to its card, after the opening every card shares
/// (`mod.rs`).
pub(super) fn render_detail(ctx: &Ctx<'_>, d: &ContraindicationDetail, parts: &mut Parts) {
    let t = words(ctx.settings.language);
    parts.summary = match d.items.first() {
        Some(first) => t.contraindication_summary(first.kind, d.items.len() - 1),
        None => t.contraindication_summary_generic().to_string(),
    };
    parts.heading(t.heading_data());
    if d.items.is_empty() {
        parts.para(t.contraindication_none());
    } else {
        let lines: Vec<String> = d
            .items
            .iter()
            .map(|item| t.contraindication_item(item.kind, &evidence_line(ctx, &item.evidence)))
            .collect();
        parts.bullets(lines);
    }
    // A history (stroke, angina, infarction, dissection) does not resolve, nor does HIV infection:
    // "contraindication resolved" is offered only when some item can.
    let resolvable = d.items.iter().any(|i| !never_resolves(i.kind));
    parts.heading(t.heading_attest());
    parts.para(t.contraindication_attest(resolvable || d.items.is_empty()));
    if ctx.indicator == Indicator::Critical {
        ctx.delete_suggestion(parts);
    }
    parts.reasons = vec![OverrideReason::BenefitRiskDocumented];
    if resolvable {
        parts.reasons.push(OverrideReason::ContraindicationResolved);
    }
    parts.reasons.push(OverrideReason::OtherDocumented);
    parts.para(t.override_invitation());
}

/// The evidence of one contraindication in words: the record that shows it.
fn evidence_line(ctx: &Ctx<'_>, evidence: &ContraindicationEvidence) -> String {
    let t = words(ctx.settings.language);
    match evidence {
        ContraindicationEvidence::Condition {
            reference,
            label,
            onset,
        } => {
            let onset = ctx.opt_date(*onset);
            t.evidence_condition(&escape_md(label), onset.as_deref(), &escape_md(reference))
        }
        ContraindicationEvidence::Allergy {
            reference,
            label,
            onset,
        } => {
            let onset = ctx.opt_date(*onset);
            t.evidence_allergy(&escape_md(label), onset.as_deref(), &escape_md(reference))
        }
        ContraindicationEvidence::DraftOrder { reference, label } => {
            t.evidence_draft_order(&escape_md(label), &escape_md(reference))
        }
        ContraindicationEvidence::Medication {
            reference,
            label,
            start,
        } => {
            let start = ctx.opt_date(*start);
            t.evidence_medication(&escape_md(label), start.as_deref(), &escape_md(reference))
        }
        ContraindicationEvidence::BloodPressure {
            reading,
            systolic_threshold,
            diastolic_threshold,
        } => {
            let s = reading.systolic.and_then(|v| ctx.num(v));
            let di = reading.diastolic.and_then(|v| ctx.num(v));
            let date = ctx.opt_date(reading.date);
            let st = ctx.num(*systolic_threshold);
            let dt = ctx.num(*diastolic_threshold);
            t.evidence_blood_pressure(
                s.as_deref(),
                di.as_deref(),
                date.as_deref(),
                st.as_deref(),
                dt.as_deref(),
                &escape_md(&reading.reference),
            )
        }
    }
}

/// Contraindications that are a history: they never resolve.
fn never_resolves(kind: ContraindicationKind) -> bool {
    matches!(
        kind,
        ContraindicationKind::Hiv
            | ContraindicationKind::Stroke
            | ContraindicationKind::Angina
            | ContraindicationKind::MyocardialInfarction
            | ContraindicationKind::CervicocephalicArterialDissection
    )
}

/// The card's sample findings for the checks every card goes through (`cards/tests.rs`, listed
/// in `SAMPLES` in `mod.rs`): every kind with every kind of evidence, all at once and none, both profiles.
#[cfg(test)]
pub(super) fn samples() -> Vec<crate::rules::Finding> {
    use super::testkit::*;
    let mut out = Vec::new();
    for profile in PROFILES {
        let evidence = [
            ContraindicationEvidence::Condition {
                reference: "Condition/ci".into(),
                label: "Accident vasculaire cérébral".into(),
                onset: Some(d(2015, 4, 2)),
            },
            ContraindicationEvidence::Medication {
                reference: "MedicationStatement/asp".into(),
                label: "Kardégic 75 mg".into(),
                start: None,
            },
            ContraindicationEvidence::Allergy {
                reference: "AllergyIntolerance/a1".into(),
                label: "Allergie à l'alemtuzumab".into(),
                onset: Some(d(2020, 5, 6)),
            },
            ContraindicationEvidence::DraftOrder {
                reference: "MedicationRequest/apix".into(),
                label: "Eliquis 5 mg".into(),
            },
            ContraindicationEvidence::BloodPressure {
                reading: BloodPressureFact {
                    reference: "Observation/bp".into(),
                    systolic: Some(172.0),
                    diastolic: Some(104.0),
                    date: Some(d(2024, 3, 10)),
                },
                systolic_threshold: 160.0,
                diastolic_threshold: f64::NAN,
            },
        ];
        let mut all_items = Vec::new();
        for kind in KINDS {
            for ev in &evidence {
                let item = ContraindicationItem {
                    kind,
                    evidence: ev.clone(),
                };
                all_items.push(item.clone());
                out.push(finding(
                    RuleCode::Contraindication,
                    Severity::Critical,
                    Detail::Contraindication(ContraindicationDetail {
                        profile,
                        items: vec![item],
                    }),
                ));
            }
        }
        for items in [all_items, vec![]] {
            out.push(finding(
                RuleCode::Contraindication,
                Severity::Critical,
                Detail::Contraindication(ContraindicationDetail { profile, items }),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::cards::testkit::*;

    fn contraindication_card(profile: Profile, items: Vec<ContraindicationItem>) -> Finding {
        finding(
            RuleCode::Contraindication,
            Severity::Critical,
            Detail::Contraindication(ContraindicationDetail { profile, items }),
        )
    }

    fn condition_item(kind: ContraindicationKind) -> ContraindicationItem {
        ContraindicationItem {
            kind,
            evidence: ContraindicationEvidence::Condition {
                reference: "Condition/x".into(),
                label: "x".into(),
                onset: None,
            },
        }
    }

    #[test]
    fn contraindication_card_deletes_the_order_and_a_stroke_history_does_not_resolve() {
        let ci = finding(
            RuleCode::Contraindication,
            Severity::Critical,
            Detail::Contraindication(ContraindicationDetail {
                profile: Profile::Ema2020,
                items: vec![ContraindicationItem {
                    kind: ContraindicationKind::Stroke,
                    evidence: ContraindicationEvidence::Condition {
                        reference: "Condition/1".into(),
                        label: "AVC ischémique".into(),
                        onset: Some(d(2019, 2, 3)),
                    },
                }],
            }),
        );
        let card = render1(&ci, Language::Fr).1;
        assert_eq!(
            codes(&card),
            vec!["benefit-risk-documented", "other-documented"],
            "a stroke history does not resolve"
        );
        assert_eq!(
            card.suggestions[0].actions[0].resource_id.as_deref(),
            Some("MedicationRequest/mr-42")
        );
        assert!(card.detail.unwrap().contains("03/02/2019"));
    }

    #[test]
    fn a_history_is_not_offered_contraindication_resolved() {
        let history = [
            ContraindicationKind::Hiv,
            ContraindicationKind::Stroke,
            ContraindicationKind::Angina,
            ContraindicationKind::MyocardialInfarction,
            ContraindicationKind::CervicocephalicArterialDissection,
        ];
        let f = contraindication_card(
            Profile::Ema2020,
            history.iter().map(|k| condition_item(*k)).collect(),
        );
        for lang in LANGS {
            let card = render1(&f, lang).1;
            assert!(!codes(&card).contains(&"contraindication-resolved"));
            assert_eq!(
                codes(&card),
                vec!["benefit-risk-documented", "other-documented"]
            );
        }
        assert!(render1(&f, Language::Fr)
            .1
            .detail
            .unwrap()
            .contains("ne se résout pas"));
        // One item that can resolve (an active infection) brings it back.
        let mut items: Vec<_> = history.iter().map(|k| condition_item(*k)).collect();
        items.push(condition_item(ContraindicationKind::SevereActiveInfection));
        let card = render1(
            &contraindication_card(Profile::Ema2020, items),
            Language::En,
        )
        .1;
        assert!(codes(&card).contains(&"contraindication-resolved"));
    }

    #[test]
    fn contraindications_under_ansm_2019_cite_the_smpc_and_show_allergies_and_drafts() {
        let f = contraindication_card(
            Profile::Ansm2019,
            vec![
                ContraindicationItem {
                    kind: ContraindicationKind::Hypersensitivity,
                    evidence: ContraindicationEvidence::Allergy {
                        reference: "AllergyIntolerance/a1".into(),
                        label: "Lemtrada".into(),
                        onset: Some(d(2022, 7, 8)),
                    },
                },
                condition_item(ContraindicationKind::Hiv),
            ],
        );
        let fr = render1(&f, Language::Fr).1;
        assert_eq!(fr.source.topic.as_ref().unwrap().code, "contraindication");
        assert!(fr.source.label.contains("ANSM 2019"));
        let detail = fr.detail.unwrap();
        assert!(!detail.contains("EMA 2020"), "{detail}");
        assert!(
            detail.contains("4.3") && detail.contains("allergie"),
            "{detail}"
        );
        assert!(detail.contains("08/07/2022") && detail.contains("AllergyIntolerance/a1"));
        assert!(fr.summary.contains("hypersensibilité"), "{}", fr.summary);
        let en = render1(&f, Language::En).1.detail.unwrap();
        assert!(
            !en.contains("EMA 2020") && en.contains("SmPC section 4.3"),
            "{en}"
        );

        let draft = contraindication_card(
            Profile::Ema2020,
            vec![ContraindicationItem {
                kind: ContraindicationKind::AntithromboticTherapy,
                evidence: ContraindicationEvidence::DraftOrder {
                    reference: "MedicationRequest/apix".into(),
                    label: "Eliquis 5 mg".into(),
                },
            }],
        );
        let fr = render1(&draft, Language::Fr).1.detail.unwrap();
        assert!(
            fr.contains("prescrit dans le même temps") && fr.contains("non signée"),
            "{fr}"
        );
        assert!(
            !fr.contains("en cours"),
            "a draft is not an ongoing therapy: {fr}"
        );
        let en = render1(&draft, Language::En).1.detail.unwrap();
        assert!(en.contains("ordered in the same call"), "{en}");
    }
}
