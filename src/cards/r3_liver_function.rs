//! The liver-function card (`liver-function`): how an R3 finding of `rules/r3_liver_function.rs`
//! is shown. R3 is stated in docs/clinical-rules.md §2 "R3 liver function"; the card's contract
//! is docs/wire-contract.md §Cards.
//!
//! A warning card per situation (panel missing before the order, monitoring overdue or
//! undatable, abnormal or uninterpretable results) with the results on record, and, when a panel
//! is missing or a result cannot be read, a `create` suggestion for a liver-panel
//! `ServiceRequest` (only when the hook's patient id is a valid FHIR id).

use serde_json::{json, Value};

use super::format::is_fhir_id;
use super::text::{En, Fr, Texts};
use super::{dedup, new_uuid, CardSettings, Ctx, Language, Parts, LOINC};
use crate::rules::{LabTest, LabValue, LiverDetail, LiverSituation, Profile};
use crate::wire::{Action, ActionType, Suggestion};

/// The R3 situations, for the summary.
pub(crate) enum LiverSummary<'a> {
    /// Tests missing (names already localised); `days` is the window.
    PanelMissing {
        missing: &'a [&'static str],
        days: u32,
    },
    MonitoringOverdue {
        last_panel: Option<&'a str>,
    },
    /// `exposed`: alemtuzumab on record (only then "after alemtuzumab").
    Abnormal {
        tests: &'a [&'static str],
        exposed: bool,
    },
    /// Exposed at an unknown date.
    MonitoringUndated,
    NotInterpretable {
        tests: &'a [&'static str],
    },
}

/// The words of the liver-function card (R3) that no other card says; the shared ones are
/// [`Texts`]. One implementation per language: `impl LiverTexts for Fr` in `text/fr.rs`, `for En`
/// in `text/en.rs`.
pub(crate) trait LiverTexts: Texts {
    fn liver_summary(&self, situation: &LiverSummary<'_>) -> String;
    fn liver_missing_line(&self, tests: &str, days: u32) -> String;
    fn liver_overdue_lines(
        &self,
        last_infusion: &str,
        monitor_until: &str,
        last_panel: Option<&str>,
        interval_days: u32,
    ) -> Vec<String>;
    /// Where the monthly monitoring to 48 months comes from (the SmPC, 2020), said under
    /// `ansm-2019` whose letter does not contain it.
    fn liver_monitoring_source(&self, profile: Profile) -> Option<&'static str>;
    fn liver_undated_lines(&self, last_panel: Option<&str>) -> Vec<String>;
    fn liver_abnormal_intro(&self) -> &'static str;
    fn liver_not_interpretable_intro(&self) -> &'static str;
    fn liver_latest_heading(&self) -> &'static str;
    fn liver_no_results(&self) -> &'static str;
    fn liver_order_label(&self) -> &'static str;
    fn liver_order_description(&self) -> &'static str;
    /// `ServiceRequest.code.text`.
    fn liver_panel_text(&self) -> &'static str;
    fn liver_order_reason(&self) -> &'static str;
    fn liver_order_not_offered(&self) -> &'static str;
    fn liver_attest(&self) -> &'static str;
}

/// The card's words in `language` (each language implements all of them).
fn words(language: Language) -> &'static dyn LiverTexts {
    match language {
        Language::Fr => &Fr,
        Language::En => &En,
    }
}

