//! The infusion-monitoring card (`infusion-monitoring`): how an R2 finding of
//! `rules/r2_infusion_monitoring.rs` is shown. R2 is stated in docs/clinical-rules.md §2 "R2
//! infusion monitoring"; the card's contract is docs/wire-contract.md §Cards.
//!
//! An info card: the monitoring plan of the profile, and the last blood pressure on record as the
//! baseline (with its age when it was not measured on the evaluation day).

use super::format::escape_md;
use super::text::{En, Fr, Texts};
use super::{Ctx, Language, Parts};
use crate::rules::{InfusionMonitoringDetail, Profile};

/// How old the last blood pressure is, compared with the evaluation date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BpAge {
    /// Measured on the evaluation date: the infusion baseline.
    EvaluationDay,
    /// Measured earlier (or the evaluation date is unknown): `days` before the evaluation date.
    Older { days: Option<i64> },
    /// No date on the reading.
    Undated,
}

/// The words of the infusion-monitoring card (R2) that no other card says; the shared ones are
/// [`Texts`]. One implementation per language: `impl InfusionTexts for Fr` in `text/fr.rs`, `for
/// En` in `text/en.rs`.
pub(crate) trait InfusionTexts: Texts {
    fn infusion_summary(&self) -> &'static str;
    fn infusion_plan(&self, profile: Profile) -> Vec<&'static str>;
    /// Called the infusion baseline only when measured on the evaluation date.
    fn baseline_bp(
        &self,
        systolic: Option<&str>,
        diastolic: Option<&str>,
        date: Option<&str>,
        age: BpAge,
        reference: &str,
    ) -> String;
    fn baseline_bp_none(&self) -> &'static str;
}

/// The card's words in `language` (each language implements all of them).
fn words(language: Language) -> &'static dyn InfusionTexts {
    match language {
        Language::Fr => &Fr,
        Language::En => &En,
    }
}

/// What an R2 finding adds to its card, after the opening every card shares (`mod.rs`).
pub(super) fn render_detail(ctx: &Ctx<'_>, d: &InfusionMonitoringDetail, parts: &mut Parts) {
    let t = words(ctx.settings.language);
    parts.summary = t.infusion_summary().to_string();
    parts.bullets(t.infusion_plan(ctx.profile));
    parts.heading(t.heading_data());
    match &d.last_blood_pressure {
        Some(bp) => {
            let systolic = bp.systolic.and_then(|v| ctx.num(v));
            let diastolic = bp.diastolic.and_then(|v| ctx.num(v));
            let date = ctx.opt_date(bp.date);
            // The baseline is a reading of the evaluation day; an older one is shown with its age.
            let age = match (bp.date, ctx.evaluation_date()) {
                (None, _) => BpAge::Undated,
                (Some(taken), Some(today)) if taken == today => BpAge::EvaluationDay,
                (Some(taken), Some(today)) => BpAge::Older {
                    days: Some((today - taken).num_days()).filter(|d| *d > 0),
                },
                (Some(_), None) => BpAge::Older { days: None },
            };
            parts.para(t.baseline_bp(
                systolic.as_deref(),
                diastolic.as_deref(),
                date.as_deref(),
                age,
                &escape_md(&bp.reference),
            ));
        }
        None => parts.para(t.baseline_bp_none()),
    }
}

/// The card's sample findings for the checks every card goes through (`cards/tests.rs`, listed
/// in `SAMPLES` in `mod.rs`): no blood pressure, a dated one, an undated one without numbers, both
/// profiles.
#[cfg(test)]
pub(super) fn samples() -> Vec<crate::rules::Finding> {
    use super::testkit::*;
    let mut out = Vec::new();
    for profile in PROFILES {
        for bp in [
            None,
            Some(BloodPressureFact {
                reference: "Observation/bp1".into(),
                systolic: Some(135.0),
                diastolic: Some(85.5),
                date: Some(d(2024, 3, 1)),
            }),
            Some(BloodPressureFact {
                reference: "Observation/bp2".into(),
                systolic: None,
                diastolic: Some(f64::NAN),
                date: None,
            }),
        ] {
            out.push(finding(
                RuleCode::InfusionMonitoring,
                Severity::Info,
                Detail::InfusionMonitoring(InfusionMonitoringDetail {
                    profile,
                    last_blood_pressure: bp,
                }),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::cards::testkit::*;

    #[test]
    fn monitoring_carries_the_clinical_content() {
        for profile in PROFILES {
            let r2 = finding(
                RuleCode::InfusionMonitoring,
                Severity::Info,
                Detail::InfusionMonitoring(InfusionMonitoringDetail {
                    profile,
                    last_blood_pressure: None,
                }),
            );
            let en = render1(&r2, Language::En).1.detail.unwrap();
            assert!(en.contains("at least hourly") && en.contains("ECG") && en.contains("2 hours"));
            assert_eq!(en.contains("intensive care"), profile == Profile::Ema2020);
        }
    }

    #[test]
    fn blood_pressure_is_the_baseline_only_when_measured_on_the_evaluation_day() {
        let bp = |date| {
            finding(
                RuleCode::InfusionMonitoring,
                Severity::Info,
                Detail::InfusionMonitoring(InfusionMonitoringDetail {
                    profile: Profile::Ansm2019,
                    last_blood_pressure: Some(BloodPressureFact {
                        reference: "Observation/bp".into(),
                        systolic: Some(128.0),
                        diastolic: Some(82.0),
                        date: Some(date),
                    }),
                }),
            )
        };
        // order() evaluates on 2024-03-15.
        let today = render1(&bp(d(2024, 3, 15)), Language::Fr).1.detail.unwrap();
        assert!(
            today.contains("valeur de référence pour la perfusion"),
            "{today}"
        );
        let old = render1(&bp(d(2024, 3, 5)), Language::Fr).1.detail.unwrap();
        assert!(
            !old.contains("valeur de référence pour la perfusion")
                && old.contains("05/03/2024, il y a 10 jours"),
            "{old}"
        );
        let old = render1(&bp(d(2024, 3, 5)), Language::En).1.detail.unwrap();
        assert!(
            !old.contains("the baseline for the infusion") && old.contains("10 days ago"),
            "{old}"
        );
        let today = render1(&bp(d(2024, 3, 15)), Language::En).1.detail.unwrap();
        assert!(today.contains("the baseline for the infusion"), "{today}");
    }
}
