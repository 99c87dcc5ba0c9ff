//! The re-administration card (`re-administration`): how an R4 finding of
//! `rules/r4_readministration.rs` is shown. R4 is stated in docs/clinical-rules.md §2 "R4
//! re-administration after rigorous evaluation"; the card's contract is docs/wire-contract.md
//! §Cards.
//!
//! The card lists the exposure and the signals found after it, most serious first (Hy's law,
//! liver labs, immune reactions, course interval, day count, fifth course, concurrent DMT draft),
//! asks for the rigorous evaluation only for liver and immune signals (a schedule card states the
//! schedule instead), offers the delete suggestion on a critical card only, and override reasons
//! that follow the signals.

use super::format::escape_md;
use super::text::{En, Fr, Texts};
use super::{Ctx, Language, OverrideReason, Parts};
use crate::rules::{ImmuneReaction, ReAdministrationDetail, ReAdministrationSignal};
use crate::wire::Indicator;

/// The signal kinds of R4, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignalKind {
    LiverLab,
    HysLaw,
    LabNotAssessable,
    Diagnosis,
    CourseInterval,
    /// One infusion day too many in the course in progress.
    CourseDayCount,
    /// A fifth course.
    FifthCourse,
    /// Another DMT drafted in the same call.
    ConcurrentDmt,
}

impl SignalKind {
    /// Most serious first: the order of the summary.
    pub const ORDER: [SignalKind; 8] = [
        SignalKind::HysLaw,
        SignalKind::LiverLab,
        SignalKind::Diagnosis,
        SignalKind::CourseInterval,
        SignalKind::LabNotAssessable,
        SignalKind::FifthCourse,
        SignalKind::CourseDayCount,
        SignalKind::ConcurrentDmt,
    ];

    /// Liver and immune signals: the ones R4's "rigorous evaluation" is about. The schedule
    /// signals (interval, day count, fifth course) and a concurrent draft never ask for it
    /// (clinical rules §5).
    pub fn needs_rigorous_evaluation(self) -> bool {
        matches!(
            self,
            SignalKind::HysLaw
                | SignalKind::LiverLab
                | SignalKind::Diagnosis
                | SignalKind::LabNotAssessable
        )
    }

    /// Course schedule signals.
    pub fn is_schedule(self) -> bool {
        matches!(
            self,
            SignalKind::CourseInterval | SignalKind::CourseDayCount | SignalKind::FifthCourse
        )
    }
}

/// The words of the re-administration card (R4) that no other card says; the shared ones are
/// [`Texts`]. One implementation per language: `impl ReadminTexts for Fr` in `text/fr.rs`, `for En`
/// in `text/en.rs`.
pub(crate) trait ReadminTexts: Texts {
    fn readmin_summary(&self, kinds: &[SignalKind], minimum_months: Option<u32>) -> String;
    /// The R4 measure when no liver or immune signal is present (schedule, concurrent draft).
    fn readmin_measure_schedule(&self) -> &'static str;
    fn readmin_weak_evidence_intro(&self) -> &'static str;
    fn readmin_exposure(&self, first: Option<&str>, last: Option<&str>, courses: u32) -> String;
    fn readmin_signals_heading(&self) -> &'static str;
    fn readmin_no_signal(&self) -> &'static str;
    fn signal_liver_lab(&self, lab: &str, factor: &str) -> String;
    fn signal_hys_law(&self, transaminase: &str, bilirubin: &str) -> String;
    fn signal_not_assessable(&self, lab: &str) -> String;
    fn signal_diagnosis(
        &self,
        reaction: ImmuneReaction,
        label: &str,
        onset: Option<&str>,
        reference: &str,
    ) -> String;
    fn signal_interval(&self, last_course_end: &str, months: u32, minimum_months: u32) -> String;
    fn signal_day_count(
        &self,
        course_start: &str,
        day: u32,
        allowed_days: u32,
        course_number: u32,
    ) -> String;
    fn signal_fifth_course(&self, course_number: u32) -> String;
    fn signal_concurrent_dmt(&self, label: &str, reference: &str) -> String;
    /// What to attest, by the kinds of signal present.
    fn readmin_attest(&self, rigorous: bool, schedule: bool, concurrent: bool) -> String;
}