/// What an R3 finding adds to its card, after the opening every card shares (`mod.rs`).
pub(super) fn render_detail(ctx: &Ctx<'_>, d: &LiverDetail, parts: &mut Parts) {
    let t = words(ctx.settings.language);
    match &d.situation {
        LiverSituation::PanelMissingBeforeOrder {
            missing,
            max_age_days,
        } => {
            let names: Vec<&'static str> = dedup(missing.iter().copied())
                .into_iter()
                .map(|m| t.lab_test_name(m))
                .collect();
            parts.summary = t.liver_summary(&LiverSummary::PanelMissing {
                missing: &names,
                days: *max_age_days,
            });
            parts.heading(t.heading_missing());
            let all: Vec<&'static str> = if names.is_empty() {
                LabTest::PANEL.iter().map(|m| t.lab_test_name(*m)).collect()
            } else {
                names
            };
            parts.para(t.liver_missing_line(&all.join(", "), *max_age_days));
            latest_results(ctx, d, parts);
            liver_order(ctx, parts);
        }
        LiverSituation::MonitoringOverdue {
            last_infusion,
            monitor_until,
            last_panel,
            interval_days,
        } => {
            let last = ctx.opt_date(*last_panel);
            parts.summary = t.liver_summary(&LiverSummary::MonitoringOverdue {
                last_panel: last.as_deref(),
            });
            parts.heading(t.heading_missing());
            parts.bullets(t.liver_overdue_lines(
                &ctx.date(*last_infusion),
                &ctx.date(*monitor_until),
                last.as_deref(),
                *interval_days,
            ));
            monitoring_source(ctx, parts);
            latest_results(ctx, d, parts);
            liver_order(ctx, parts);
        }
        LiverSituation::MonitoringUndated { last_panel } => {
            let last = ctx.opt_date(*last_panel);
            parts.summary = t.liver_summary(&LiverSummary::MonitoringUndated);
            parts.heading(t.heading_missing());
            parts.bullets(t.liver_undated_lines(last.as_deref()));
            monitoring_source(ctx, parts);
            latest_results(ctx, d, parts);
            liver_order(ctx, parts);
        }
        LiverSituation::Abnormal { results } => {
            let names = test_names(ctx, results);
            parts.summary = t.liver_summary(&LiverSummary::Abnormal {
                tests: &names,
                exposed: d.exposed,
            });
            results_block(ctx, d, results, t.liver_abnormal_intro(), parts);
        }
        LiverSituation::NotInterpretable { results } => {
            let names = test_names(ctx, results);
            parts.summary = t.liver_summary(&LiverSummary::NotInterpretable { tests: &names });
            results_block(ctx, d, results, t.liver_not_interpretable_intro(), parts);
            liver_order(ctx, parts);
        }
    }
    parts.heading(t.heading_attest());
    parts.para(t.liver_attest());
}

/// The data block of a missing or overdue panel: the latest result of each test on record.
fn latest_results(ctx: &Ctx<'_>, d: &LiverDetail, parts: &mut Parts) {
    let t = words(ctx.settings.language);
    parts.heading(t.heading_data());
    if d.latest.is_empty() {
        parts.para(t.liver_no_results());
    } else {
        parts.para(t.liver_latest_heading());
        parts.bullets(d.latest.iter().map(|l| ctx.lab_line(l)));
    }
}

/// Where monthly monitoring comes from under the profile, when the language says it.
fn monitoring_source(ctx: &Ctx<'_>, parts: &mut Parts) {
    if let Some(line) = words(ctx.settings.language).liver_monitoring_source(ctx.profile) {
        parts.para(line);
    }
}

/// The data block of abnormal or uninterpretable results: those results, then the other latest
/// ones.
fn results_block(
    ctx: &Ctx<'_>,
    d: &LiverDetail,
    results: &[LabValue],
    intro: &str,
    parts: &mut Parts,
) {
    let t = words(ctx.settings.language);
    parts.heading(t.heading_data());
    parts.para(intro.to_string());
    if results.is_empty() {
        parts.para(t.liver_no_results());
    } else {
        parts.bullets(results.iter().map(|l| ctx.lab_line(l)));
    }
    let others: Vec<&LabValue> = d.latest.iter().filter(|l| !results.contains(l)).collect();
    if !others.is_empty() {
        parts.para(t.liver_latest_heading());
        parts.bullets(others.iter().map(|l| ctx.lab_line(l)));
    }
}

