//! The initiation-eligibility card (`initiation-eligibility`): how an R1 finding of
//! `rules/r1_initiation.rs` is shown. R1 is stated in docs/clinical-rules.md §2 "R1 initiation
//! eligibility"; the card's contract is docs/wire-contract.md §Cards.
//!
//! The card names the failed and unconfirmed criteria, the warnings (weak exposure records, an
//! immune reaction on record, a concurrent DMT draft), the data used (age, MS phenotype, the DMT
//! courses counted), what the clinician must attest, a delete suggestion when critical, and
//! override reasons that follow the failing criterion.

use super::format::escape_md;
use super::text::{En, Fr, Texts};
use super::{dedup, Ctx, Language, OverrideReason, Parts};
use crate::rules::{
    AgeCheck, Criterion, DmtCourseStatus, ImmuneReaction, InitiationDetail, InitiationWarning,
    MedicationSource, MsCheck, Profile, StopReason,
};
use crate::wire::Indicator;

/// The kinds of warning on the initiation card, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InitiationWarningKind {
    WeakExposure,
    ImmuneReaction,
    ConcurrentDmt,
}

/// One DMT course, ready to be put into words.
pub(crate) struct DmtLine<'a> {
    /// Escaped label as on record.
    pub label: &'a str,
    /// Escaped ingredient key.
    pub ingredient: &'a str,
    pub source: MedicationSource,
    pub start: Option<String>,
    pub end: Option<String>,
    pub ongoing: bool,
    pub months: Option<u32>,
    pub stop_reason: StopReason,
    pub status: DmtCourseStatus,
}

/// The words of the initiation-eligibility card (R1) that no other card says; the shared ones are
/// [`Texts`]. One implementation per language: `impl InitiationTexts for Fr` in `text/fr.rs`, `for
/// En` in `text/en.rs`.
pub(crate) trait InitiationTexts: Texts {
    fn initiation_summary_failed(&self, failed: &[Criterion]) -> String;
    fn initiation_summary_unconfirmed(&self, unconfirmed: &[Criterion]) -> String;
    /// Every criterion met (or none failed/unconfirmed) but warnings to check.
    fn initiation_summary_warnings(&self, kinds: &[InitiationWarningKind]) -> String;
    fn criteria_failed_line(&self, names: &str) -> String;
    fn criteria_unconfirmed_line(&self, names: &str) -> String;
    fn age_known(&self, years: u32, birth_date: &str, adult_failed: bool) -> String;
    fn age_unknown(&self) -> &'static str;
    fn ms_relapsing_remitting(&self, label: &str) -> String;
    /// `earlier_rrms`: the RRMS diagnoses a later progressive phenotype superseded.
    fn ms_only_progressive(&self, labels: &str, earlier_rrms: Option<&str>) -> String;
    fn ms_conflicting(&self, rrms: &str, progressive: &str) -> String;
    fn ms_unspecified(&self, labels: &str) -> String;
    /// `unrecognised`: conditions on record the terminology did not recognise.
    fn ms_no_diagnosis(&self, unrecognised: Option<&str>) -> String;
    fn ms_unknown(&self) -> &'static str;
    fn dmt_heading(&self) -> &'static str;
    /// `unrecognised`: medication records were present but not recognised.
    fn dmt_none(&self, unrecognised: bool) -> &'static str;
    fn unrecognised_medications_line(&self, labels: &str) -> String;
    fn heading_warnings(&self) -> &'static str;
    fn warning_weak_exposure(&self, record: &str) -> String;
    fn warning_immune_reaction(
        &self,
        reaction: ImmuneReaction,
        label: &str,
        onset: Option<&str>,
        reference: &str,
    ) -> String;
    fn warning_concurrent_dmt(&self, label: &str, reference: &str) -> String;
    fn attest_warnings(&self) -> &'static str;
    fn dmt_line(&self, course: &DmtLine<'_>) -> String;
    fn dmt_count_line(&self, counted: usize, required: u32, ingredients: &str) -> String;
    fn attest_highly_active(&self) -> &'static str;
    fn attest_dmt_alternative(&self, profile: Profile) -> &'static str;
    fn attest_age(&self) -> &'static str;
    fn attest_ms_type(&self) -> &'static str;
    fn attest_undated(&self) -> &'static str;
    fn attest_outside_record(&self) -> &'static str;
}

/// The card's words in `language` (each language implements all of them).
fn words(language: Language) -> &'static dyn InitiationTexts {
    match language {
        Language::Fr => &Fr,
        Language::En => &En,
    }
}