/// The card's words in `language` (each language implements all of them).
fn words(language: Language) -> &'static dyn ReadminTexts {
    match language {
        Language::Fr => &Fr,
        Language::En => &En,
    }
}

/// The measure a schedule-only card opens with (see [`schedule_only`]), in `language`.
pub(super) fn schedule_measure(language: Language) -> &'static str {
    words(language).readmin_measure_schedule()
}

/// Whether the card is about the course schedule alone (no liver or immune signal): it then states
/// the schedule instead of the letter's "rigorous evaluation" (docs/clinical-rules.md §5).
pub(super) fn schedule_only(d: &ReAdministrationDetail) -> bool {
    !d.signals
        .iter()
        .any(|s| signal_kind(s).needs_rigorous_evaluation())
}

fn signal_kind(s: &ReAdministrationSignal) -> SignalKind {
    match s {
        ReAdministrationSignal::HysLaw { .. } => SignalKind::HysLaw,
        ReAdministrationSignal::LiverLab { .. } => SignalKind::LiverLab,
        ReAdministrationSignal::Diagnosis { .. } => SignalKind::Diagnosis,
        ReAdministrationSignal::CourseInterval { .. } => SignalKind::CourseInterval,
        ReAdministrationSignal::LabNotAssessable { .. } => SignalKind::LabNotAssessable,
        ReAdministrationSignal::CourseDayCount { .. } => SignalKind::CourseDayCount,
        ReAdministrationSignal::FifthCourse { .. } => SignalKind::FifthCourse,
        ReAdministrationSignal::ConcurrentDmtDraft { .. } => SignalKind::ConcurrentDmt,
    }
}

/// What an R4 finding adds to its card, after the opening every card shares (`mod.rs`).
pub(super) fn render_detail(ctx: &Ctx<'_>, d: &ReAdministrationDetail, parts: &mut Parts) {
    let t = words(ctx.settings.language);
    let present: Vec<SignalKind> = d.signals.iter().map(signal_kind).collect();
    let kinds: Vec<SignalKind> = SignalKind::ORDER
        .iter()
        .copied()
        .filter(|k| present.contains(k))
        .collect();
    let rigorous = kinds.iter().any(|k| k.needs_rigorous_evaluation());
    let schedule = kinds.iter().any(|k| k.is_schedule());
    let concurrent = kinds.contains(&SignalKind::ConcurrentDmt);
    let minimum = d.signals.iter().find_map(|s| match s {
        ReAdministrationSignal::CourseInterval { minimum_months, .. } => Some(*minimum_months),
        _ => None,
    });
    parts.summary = t.readmin_summary(&kinds, minimum);

    parts.heading(t.heading_data());
    let first = ctx.opt_date(d.first_exposure);
    let last = ctx.opt_date(d.last_exposure);
    parts.para(t.readmin_exposure(first.as_deref(), last.as_deref(), d.courses));
    if !d.weak_evidence.is_empty() {
        parts.para(t.readmin_weak_evidence_intro());
        parts.bullets(d.weak_evidence.iter().map(|w| ctx.weak_record(w)));
    }
    parts.para(t.readmin_signals_heading());
    if d.signals.is_empty() {
        parts.para(t.readmin_no_signal());
    } else {
        parts.bullets(signal_lines(ctx, d));
    }
    parts.heading(t.heading_attest());
    parts.para(t.readmin_attest(rigorous, schedule, concurrent));
    // Deleting the order is offered on a critical card only; a warning-level card (a day count,
    // a fifth course, a concurrent draft) is checked, not cancelled.
    if ctx.indicator == Indicator::Critical {
        ctx.delete_suggestion(parts);
    }
    parts.reasons = Vec::new();
    if rigorous || kinds.is_empty() {
        parts
            .reasons
            .push(OverrideReason::RigorousEvaluationDocumented);
    }
    if schedule {
        parts
            .reasons
            .push(OverrideReason::ScheduleDeviationDocumented);
    }
    parts.reasons.push(OverrideReason::OtherDocumented);
    parts.para(t.override_invitation());
}

