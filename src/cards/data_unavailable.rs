//! The data-unavailable card (`data-unavailable`): how a data-gap finding of `rules/mod.rs`
//! (`evaluate`, one finding per gap) is shown. "Could not check" is stated in
//! docs/clinical-rules.md §2 "Could not check"; the card's contract is docs/wire-contract.md
//! §Cards.
//!
//! A warning card naming the data that could not be obtained, why, and the rules it leaves
//! unchecked, in the order of the rule registry (`RULES`, `src/rules/mod.rs`): R1…R5 then
//! contraindications.

use super::format::escape_md;
use super::text::{En, Fr, Texts};
use super::{Ctx, Language, Parts};
use crate::rules::{DataSet, DataUnavailableDetail, RuleCode, RULES};

/// The words of the data-unavailable card that no other card says; the shared ones are [`Texts`].
/// One implementation per language: `impl DataUnavailableTexts for Fr` in `text/fr.rs`, `for En` in
/// `text/en.rs`.
pub(crate) trait DataUnavailableTexts: Texts {
    fn data_unavailable_summary(&self, data: &DataSet, rules: &[RuleCode]) -> String;
    fn data_missing_line(&self, data: &str) -> String;
    fn data_reason_line(&self, reason: &str) -> String;
    fn data_rules_heading(&self) -> &'static str;
    fn data_no_rule(&self) -> &'static str;
    fn data_attest(&self) -> &'static str;
}

/// The card's words in `language` (each language implements all of them).
fn words(language: Language) -> &'static dyn DataUnavailableTexts {
    match language {
        Language::Fr => &Fr,
        Language::En => &En,
    }
}

/// What a data-gap finding adds to its card, after the opening every card shares (`mod.rs`).
pub(super) fn render_detail(ctx: &Ctx<'_>, d: &DataUnavailableDetail, parts: &mut Parts) {
    use crate::rules::GapReason;
    let t = words(ctx.settings.language);
    // The registry's order: R1…R5, then contraindications.
    let rules: Vec<RuleCode> = RULES
        .iter()
        .map(|r| r.code)
        .filter(|r| d.blocked.contains(r))
        .collect();
    parts.summary = t.data_unavailable_summary(&d.gap.data, &rules);
    parts.heading(t.heading_missing());
    parts.para(t.data_missing_line(&t.data_set_detail(&d.gap.data, &escape_md(d.gap.data.key()))));
    let reason_text = match &d.gap.reason {
        GapReason::OperationOutcome(s)
        | GapReason::Unreadable(s)
        | GapReason::ServerNotAllowed(s) => escape_md(s),
        _ => String::new(),
    };
    parts.para(t.data_reason_line(&t.gap_reason(&d.gap.reason, &reason_text)));
    parts.para(t.data_rules_heading());
    if rules.is_empty() {
        parts.para(t.data_no_rule());
    } else {
        parts.bullets(rules.iter().map(|r| t.rule_title(*r)));
    }
    parts.heading(t.heading_attest());
    parts.para(t.data_attest());
}

/// The card's sample findings for the checks every card goes through (`cards/tests.rs`, listed
/// in `SAMPLES` in `mod.rs`): every data set with every gap reason and blocked-rule list (no profile of
/// its own).
#[cfg(test)]
pub(super) fn samples() -> Vec<crate::rules::Finding> {
    use super::testkit::*;
    let mut out = Vec::new();
    for data in data_sets() {
        for reason in gap_reasons() {
            for blocked in [
                data.blocks(),
                RuleCode::ALL.to_vec(),
                vec![],
                vec![RuleCode::LiverFunction, RuleCode::LiverFunction],
            ] {
                out.push(finding(
                    RuleCode::DataUnavailable,
                    Severity::Warning,
                    Detail::DataUnavailable(DataUnavailableDetail {
                        gap: DataGap {
                            data: data.clone(),
                            reason: reason.clone(),
                        },
                        blocked,
                    }),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::cards::testkit::*;

    #[test]
    fn data_unavailable_names_rule_and_data() {
        let f = Finding {
            rule: RuleCode::DataUnavailable,
            severity: Severity::Warning,
            order: None,
            detail: Detail::DataUnavailable(DataUnavailableDetail {
                gap: DataGap {
                    data: DataSet::Conditions,
                    reason: GapReason::Timeout,
                },
                blocked: DataSet::Conditions.blocks(),
            }),
        };
        let fr = render1(&f, Language::Fr).1;
        assert_eq!(fr.indicator, Indicator::Warning);
        assert!(
            fr.summary.contains("diagnostics") && fr.summary.contains("R1"),
            "{}",
            fr.summary
        );
        let en = render1(&f, Language::En).1;
        assert!(
            en.summary.contains("diagnoses") && en.summary.contains("R4"),
            "{}",
            en.summary
        );
        assert!(en.detail.unwrap().contains("did not answer in time"));
        // Its profile is taken from the other findings of the batch.
        let other = finding(
            RuleCode::PatientCounselling,
            Severity::Info,
            Detail::Counselling(CounsellingDetail {
                profile: Profile::Ema2020,
            }),
        );
        let cards = render(&[f, other], "p", &settings(Language::En));
        assert_eq!(cards[0].source.label, "Alemtuzumab safety (EMA 2020)");
        assert_eq!(
            cards[1].source.topic.as_ref().unwrap().code,
            "patient-counselling"
        );
    }
}