/// The override reasons of the initiation card follow the criterion that blocks it (clinical
/// rules §2 R1): an age below 18 is lifted by nothing but "other (documented)"; an MS type by the
/// neurologist's confirmation; the DMT count by the profile's DMT routes.
fn initiation_reasons(
    profile: Profile,
    critical: bool,
    failed: &[Criterion],
    unconfirmed: &[Criterion],
) -> Vec<OverrideReason> {
    let dmt_routes = |out: &mut Vec<OverrideReason>| {
        out.push(match profile {
            Profile::Ansm2019 => OverrideReason::AllOtherDmtsContraindicated,
            Profile::Ema2020 => OverrideReason::RapidlyEvolvingSevereRrms,
        });
        out.push(OverrideReason::DmtHistoryOutsideRecord);
    };
    let mut out = Vec::new();
    if critical {
        if failed.contains(&Criterion::Adult) {
            // Nothing but a documented reason lifts an age below 18.
        } else if failed.is_empty() {
            // Critical without a named criterion: every route stays open.
            dmt_routes(&mut out);
            out.push(OverrideReason::RrmsConfirmedByNeurologist);
        } else {
            if failed.contains(&Criterion::RelapsingRemittingMs) {
                out.push(OverrideReason::RrmsConfirmedByNeurologist);
            }
            if failed.contains(&Criterion::PriorDmts) {
                dmt_routes(&mut out);
            }
        }
    } else {
        if unconfirmed.contains(&Criterion::RelapsingRemittingMs) {
            out.push(OverrideReason::RrmsConfirmedByNeurologist);
        }
        if unconfirmed.contains(&Criterion::PriorDmts) {
            dmt_routes(&mut out);
        }
        out.push(OverrideReason::CriteriaConfirmedDocumented);
    }
    out.push(OverrideReason::OtherDocumented);
    out
}

/// What an R1 finding adds to its card, after the opening every card shares (`mod.rs`).
pub(super) fn render_detail(ctx: &Ctx<'_>, d: &InitiationDetail, parts: &mut Parts) {
    let failed = dedup(d.failed.iter().copied());
    let unconfirmed: Vec<Criterion> = dedup(d.unconfirmed.iter().copied())
        .into_iter()
        .filter(|c| !failed.contains(c))
        .collect();
    let critical = ctx.indicator == Indicator::Critical;
    parts.summary = summary(ctx, d, critical, &failed, &unconfirmed);
    criteria_lines(ctx, &failed, &unconfirmed, parts);
    // Warnings first: they may change how the rest reads (a weak exposure, a concurrent draft).
    warnings(ctx, d, parts);
    data_used(ctx, d, &failed, parts);
    attest(ctx, d, &failed, &unconfirmed, parts);
    if critical {
        ctx.delete_suggestion(parts);
    }
    parts.reasons = initiation_reasons(ctx.profile, critical, &failed, &unconfirmed);
    parts.para(ctx.t.override_invitation());
}