/// One line per signal, most serious first, in the order of the summary.
fn signal_lines(ctx: &Ctx<'_>, d: &ReAdministrationDetail) -> Vec<String> {
    let mut signals: Vec<&ReAdministrationSignal> = d.signals.iter().collect();
    signals.sort_by_key(|s| {
        let k = signal_kind(s);
        SignalKind::ORDER.iter().position(|o| *o == k)
    });
    signals.into_iter().map(|s| signal_line(ctx, s)).collect()
}

/// One signal in words.
fn signal_line(ctx: &Ctx<'_>, s: &ReAdministrationSignal) -> String {
    let t = words(ctx.settings.language);
    match s {
        ReAdministrationSignal::LiverLab { lab, factor } => t.signal_liver_lab(
            &ctx.lab_line(lab),
            &ctx.num(*factor).unwrap_or_else(|| "?".to_string()),
        ),
        ReAdministrationSignal::HysLaw {
            transaminase,
            bilirubin,
        } => t.signal_hys_law(&ctx.lab_line(transaminase), &ctx.lab_line(bilirubin)),
        ReAdministrationSignal::LabNotAssessable { lab } => {
            t.signal_not_assessable(&ctx.lab_line(lab))
        }
        ReAdministrationSignal::Diagnosis {
            reaction,
            label,
            onset,
            reference,
        } => {
            let onset = ctx.opt_date(*onset);
            t.signal_diagnosis(
                *reaction,
                &escape_md(label),
                onset.as_deref(),
                &escape_md(reference),
            )
        }
        ReAdministrationSignal::CourseInterval {
            last_course_end,
            months,
            minimum_months,
        } => t.signal_interval(&ctx.date(*last_course_end), *months, *minimum_months),
        ReAdministrationSignal::CourseDayCount {
            course_start,
            day,
            allowed_days,
            course_number,
        } => t.signal_day_count(
            &ctx.date(*course_start),
            *day,
            *allowed_days,
            *course_number,
        ),
        ReAdministrationSignal::FifthCourse { course_number } => {
            t.signal_fifth_course(*course_number)
        }
        ReAdministrationSignal::ConcurrentDmtDraft { reference, label } => {
            t.signal_concurrent_dmt(&escape_md(label), &escape_md(reference))
        }
    }
}