/// The names of the tests among `results`, each once.
fn test_names(ctx: &Ctx<'_>, results: &[LabValue]) -> Vec<&'static str> {
    dedup(results.iter().map(|r| r.test))
        .into_iter()
        .map(|m| ctx.t.lab_test_name(m))
        .collect()
}

/// The `create` suggestion for a liver panel, when the patient id is usable.
fn liver_order(ctx: &Ctx<'_>, parts: &mut Parts) {
    let t = words(ctx.settings.language);
    let Some(resource) = liver_service_request(ctx.patient_id, ctx.settings, t) else {
        parts.para(t.liver_order_not_offered());
        return;
    };
    parts.suggestions.push(Suggestion {
        label: t.liver_order_label().to_string(),
        uuid: Some(new_uuid()),
        is_recommended: Some(true),
        actions: vec![Action {
            kind: ActionType::Create,
            description: t.liver_order_description().to_string(),
            resource: Some(resource),
            resource_id: None,
        }],
    });
}

/// A FHIR R4 `ServiceRequest` (draft order) for the liver panel. The panel code is the coding;
/// the three tests are named in `code.text` and a note (they are not equivalent codes of the
/// panel, so they are not added as codings).
fn liver_service_request(
    patient_id: &str,
    settings: &CardSettings,
    t: &dyn LiverTexts,
) -> Option<Value> {
    let patient_id = patient_id.trim();
    if !is_fhir_id(patient_id) {
        return None;
    }
    let panel = &settings.liver_panel_code;
    let mut code = json!({ "text": t.liver_panel_text() });
    if !panel.system.trim().is_empty() && !panel.code.trim().is_empty() {
        let mut coding = json!({ "system": panel.system.trim(), "code": panel.code.trim() });
        if panel.system.trim() == LOINC && panel.code.trim() == "24325-3" {
            coding["display"] = json!("Hepatic function 2000 panel - Serum or Plasma");
        }
        code["coding"] = json!([coding]);
    }
    Some(json!({
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": code,
        "subject": { "reference": format!("Patient/{patient_id}") },
        "reasonCode": [{ "text": t.liver_order_reason() }],
        "note": [{ "text": t.liver_panel_text() }],
    }))
}

/// The card's sample findings for the checks every card goes through (`cards/tests.rs`, listed
/// in `SAMPLES` in `mod.rs`): every situation with no, some and every result shape, exposed or not, both
/// profiles.
#[cfg(test)]
pub(super) fn samples() -> Vec<crate::rules::Finding> {
    use super::testkit::*;
    let mut out = Vec::new();
    for profile in PROFILES {
        let mut situations = Vec::new();
        for mask in 0..8u8 {
            let missing: Vec<LabTest> = LabTest::PANEL
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, t)| *t)
                .collect();
            situations.push(LiverSituation::PanelMissingBeforeOrder {
                missing,
                max_age_days: 30,
            });
        }
        for last_panel in [None, Some(d(2023, 12, 1))] {
            situations.push(LiverSituation::MonitoringOverdue {
                last_infusion: d(2022, 1, 10),
                monitor_until: d(2026, 1, 10),
                last_panel,
                interval_days: 31,
            });
        }
        situations.push(LiverSituation::Abnormal { results: vec![] });
        for last_panel in [None, Some(d(2023, 12, 1))] {
            situations.push(LiverSituation::MonitoringUndated { last_panel });
        }
        situations.push(LiverSituation::NotInterpretable { results: vec![] });
        situations.push(LiverSituation::NotInterpretable {
            results: labs_every_shape(),
        });
        situations.push(LiverSituation::Abnormal {
            results: labs_every_shape(),
        });
        for test in LabTest::PANEL {
            situations.push(LiverSituation::Abnormal {
                results: vec![lab(test, Some(99.0), None)],
            });
        }
        for situation in situations {
            for (latest, exposed) in [
                (vec![], false),
                (labs_every_shape(), false),
                (labs_every_shape(), true),
            ] {
                out.push(finding(
                    RuleCode::LiverFunction,
                    Severity::Warning,
                    Detail::Liver(LiverDetail {
                        exposed,
                        profile,
                        situation: situation.clone(),
                        latest,
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

    fn liver_finding(profile: Profile, situation: LiverSituation, exposed: bool) -> Finding {
        finding(
            RuleCode::LiverFunction,
            Severity::Warning,
            Detail::Liver(LiverDetail {
                profile,
                situation,
                latest: vec![],
                exposed,
            }),
        )
    }

    #[test]
    fn missing_liver_panel_suggests_a_service_request() {
        for situation in [
            LiverSituation::PanelMissingBeforeOrder {
                missing: vec![LabTest::Ast],
                max_age_days: 30,
            },
            LiverSituation::MonitoringOverdue {
                last_infusion: d(2023, 1, 1),
                monitor_until: d(2027, 1, 1),
                last_panel: None,
                interval_days: 31,
            },
        ] {
            let f = finding(
                RuleCode::LiverFunction,
                Severity::Warning,
                Detail::Liver(LiverDetail {
                    exposed: false,
                    profile: Profile::Ansm2019,
                    situation,
                    latest: labs_every_shape(),
                }),
            );
            for lang in LANGS {
                let card = render1(&f, lang).1;
                check_card(&card).unwrap();
                assert_eq!(card.indicator, Indicator::Warning);
                assert_eq!(card.selection_behavior, Some(SelectionBehavior::AtMostOne));
                let action = &card.suggestions[0].actions[0];
                assert_eq!(action.kind, ActionType::Create);
                let r = action.resource.as_ref().unwrap();
                assert_eq!(r["resourceType"], "ServiceRequest");
                assert_eq!(r["status"], "draft");
                assert_eq!(r["intent"], "order");
                assert_eq!(r["subject"]["reference"], "Patient/patient-1");
                assert_eq!(r["code"]["coding"][0]["system"], "http://loinc.org");
                assert_eq!(r["code"]["coding"][0]["code"], "24325-3");
                let text = r["code"]["text"].as_str().unwrap();
                for loinc in ["1742-6", "1920-8", "1975-2"] {
                    assert!(text.contains(loinc));
                }
            }
            // No usable patient id: no suggestion, the card says to order by hand.
            let card = render_one(&f, "bad id/1", &settings(Language::Fr), Profile::Ansm2019).1;
            check_card(&card).unwrap();
            assert!(card.suggestions.is_empty() && card.selection_behavior.is_none());
        }
    }

    #[test]
    fn abnormal_liver_results_show_value_unit_date_and_range() {
        let f = finding(
            RuleCode::LiverFunction,
            Severity::Critical, // not allowed for liver-function: shown as warning
            Detail::Liver(LiverDetail {
                exposed: false,
                profile: Profile::Ansm2019,
                situation: LiverSituation::Abnormal {
                    results: vec![lab(
                        LabTest::Alt,
                        Some(130.0),
                        Some(Uln {
                            value: 40.0,
                            source: UlnSource::ReferenceRange,
                        }),
                    )],
                },
                latest: vec![],
            }),
        );
        let card = render1(&f, Language::Fr).1;
        assert_eq!(card.indicator, Indicator::Warning);
        assert!(card.suggestions.is_empty());
        let detail = card.detail.unwrap();
        assert!(
            detail.contains("ALAT : 130 U/L le 01/02/2024 ; LSN 40 U/L (intervalle de référence du laboratoire), soit 3,3 × LSN"),
            "{detail}"
        );
        assert!(card.summary.contains("Bilan hépatique anormal"));
    }

    #[test]
    fn liver_wording_for_never_exposed_undated_uninterpretable_and_converted() {
        let abnormal = LiverSituation::Abnormal {
            results: vec![lab(LabTest::Alt, Some(130.0), None)],
        };
        let never = liver_finding(Profile::Ansm2019, abnormal.clone(), false);
        for lang in LANGS {
            let text = card_text(&render1(&never, lang).1);
            assert!(
                !text.contains("après alemtuzumab")
                    && !text.contains("après l'alemtuzumab")
                    && !text.contains("after alemtuzumab"),
                "{text}"
            );
        }
        let exposed = liver_finding(Profile::Ansm2019, abnormal, true);
        assert!(render1(&exposed, Language::Fr)
            .1
            .summary
            .contains("après l'alemtuzumab"));
        assert!(render1(&exposed, Language::En)
            .1
            .summary
            .contains("after alemtuzumab"));

        // Exposed at an unknown date: ask for the date and offer the panel.
        let undated = liver_finding(
            Profile::Ansm2019,
            LiverSituation::MonitoringUndated {
                last_panel: Some(d(2026, 1, 15)),
            },
            true,
        );
        for lang in LANGS {
            let card = render1(&undated, lang).1;
            check_card(&card).unwrap();
            assert_eq!(card.indicator, Indicator::Warning);
            assert_eq!(card.suggestions.len(), 1);
            assert_eq!(card.suggestions[0].actions[0].kind, ActionType::Create);
        }
        let fr = render1(&undated, Language::Fr).1;
        assert!(fr.summary.contains("dernière perfusion"), "{}", fr.summary);
        let detail = fr.detail.unwrap();
        assert!(
            detail.contains("15/01/2026") && detail.contains("RCP (2020)"),
            "{detail}"
        );

        // Could not interpret: a warning, never a pass.
        let mut odd = lab(LabTest::Ast, Some(3.0), None);
        odd.unit = Some("mmol/h".into());
        let ni = liver_finding(
            Profile::Ema2020,
            LiverSituation::NotInterpretable { results: vec![odd] },
            true,
        );
        let fr = render1(&ni, Language::Fr).1;
        assert_eq!(fr.indicator, Indicator::Warning);
        assert!(fr.summary.contains("non interprétable") && fr.summary.contains("ASAT"));
        let en = render1(&ni, Language::En).1;
        assert!(
            en.summary.contains("could not be interpreted"),
            "{}",
            en.summary
        );

        // µkat/L converted to U/L: both shown.
        let mut converted = lab(LabTest::Alt, Some(48.0), None);
        converted.converted_from = Some(crate::rules::OriginalValue {
            value: Some(0.8),
            unit: "µkat/L".into(),
        });
        let f = liver_finding(
            Profile::Ansm2019,
            LiverSituation::Abnormal {
                results: vec![converted],
            },
            true,
        );
        let fr = render1(&f, Language::Fr).1.detail.unwrap();
        assert!(fr.contains("48 U/L (converti depuis 0,8 µkat/L)"), "{fr}");
        let en = render1(&f, Language::En).1.detail.unwrap();
        assert!(en.contains("48 U/L (converted from 0.8 µkat/L)"), "{en}");
    }

    #[test]
    fn monthly_monitoring_to_48_months_is_attributed_to_the_smpc_under_ansm_2019() {
        let overdue = LiverSituation::MonitoringOverdue {
            last_infusion: d(2024, 1, 10),
            monitor_until: d(2028, 1, 10),
            last_panel: Some(d(2026, 9, 1)),
            interval_days: 31,
        };
        let ansm = liver_finding(Profile::Ansm2019, overdue.clone(), true);
        let fr = render1(&ansm, Language::Fr).1.detail.unwrap();
        assert!(
            fr.contains("vient du RCP (2020)") && fr.contains("10/01/2028"),
            "{fr}"
        );
        let en = render1(&ansm, Language::En).1.detail.unwrap();
        assert!(en.contains("comes from the SmPC (2020)"), "{en}");
        let ema = liver_finding(Profile::Ema2020, overdue, true);
        assert!(!render1(&ema, Language::Fr)
            .1
            .detail
            .unwrap()
            .contains("vient du RCP"));
    }
}