/// The failed criteria when critical; else the warnings when every criterion is met (or none
/// could be judged missing); else the unconfirmed criteria.
fn summary(
    ctx: &Ctx<'_>,
    d: &InitiationDetail,
    critical: bool,
    failed: &[Criterion],
    unconfirmed: &[Criterion],
) -> String {
    let t = words(ctx.settings.language);
    let warning_kinds = dedup(d.warnings.iter().map(|w| match w {
        InitiationWarning::WeakExposure(_) => InitiationWarningKind::WeakExposure,
        InitiationWarning::ImmuneReactionOnRecord { .. } => InitiationWarningKind::ImmuneReaction,
        InitiationWarning::ConcurrentDmtDraft { .. } => InitiationWarningKind::ConcurrentDmt,
    }));
    if critical {
        t.initiation_summary_failed(failed)
    } else if unconfirmed.is_empty() && !warning_kinds.is_empty() {
        // Every criterion met (or none could be judged missing): the warnings are the message.
        t.initiation_summary_warnings(&warning_kinds)
    } else {
        t.initiation_summary_unconfirmed(unconfirmed)
    }
}

/// One line naming the failed criteria, one naming the unconfirmed ones.
fn criteria_lines(
    ctx: &Ctx<'_>,
    failed: &[Criterion],
    unconfirmed: &[Criterion],
    parts: &mut Parts,
) {
    let t = words(ctx.settings.language);
    let names = |list: &[Criterion], failed: bool| {
        list.iter()
            .map(|c| t.criterion_short(*c, failed))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !failed.is_empty() {
        parts.para(t.criteria_failed_line(&names(failed, true)));
    }
    if !unconfirmed.is_empty() {
        parts.para(t.criteria_unconfirmed_line(&names(unconfirmed, false)));
    }
}

/// The warnings block: weak exposure records, immune reactions on record, concurrent DMT drafts.
fn warnings(ctx: &Ctx<'_>, d: &InitiationDetail, parts: &mut Parts) {
    let t = words(ctx.settings.language);
    if d.warnings.is_empty() {
        return;
    }
    parts.heading(t.heading_warnings());
    let lines: Vec<String> = d
        .warnings
        .iter()
        .map(|w| match w {
            InitiationWarning::WeakExposure(w) => t.warning_weak_exposure(&ctx.weak_record(w)),
            InitiationWarning::ImmuneReactionOnRecord {
                reaction,
                label,
                onset,
                reference,
            } => {
                let onset = ctx.opt_date(*onset);
                t.warning_immune_reaction(
                    *reaction,
                    &escape_md(label),
                    onset.as_deref(),
                    &escape_md(reference),
                )
            }
            InitiationWarning::ConcurrentDmtDraft { reference, label } => {
                t.warning_concurrent_dmt(&escape_md(label), &escape_md(reference))
            }
        })
        .collect();
    parts.bullets(lines);
}

/// Record labels, escaped, joined with the language's separator ("—" when there is none).
fn join_labels(ctx: &Ctx<'_>, labels: &[String]) -> String {
    if labels.is_empty() {
        "—".to_string()
    } else {
        labels
            .iter()
            .map(|l| escape_md(l))
            .collect::<Vec<_>>()
            .join(ctx.t.list_separator())
    }
}

/// [`join_labels`], or `None` when there is no label.
fn non_empty_labels(ctx: &Ctx<'_>, labels: &[String]) -> Option<String> {
    (!labels.is_empty()).then(|| join_labels(ctx, labels))
}

/// The data used: age, MS phenotype, the DMT count, each DMT course, unrecognised medications.
fn data_used(ctx: &Ctx<'_>, d: &InitiationDetail, failed: &[Criterion], parts: &mut Parts) {
    let t = words(ctx.settings.language);
    parts.heading(t.heading_data());
    let age = match d.age {
        AgeCheck::Known { years, birth_date } => t.age_known(
            years,
            &ctx.date(birth_date),
            failed.contains(&Criterion::Adult),
        ),
        AgeCheck::Unknown => t.age_unknown().to_string(),
    };
    let counted: Vec<String> = {
        let mut seen: Vec<String> = Vec::new();
        for i in &d.counted_ingredients {
            let e = ctx.ingredient(i);
            if !seen.contains(&e) {
                seen.push(e);
            }
        }
        seen
    };
    parts.bullets([
        age,
        ms_line(ctx, &d.ms),
        t.dmt_count_line(counted.len(), d.required, &counted.join(", ")),
    ]);
    let unrecognised = !d.unrecognised_medications.is_empty();
    if d.dmts.is_empty() {
        parts.para(t.dmt_none(unrecognised));
    } else {
        parts.para(t.dmt_heading());
        parts.bullets(dmt_lines(ctx, d));
    }
    if unrecognised {
        // Present but not recognised is never "no DMT on record".
        parts.para(t.unrecognised_medications_line(&join_labels(ctx, &d.unrecognised_medications)));
    }
}

/// What the record says of the MS phenotype.
fn ms_line(ctx: &Ctx<'_>, ms: &MsCheck) -> String {
    let t = words(ctx.settings.language);
    match ms {
        MsCheck::RelapsingRemitting { label } => t.ms_relapsing_remitting(&escape_md(label)),
        MsCheck::OnlyProgressive {
            labels,
            earlier_rrms,
        } => t.ms_only_progressive(
            &join_labels(ctx, labels),
            non_empty_labels(ctx, earlier_rrms).as_deref(),
        ),
        MsCheck::Unspecified { labels } => t.ms_unspecified(&join_labels(ctx, labels)),
        MsCheck::NoDiagnosis { unrecognised } => {
            t.ms_no_diagnosis(non_empty_labels(ctx, unrecognised).as_deref())
        }
        MsCheck::Conflicting { rrms, progressive } => {
            t.ms_conflicting(&join_labels(ctx, rrms), &join_labels(ctx, progressive))
        }
        MsCheck::Unknown => t.ms_unknown().to_string(),
    }
}

/// One line per DMT course on record.
fn dmt_lines(ctx: &Ctx<'_>, d: &InitiationDetail) -> Vec<String> {
    d.dmts
        .iter()
        .map(|c| {
            let label = escape_md(&c.label);
            let ingredient = ctx.ingredient(&c.ingredient);
            words(ctx.settings.language).dmt_line(&DmtLine {
                label: &label,
                ingredient: &ingredient,
                source: c.source,
                start: ctx.opt_date(c.start),
                end: ctx.opt_date(c.end),
                ongoing: c.ongoing,
                months: c.months,
                stop_reason: c.stop_reason,
                status: c.status,
            })
        })
        .collect()
}

/// What the clinician must attest, following what is in question.
fn attest(
    ctx: &Ctx<'_>,
    d: &InitiationDetail,
    failed: &[Criterion],
    unconfirmed: &[Criterion],
    parts: &mut Parts,
) {
    let t = words(ctx.settings.language);
    parts.heading(t.heading_attest());
    let dmts_in_question =
        failed.contains(&Criterion::PriorDmts) || unconfirmed.contains(&Criterion::PriorDmts);
    let mut attest = vec![t.attest_highly_active()];
    if dmts_in_question {
        attest.push(t.attest_dmt_alternative(ctx.profile));
    }
    if unconfirmed.contains(&Criterion::Adult) || matches!(d.age, AgeCheck::Unknown) {
        attest.push(t.attest_age());
    }
    if unconfirmed.contains(&Criterion::RelapsingRemittingMs)
        || failed.contains(&Criterion::RelapsingRemittingMs)
    {
        attest.push(t.attest_ms_type());
    }
    if d.dmts.iter().any(|c| c.status == DmtCourseStatus::Undated) {
        attest.push(t.attest_undated());
    }
    if dmts_in_question {
        attest.push(t.attest_outside_record());
    }
    if !d.warnings.is_empty() {
        attest.push(t.attest_warnings());
    }
    parts.bullets(attest);
}

/// The card's sample findings for the checks every card goes through (`cards/tests.rs`, listed
/// in `SAMPLES` in `mod.rs`): every set of failed and unconfirmed criteria with every MS phenotype, the warnings
/// alone, both profiles.
#[cfg(test)]
pub(super) fn samples() -> Vec<crate::rules::Finding> {
    use super::testkit::*;
    let mut out = Vec::new();
    for profile in PROFILES {
        for failed in subsets() {
            for unconfirmed in subsets() {
                for (k, ms) in ms_checks().into_iter().enumerate() {
                    let severity = if failed.is_empty() {
                        Severity::Warning
                    } else {
                        Severity::Critical
                    };
                    out.push(finding(
                        RuleCode::InitiationEligibility,
                        severity,
                        Detail::Initiation(InitiationDetail {
                            unrecognised_medications: if k % 3 == 0 {
                                vec!["Produit local X".into()]
                            } else {
                                vec![]
                            },
                            warnings: if k % 2 == 1 {
                                initiation_warnings()
                            } else {
                                vec![]
                            },
                            profile,
                            age: if k % 2 == 0 {
                                AgeCheck::Known {
                                    years: 17,
                                    birth_date: d(2006, 5, 1),
                                }
                            } else {
                                AgeCheck::Unknown
                            },
                            ms,
                            dmts: if k == 0 { dmt_courses() } else { vec![] },
                            counted_ingredients: if k == 0 {
                                vec!["interferon beta-1a".into(), "fingolimod".into()]
                            } else {
                                vec![]
                            },
                            required: 2,
                            failed: failed.clone(),
                            unconfirmed: unconfirmed.clone(),
                        }),
                    ));
                }
            }
        }
        // R1, warnings only (every criterion met).
        for w in initiation_warnings() {
            out.push(finding(
                RuleCode::InitiationEligibility,
                Severity::Warning,
                Detail::Initiation(InitiationDetail {
                    unrecognised_medications: vec![],
                    warnings: vec![w],
                    profile,
                    age: AgeCheck::Known {
                        years: 30,
                        birth_date: d(1994, 1, 1),
                    },
                    ms: ms_checks().remove(0),
                    dmts: vec![],
                    counted_ingredients: vec!["teriflunomide".into(), "natalizumab".into()],
                    required: 2,
                    failed: vec![],
                    unconfirmed: vec![],
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
    fn critical_initiation_card_deletes_the_order_and_offers_reasons() {
        for profile in PROFILES {
            let f = finding(
                RuleCode::InitiationEligibility,
                Severity::Critical,
                Detail::Initiation(InitiationDetail {
                    unrecognised_medications: vec![],
                    warnings: vec![],
                    profile,
                    age: AgeCheck::Known {
                        years: 34,
                        birth_date: d(1990, 1, 1),
                    },
                    ms: ms_checks().remove(0),
                    dmts: dmt_courses(),
                    counted_ingredients: vec!["interferon beta-1a".into()],
                    required: 2,
                    failed: vec![Criterion::PriorDmts],
                    unconfirmed: vec![],
                }),
            );
            let fr = render1(&f, Language::Fr).1;
            let en = render1(&f, Language::En).1;
            for card in [&fr, &en] {
                assert_eq!(card.indicator, Indicator::Critical);
                assert_eq!(card.selection_behavior, Some(SelectionBehavior::AtMostOne));
                assert_eq!(card.suggestions.len(), 1);
                let action = &card.suggestions[0].actions[0];
                assert_eq!(action.kind, ActionType::Delete);
                assert_eq!(
                    action.resource_id.as_deref(),
                    Some("MedicationRequest/mr-42")
                );
                let topic = card.source.topic.as_ref().unwrap();
                assert_eq!(topic.system.as_deref(), Some(DEFAULT_TOPIC_SYSTEM));
                assert_eq!(topic.code, "initiation-eligibility");
                for r in &card.override_reasons {
                    assert_eq!(r.system.as_deref(), Some(DEFAULT_OVERRIDE_REASON_SYSTEM));
                }
            }
            let expected = match profile {
                Profile::Ansm2019 => vec![
                    "all-other-dmts-contraindicated",
                    "dmt-history-outside-record",
                    "other-documented",
                ],
                Profile::Ema2020 => vec![
                    "rapidly-evolving-severe-rrms",
                    "dmt-history-outside-record",
                    "other-documented",
                ],
            };
            assert_eq!(codes(&fr), expected);
            assert_eq!(codes(&en), expected, "codes are stable across languages");
            assert_ne!(
                fr.override_reasons[0].display,
                en.override_reasons[0].display
            );
            assert_eq!(
                fr.suggestions[0].label,
                "Annuler la prescription de l'alemtuzumab"
            );
            assert_eq!(en.suggestions[0].label, "Cancel the alemtuzumab order");
            let label = match profile {
                Profile::Ansm2019 => "Alemtuzumab safety (ANSM 2019)",
                Profile::Ema2020 => "Alemtuzumab safety (EMA 2020)",
            };
            assert_eq!(en.source.label, label);
            if profile == Profile::Ansm2019 {
                assert_eq!(
                    en.override_reasons[0].display.as_deref(),
                    Some("All other DMTs contraindicated or unsuitable")
                );
            }
            let detail = fr.detail.unwrap();
            for needle in [
                "R1",
                "traitement de fond",
                "sclérose en plaques rémittente-récurrente (SEP-RR)",
                "01/01/2018",
                "01/06/2019",
                "17 mois",
                "arrêté pour inefficacité",
                "non compté",
                "Avonex\\_00 \\*30 µg\\*",
            ] {
                assert!(detail.contains(needle), "{needle} not in {detail}");
            }
        }
    }

    #[test]
    fn warning_initiation_card_offers_reasons_but_no_delete() {
        let f = finding(
            RuleCode::InitiationEligibility,
            Severity::Warning,
            Detail::Initiation(InitiationDetail {
                unrecognised_medications: vec![],
                warnings: vec![],
                profile: Profile::Ansm2019,
                age: AgeCheck::Unknown,
                ms: MsCheck::Unspecified {
                    labels: vec!["G35".into()],
                },
                dmts: vec![],
                counted_ingredients: vec![],
                required: 2,
                failed: vec![],
                unconfirmed: vec![Criterion::Adult, Criterion::RelapsingRemittingMs],
            }),
        );
        for lang in LANGS {
            let card = render1(&f, lang).1;
            assert_eq!(card.indicator, Indicator::Warning);
            assert!(card.suggestions.is_empty());
            assert!(card.selection_behavior.is_none());
            assert!(codes(&card).contains(&"criteria-confirmed-documented"));
            check_card(&card).unwrap();
        }
        // A failed criterion is never shown below critical, whatever the severity says.
        let mut f2 = f.clone();
        if let Detail::Initiation(d) = &mut f2.detail {
            d.failed = vec![Criterion::Adult];
        }
        assert_eq!(render1(&f2, Language::En).1.indicator, Indicator::Critical);
    }

    #[test]
    fn initiation_override_reasons_follow_the_failing_criterion() {
        let rrms = ms_checks().remove(0);
        let cases: Vec<(Profile, Vec<Criterion>, Vec<&str>)> = vec![
            // A minor: nothing but a documented reason, never "all other DMTs contraindicated".
            (
                Profile::Ansm2019,
                vec![Criterion::Adult],
                vec!["other-documented"],
            ),
            (
                Profile::Ema2020,
                vec![Criterion::Adult, Criterion::PriorDmts],
                vec!["other-documented"],
            ),
            (
                Profile::Ansm2019,
                vec![Criterion::RelapsingRemittingMs],
                vec!["rrms-confirmed-by-neurologist", "other-documented"],
            ),
            (
                Profile::Ansm2019,
                vec![Criterion::PriorDmts],
                vec![
                    "all-other-dmts-contraindicated",
                    "dmt-history-outside-record",
                    "other-documented",
                ],
            ),
            (
                Profile::Ema2020,
                vec![Criterion::PriorDmts],
                vec![
                    "rapidly-evolving-severe-rrms",
                    "dmt-history-outside-record",
                    "other-documented",
                ],
            ),
            (
                Profile::Ema2020,
                vec![Criterion::RelapsingRemittingMs, Criterion::PriorDmts],
                vec![
                    "rrms-confirmed-by-neurologist",
                    "rapidly-evolving-severe-rrms",
                    "dmt-history-outside-record",
                    "other-documented",
                ],
            ),
        ];
        for (profile, failed, expected) in cases {
            let f = initiation(profile, failed.clone(), vec![], rrms.clone());
            for lang in LANGS {
                let card = render1(&f, lang).1;
                assert_eq!(card.indicator, Indicator::Critical);
                assert_eq!(codes(&card), expected, "{profile:?} {failed:?} {lang:?}");
                check_card(&card).unwrap();
            }
        }
        // The new reason is named in both languages.
        let f = initiation(
            Profile::Ansm2019,
            vec![Criterion::RelapsingRemittingMs],
            vec![],
            rrms.clone(),
        );
        assert_eq!(
            render1(&f, Language::Fr).1.override_reasons[0]
                .display
                .as_deref(),
            Some("SEP-RR confirmée par le neurologue")
        );
        assert_eq!(
            render1(&f, Language::En).1.override_reasons[0]
                .display
                .as_deref(),
            Some("RRMS confirmed by the neurologist")
        );
        // Could not confirm the MS type: the neurologist's confirmation is offered, no delete.
        let f = initiation(
            Profile::Ansm2019,
            vec![],
            vec![Criterion::RelapsingRemittingMs],
            MsCheck::Unspecified {
                labels: vec!["G35".into()],
            },
        );
        let card = render1(&f, Language::Fr).1;
        assert!(card.suggestions.is_empty());
        assert_eq!(
            codes(&card),
            vec![
                "rrms-confirmed-by-neurologist",
                "criteria-confirmed-documented",
                "other-documented"
            ]
        );
        // Every code is distinct and stable.
        let all: Vec<&str> = OverrideReason::ALL.iter().map(|r| r.code()).collect();
        for (i, c) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(c), "{c} repeated");
        }
        assert!(all.contains(&"all-other-dmts-contraindicated"));
        assert!(all.contains(&"contraindication-resolved"));
    }

    #[test]
    fn r1_quotes_the_second_route_in_full_and_names_french_inns() {
        let mut f = initiation(
            Profile::Ansm2019,
            vec![Criterion::PriorDmts],
            vec![],
            ms_checks().remove(0),
        );
        if let Detail::Initiation(det) = &mut f.detail {
            det.age = AgeCheck::Known {
                years: 40,
                birth_date: d(1986, 1, 1),
            };
            det.counted_ingredients = vec!["teriflunomide".into()];
            for (i, key) in [
                "teriflunomide",
                "glatiramer",
                "interferon beta-1b",
                "ocrelizumab",
                "ponesimod",
                "dimethyl fumarate",
            ]
            .iter()
            .enumerate()
            {
                let mut c = dmt_courses().remove(0);
                c.ingredient = (*key).into();
                c.label = format!("Produit {i}");
                det.dmts.push(c);
            }
        }
        let fr = render1(&f, Language::Fr).1.detail.unwrap();
        for needle in [
            "patients adultes atteints de SEP-RR très active pour lesquels tous les autres \
             traitements de fond sont contre-indiqués ou inadaptés",
            "sclérose en plaques rémittente-récurrente (SEP-RR)",
            "tériflunomide",
            "acétate de glatiramère",
            "interféron bêta-1b",
            "ocrélizumab",
            "ponésimod",
            "diméthyl fumarate",
        ] {
            assert!(fr.contains(needle), "{needle} not in {fr}");
        }
        assert!(!fr.contains("teriflunomide"), "{fr}");
        let en = render1(&f, Language::En).1.detail.unwrap();
        assert!(en.contains("(teriflunomide, ") && en.contains("interferon beta-1b"));
    }

    #[test]
    fn warnings_only_initiation_card_reads_as_a_warning() {
        let mut f = initiation(Profile::Ansm2019, vec![], vec![], ms_checks().remove(0));
        if let Detail::Initiation(det) = &mut f.detail {
            det.warnings = vec![
                InitiationWarning::WeakExposure(weak(WeakExposureReason::Proposal)),
                InitiationWarning::ImmuneReactionOnRecord {
                    reaction: ImmuneReaction::Hlh,
                    label: "LHH".into(),
                    onset: Some(d(2025, 3, 2)),
                    reference: "Condition/hlh".into(),
                },
                InitiationWarning::ConcurrentDmtDraft {
                    reference: "MedicationRequest/ocre".into(),
                    label: "Ocrevus".into(),
                },
            ];
            det.unrecognised_medications = vec!["Médicament local 123".into()];
        }
        let fr = render1(&f, Language::Fr).1;
        assert_eq!(fr.indicator, Indicator::Warning);
        assert!(fr.suggestions.is_empty());
        assert!(
            fr.summary.starts_with(
                "Alemtuzumab : à vérifier avant l'instauration (alemtuzumab au dossier"
            ),
            "{}",
            fr.summary
        );
        let detail = fr.detail.as_deref().unwrap();
        for needle in [
            "MedicationRequest/old-lem",
            "05/04/2023",
            "proposition",
            "nouveau patient",
            "lymphohistiocytose",
            "cure antérieure non enregistrée",
            "Ocrevus",
            "s'administre seul",
            "non reconnus",
            "Médicament local 123",
        ] {
            assert!(detail.contains(needle), "{needle} not in {detail}");
        }
        assert!(!detail.contains("Aucun traitement de fond antérieur au dossier."));
        let en = render1(&f, Language::En).1;
        assert!(
            en.summary.starts_with("Alemtuzumab: check before starting"),
            "{}",
            en.summary
        );
        let detail = en.detail.unwrap();
        assert!(detail.contains("not recognised") && detail.contains("treated as a new patient"));
        assert!(!detail.contains("No prior DMT on record."));
    }

    #[test]
    fn ms_phenotype_findings_name_every_diagnosis() {
        let f = initiation(
            Profile::Ansm2019,
            vec![Criterion::RelapsingRemittingMs],
            vec![],
            MsCheck::OnlyProgressive {
                labels: vec!["SEP secondairement progressive".into()],
                earlier_rrms: vec!["SEP-RR 2012".into()],
            },
        );
        let fr = render1(&f, Language::Fr).1.detail.unwrap();
        assert!(
            fr.contains("SEP secondairement progressive") && fr.contains("SEP-RR 2012"),
            "{fr}"
        );
        let f = initiation(
            Profile::Ansm2019,
            vec![],
            vec![Criterion::RelapsingRemittingMs],
            MsCheck::Conflicting {
                rrms: vec!["RRMS".into()],
                progressive: vec!["PPMS".into()],
            },
        );
        for lang in LANGS {
            let card = render1(&f, lang).1;
            let detail = card.detail.unwrap();
            assert!(
                detail.contains("RRMS") && detail.contains("PPMS"),
                "{detail}"
            );
            assert_eq!(card.indicator, Indicator::Warning);
        }
        let f = initiation(
            Profile::Ansm2019,
            vec![Criterion::RelapsingRemittingMs],
            vec![],
            MsCheck::NoDiagnosis {
                unrecognised: vec!["SEP rémittente (code local)".into()],
            },
        );
        let fr = render1(&f, Language::Fr).1.detail.unwrap();
        assert!(
            fr.contains("non reconnus") && fr.contains("SEP rémittente \\(code local\\)"),
            "{fr}"
        );
    }
}