/// The card's sample findings for the checks every card goes through (`cards/tests.rs`, listed
/// in `SAMPLES` in `mod.rs`): each signal alone, all together and none, critical and warning, both
/// profiles.
#[cfg(test)]
pub(super) fn samples() -> Vec<crate::rules::Finding> {
    use super::testkit::*;
    let mut out = Vec::new();
    for profile in PROFILES {
        let mut signals: Vec<ReAdministrationSignal> = Vec::new();
        for l in labs_every_shape() {
            signals.push(ReAdministrationSignal::LiverLab {
                lab: l.clone(),
                factor: 3.0,
            });
            signals.push(ReAdministrationSignal::LabNotAssessable { lab: l });
        }
        signals.push(ReAdministrationSignal::HysLaw {
            transaminase: lab(LabTest::Alt, Some(200.0), None),
            bilirubin: lab(LabTest::TotalBilirubin, Some(50.0), None),
        });
        for (i, reaction) in REACTIONS.iter().enumerate() {
            signals.push(ReAdministrationSignal::Diagnosis {
                reaction: *reaction,
                label: format!("Diagnostic {i} _x_"),
                onset: (i % 2 == 0).then(|| d(2023, 1, 1)),
                reference: format!("Condition/c{i}"),
            });
        }
        signals.push(ReAdministrationSignal::CourseInterval {
            last_course_end: d(2023, 9, 1),
            months: 6,
            minimum_months: 12,
        });
        for course_number in [1, 2, 4] {
            signals.push(ReAdministrationSignal::CourseDayCount {
                course_start: d(2024, 3, 11),
                day: if course_number == 1 { 6 } else { 4 },
                allowed_days: if course_number == 1 { 5 } else { 3 },
                course_number,
            });
        }
        signals.push(ReAdministrationSignal::FifthCourse { course_number: 5 });
        signals.push(ReAdministrationSignal::ConcurrentDmtDraft {
            reference: "MedicationRequest/gil".into(),
            label: "Gilenya 0,5 mg".into(),
        });
        let mut sets: Vec<Vec<ReAdministrationSignal>> =
            signals.iter().map(|s| vec![s.clone()]).collect();
        sets.push(signals.clone());
        sets.push(vec![]);
        for set in sets {
            for severity in [Severity::Critical, Severity::Warning] {
                out.push(finding(
                    RuleCode::ReAdministration,
                    severity,
                    Detail::ReAdministration(ReAdministrationDetail {
                        weak_evidence: if set.len() == 1 {
                            vec![]
                        } else {
                            WHYS.iter().map(|w| weak(*w)).collect()
                        },
                        profile,
                        first_exposure: Some(d(2021, 1, 4)),
                        last_exposure: None,
                        courses: 2,
                        signals: set.clone(),
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

    fn readmin(severity: Severity, signals: Vec<ReAdministrationSignal>) -> Finding {
        finding(
            RuleCode::ReAdministration,
            severity,
            Detail::ReAdministration(ReAdministrationDetail {
                profile: Profile::Ansm2019,
                first_exposure: Some(d(2023, 3, 6)),
                last_exposure: Some(d(2023, 3, 10)),
                courses: 1,
                signals,
                weak_evidence: vec![],
            }),
        )
    }

    #[test]
    fn critical_readministration_card_names_hys_law_and_asks_for_rigorous_evaluation() {
        let r4 = finding(
            RuleCode::ReAdministration,
            Severity::Critical,
            Detail::ReAdministration(ReAdministrationDetail {
                weak_evidence: vec![],
                profile: Profile::Ema2020,
                first_exposure: Some(d(2020, 1, 1)),
                last_exposure: Some(d(2021, 1, 3)),
                courses: 2,
                signals: vec![ReAdministrationSignal::HysLaw {
                    transaminase: lab(
                        LabTest::Alt,
                        Some(150.0),
                        Some(Uln {
                            value: 40.0,
                            source: UlnSource::ConfiguredDefault,
                        }),
                    ),
                    bilirubin: lab(LabTest::TotalBilirubin, Some(50.0), None),
                }],
            }),
        );
        let en = render1(&r4, Language::En).1;
        assert_eq!(
            codes(&en),
            vec!["rigorous-evaluation-documented", "other-documented"]
        );
        assert_eq!(
            en.override_reasons[0].display.as_deref(),
            Some("Rigorous evaluation done and documented")
        );
        assert_eq!(en.suggestions[0].actions[0].kind, ActionType::Delete);
        let detail = en.detail.unwrap();
        assert!(detail.contains("Hy's law"), "{detail}");
        assert!(detail.contains("ULN 40 U/L by default"), "{detail}");
        assert!(detail.contains("3.8 × ULN"), "{detail}");
        let fr = render1(&r4, Language::Fr).1.detail.unwrap();
        assert!(
            fr.contains("Loi de Hy") && fr.contains("LSN par défaut 40 U/L"),
            "{fr}"
        );
        assert!(fr.contains("3,8 × LSN"), "{fr}");
    }

    #[test]
    fn course_interval_is_a_course_too_soon_not_a_rigorous_evaluation() {
        let f = readmin(
            Severity::Critical,
            vec![ReAdministrationSignal::CourseInterval {
                last_course_end: d(2024, 1, 10),
                months: 2,
                minimum_months: 12,
            }],
        );
        let fr = render1(&f, Language::Fr).1;
        assert!(
            fr.summary
                .contains("cure trop rapprochée (< 12 mois depuis la cure précédente)"),
            "{}",
            fr.summary
        );
        let text = card_text(&fr);
        assert!(
            !text.to_lowercase().contains("évaluation rigoureuse"),
            "{text}"
        );
        assert!(text.contains("10/01/2024"), "{text}");
        assert_eq!(
            codes(&fr),
            vec!["schedule-deviation-documented", "other-documented"]
        );
        assert_eq!(fr.suggestions[0].actions[0].kind, ActionType::Delete);
        let en = render1(&f, Language::En).1;
        assert!(!card_text(&en)
            .to_lowercase()
            .contains("rigorous evaluation"));
        assert!(
            en.summary.contains("course too soon (< 12 months"),
            "{}",
            en.summary
        );

        // With a liver signal too, the rigorous evaluation is asked for, and both reasons offered.
        let f = readmin(
            Severity::Critical,
            vec![
                ReAdministrationSignal::CourseInterval {
                    last_course_end: d(2024, 1, 10),
                    months: 2,
                    minimum_months: 12,
                },
                ReAdministrationSignal::Diagnosis {
                    reaction: ImmuneReaction::ImmuneThrombocytopenia,
                    label: "PTI".into(),
                    onset: None,
                    reference: "Condition/pti".into(),
                },
            ],
        );
        let fr = render1(&f, Language::Fr).1;
        assert!(
            fr.summary.contains("évaluation rigoureuse requise"),
            "{}",
            fr.summary
        );
        assert_eq!(
            codes(&fr),
            vec![
                "rigorous-evaluation-documented",
                "schedule-deviation-documented",
                "other-documented"
            ]
        );
    }

    #[test]
    fn warning_level_readministration_has_no_delete_suggestion() {
        for signal in [
            ReAdministrationSignal::CourseDayCount {
                course_start: d(2024, 3, 11),
                day: 6,
                allowed_days: 5,
                course_number: 1,
            },
            ReAdministrationSignal::FifthCourse { course_number: 5 },
            ReAdministrationSignal::ConcurrentDmtDraft {
                reference: "MedicationRequest/gil".into(),
                label: "Gilenya".into(),
            },
        ] {
            let f = readmin(Severity::Warning, vec![signal.clone()]);
            for lang in LANGS {
                let card = render1(&f, lang).1;
                check_card(&card).unwrap();
                assert_eq!(card.indicator, Indicator::Warning);
                assert!(card.suggestions.is_empty(), "{signal:?}");
                let text = card_text(&card).to_lowercase();
                assert!(
                    !text.contains("évaluation rigoureuse")
                        && !text.contains("rigorous evaluation"),
                    "{text}"
                );
            }
            let fr = render1(&f, Language::Fr).1;
            let detail = fr.detail.unwrap();
            match signal {
                ReAdministrationSignal::CourseDayCount { .. } => {
                    assert!(detail.contains("jour 6 de la 1re cure"), "{detail}");
                    assert!(detail.contains("11/03/2024"), "{detail}");
                    assert!(fr.summary.contains("jour de perfusion en trop"));
                }
                ReAdministrationSignal::FifthCourse { .. } => {
                    assert!(detail.contains("5e cure"), "{detail}");
                    assert!(fr.summary.contains("cinquième cure"));
                }
                _ => {
                    assert!(detail.contains("Gilenya"), "{detail}");
                    assert!(fr.summary.contains("autre traitement de fond"));
                }
            }
        }
    }

    #[test]
    fn readministration_on_weak_evidence_lists_the_records() {
        let mut f = readmin(
            Severity::Critical,
            vec![ReAdministrationSignal::Diagnosis {
                reaction: ImmuneReaction::Hlh,
                label: "LHH".into(),
                onset: Some(d(2024, 2, 2)),
                reference: "Condition/h".into(),
            }],
        );
        if let Detail::ReAdministration(det) = &mut f.detail {
            det.weak_evidence = vec![
                weak(WeakExposureReason::OrderNotCompleted),
                weak(WeakExposureReason::Campath),
            ];
        }
        let fr = render1(&f, Language::Fr).1.detail.unwrap();
        assert!(
            fr.contains("non prouvée")
                && fr.contains("jamais menée à terme")
                && fr.contains("Campath"),
            "{fr}"
        );
        let en = render1(&f, Language::En).1.detail.unwrap();
        assert!(
            en.contains("not proven") && en.contains("never completed"),
            "{en}"
        );
    }
}
