//! The patient-counselling card (`patient-counselling`): how an R5 finding of
//! `rules/r5_patient_counselling.rs` is shown. R5 is stated in docs/clinical-rules.md §2 "R5
//! patient counselling"; the card's contract is docs/wire-contract.md §Cards.
//!
//! An info card: what the patient must be told in the days after an infusion and at any time,
//! and the patient alert card to hand out. All of it is text (`text/fr.rs`, `text/en.rs`).

use super::text::{En, Fr, Texts};
use super::{Ctx, Language, Parts};

/// The words of the patient-counselling card (R5) that no other card says; the shared ones are
/// [`Texts`]. One implementation per language: `impl CounsellingTexts for Fr` in `text/fr.rs`, `for
/// En` in `text/en.rs`.
pub(crate) trait CounsellingTexts: Texts {
    fn counselling_summary(&self) -> &'static str;
    fn counselling_intro(&self) -> &'static str;
    fn counselling_days_after(&self) -> Vec<&'static str>;
    fn counselling_any_time(&self) -> Vec<&'static str>;
    fn counselling_hand_out(&self) -> &'static str;
    fn counselling_days_after_heading(&self) -> &'static str;
    fn counselling_any_time_heading(&self) -> &'static str;
}

/// The card's words in `language` (each language implements all of them).
fn words(language: Language) -> &'static dyn CounsellingTexts {
    match language {
        Language::Fr => &Fr,
        Language::En => &En,
    }
}

/// What an R5 finding adds to its card, after the opening every card shares (`mod.rs`).
pub(super) fn render_detail(ctx: &Ctx<'_>, parts: &mut Parts) {
    let t = words(ctx.settings.language);
    parts.summary = t.counselling_summary().to_string();
    parts.para(t.counselling_intro());
    parts.heading(t.counselling_days_after_heading());
    parts.bullets(t.counselling_days_after());
    parts.heading(t.counselling_any_time_heading());
    parts.bullets(t.counselling_any_time());
    parts.para(t.counselling_hand_out());
}

/// The card's sample findings for the checks every card goes through (`cards/tests.rs`, listed
/// in `SAMPLES` in `mod.rs`): one a profile.
#[cfg(test)]
pub(super) fn samples() -> Vec<crate::rules::Finding> {
    use super::testkit::*;
    let mut out = Vec::new();
    for profile in PROFILES {
        out.push(finding(
            RuleCode::PatientCounselling,
            Severity::Info,
            Detail::Counselling(CounsellingDetail { profile }),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::cards::testkit::*;

    #[test]
    fn counselling_carries_the_clinical_content() {
        for profile in PROFILES {
            let r5 = finding(
                RuleCode::PatientCounselling,
                Severity::Info,
                Detail::Counselling(CounsellingDetail { profile }),
            );
            let fr = render1(&r5, Language::Fr).1.detail.unwrap();
            for needle in [
                "douleur thoracique",
                "1 à 3 jours",
                "4 ans",
                "jaunisse",
                "carte d'alerte patient",
                "fièvre",
            ] {
                assert!(fr.contains(needle), "{needle}");
            }
            let en = render1(&r5, Language::En).1.detail.unwrap();
            for needle in [
                "chest pain",
                "shortness of breath",
                "coughing up blood",
                "dark urine",
                "swollen glands",
            ] {
                assert!(en.contains(needle), "{needle}");
            }
        }
    }
}
