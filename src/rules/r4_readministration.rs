//! R4 — "In case of symptoms of liver injury or other serious immune reactions, treatment must only be re-administered after rigorous evaluation." (ANSM DHPC 30/04/2019)
//!
//! For an alemtuzumab order of a patient already exposed, signals found *after the first exposure
//! date* (on or after it; everything when the first exposure is undated; undated labs and diagnoses
//! are kept, as they cannot be shown to predate it):
//! - **Liver labs**: ALT or AST > `transaminase_uln_factor` × ULN, total bilirubin >
//!   `bilirubin_uln_factor` × ULN (strictly greater: exactly 3 × ULN is not a signal). ULN as in R3.
//!   A result whose ULN cannot be known (no reference range, unknown unit) is `LabNotAssessable`.
//! - **Hy's law**: a transaminase signal and a bilirubin signal at most [`HYS_LAW_WINDOW_DAYS`] days
//!   apart add a `HysLaw` signal (the bilirubin signal paired with its closest transaminase signal),
//!   *in addition to* the two `LiverLab` signals, so the card shows each value and names the pattern.
//! - **Diagnoses**: any serious immune reaction / liver injury diagnosis on record (whatever its
//!   clinical status), onset on or after the first exposure, or undated.
//! - **Course interval**: order date < last course end + `min_course_interval_months` months,
//!   **unless the order belongs to the course in progress** (on or after its first day and at most
//!   `course_gap_days` after its last infusion: order sets sign each day of a course). Then the day
//!   count is checked instead: the distinct infusion days of that course, this order's day
//!   included, above `first_course_days` (first course) or `later_course_days` (later ones) is a
//!   `CourseDayCount` warning.
//! - **Fifth course**: an order that starts a new course when `max_courses` courses are already on
//!   record (the SmPC allows 2 courses and up to 2 more): a warning.
//! - **Concurrent DMT draft**: another DMT drafted in the same call (alemtuzumab is given alone).
//!
//! Also run, with the exposure unproven, when the only alemtuzumab on record is weak evidence
//! (`weak_evidence` on the finding): every lab and diagnosis counts, there is no course.
//!
//! Critical, except when the only signals are thyroid disease (warning unless
//! `thyroid_disease_critical`), labs that could not be assessed, the day count, a fifth course or a
//! concurrent DMT draft (warnings). No signal, no finding. Not emitted on patient-view.

use chrono::NaiveDate;

use super::calendar::{add_months, days_between, whole_months};
use super::exposure::Exposure;
use super::facts::{ConditionClass, DataSet, ImmuneReaction, LabTest, PatientFacts, Profile};
use super::findings::{Finding, LabValue, OrderRef, Severity, WeakExposure};
use super::r3_liver_function::{has_result, lab_value};
use super::{Detail, RuleCode, RuleConfig};

/// What R4 cannot be checked without (its row of `RULES` in `rules/mod.rs`): the diagnoses (immune
/// reactions, liver injury), the medication history (courses) and the liver labs.
pub const NEEDS: &[DataSet] = &[
    DataSet::Conditions,
    DataSet::MedicationRequests,
    DataSet::MedicationStatements,
    DataSet::MedicationAdministrations,
    DataSet::LiverLabs,
];

// ---------------------------------------------------------------------------------------------
// What it concludes: the finding's detail (`Detail` in `rules/mod.rs`), rendered by the card
// of the same name in `src/cards/`.

#[derive(Debug, Clone, PartialEq)]
pub struct ReAdministrationDetail {
    pub profile: Profile,
    pub first_exposure: Option<NaiveDate>,
    pub last_exposure: Option<NaiveDate>,
    pub courses: u32,
    pub signals: Vec<ReAdministrationSignal>,
    /// Non-empty when the only alemtuzumab on record is weak evidence (no administration shown):
    /// the signals are checked all the same and the card says exposure is not proven.
    pub weak_evidence: Vec<WeakExposure>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReAdministrationSignal {
    /// ALT or AST > factor × ULN, or bilirubin > factor × ULN.
    LiverLab { lab: LabValue, factor: f64 },
    /// ALT/AST > 3 × ULN and bilirubin > 2 × ULN: Hy's law.
    HysLaw {
        transaminase: LabValue,
        bilirubin: LabValue,
    },
    /// A lab that could not be judged (no unit we know and no reference range).
    LabNotAssessable { lab: LabValue },
    /// A serious immune reaction or liver-injury diagnosis after the first exposure.
    Diagnosis {
        reaction: ImmuneReaction,
        label: String,
        onset: Option<NaiveDate>,
        reference: String,
    },
    /// The order comes less than the configured minimum after the previous course.
    CourseInterval {
        last_course_end: NaiveDate,
        months: u32,
        minimum_months: u32,
    },
    /// The order belongs to the course in progress (within `course_gap_days` of its last
    /// infusion) and would give more infusion days than the course allows (5 for the first course,
    /// 3 for later ones): a warning.
    CourseDayCount {
        course_start: NaiveDate,
        /// The day of the course this order would be (course start = day 1).
        day: u32,
        allowed_days: u32,
        /// 1 for the first course.
        course_number: u32,
    },
    /// This order would start a fifth course (the SmPC allows 2 courses and up to 2 more).
    FifthCourse { course_number: u32 },
    /// Another DMT drafted in the same call (alemtuzumab is given alone): a warning.
    ConcurrentDmtDraft { reference: String, label: String },
}

// ---------------------------------------------------------------------------------------------
// The check

/// Transaminase and bilirubin signals this close (days) are named Hy's law.
pub const HYS_LAW_WINDOW_DAYS: i64 = 30;

pub fn check(
    facts: &PatientFacts,
    exposure: &Exposure,
    order: &OrderRef,
    cfg: &RuleConfig,
) -> Option<Finding> {
    let after_first = |date: Option<NaiveDate>| match (exposure.first, date) {
        (Some(first), Some(date)) => date >= first,
        _ => true,
    };
    let mut signals = Vec::new();

    // Liver labs, oldest first (undated last).
    let mut labs: Vec<_> = facts
        .labs
        .iter()
        .filter(|l| has_result(l) && after_first(l.date))
        .collect();
    labs.sort_by_key(|l| (l.date.is_none(), l.date));
    let mut transaminase: Vec<LabValue> = Vec::new();
    let mut bilirubin: Vec<LabValue> = Vec::new();
    for lab in labs {
        let value = lab_value(lab, cfg);
        let (Some(uln), Some(v)) = (value.uln, value.value) else {
            signals.push(ReAdministrationSignal::LabNotAssessable { lab: value });
            continue;
        };
        let factor = match lab.test {
            LabTest::Alt | LabTest::Ast => cfg.transaminase_uln_factor,
            LabTest::TotalBilirubin => cfg.bilirubin_uln_factor,
        };
        if v > factor * uln.value {
            if lab.test == LabTest::TotalBilirubin {
                bilirubin.push(value.clone());
            } else {
                transaminase.push(value.clone());
            }
            signals.push(ReAdministrationSignal::LiverLab { lab: value, factor });
        }
    }
    for bili in &bilirubin {
        let Some(bili_date) = bili.date else { continue };
        let closest = transaminase
            .iter()
            .filter_map(|t| {
                let gap = days_between(t.date?, bili_date).abs();
                (gap <= HYS_LAW_WINDOW_DAYS).then_some((gap, t))
            })
            .min_by_key(|(gap, _)| *gap);
        if let Some((_, t)) = closest {
            signals.push(ReAdministrationSignal::HysLaw {
                transaminase: t.clone(),
                bilirubin: bili.clone(),
            });
        }
    }

    // Diagnoses.
    for c in facts.conditions_on_record() {
        if !after_first(c.onset) {
            continue;
        }
        for class in &c.classes {
            if let ConditionClass::ImmuneReaction(reaction) = class {
                signals.push(ReAdministrationSignal::Diagnosis {
                    reaction: *reaction,
                    label: c.label.clone(),
                    onset: c.onset,
                    reference: c.reference.clone(),
                });
            }
        }
    }

    // Course in progress, course interval, number of courses.
    let courses = exposure.courses.len();
    if let Some(course) = exposure.last_course() {
        let in_progress = order.date >= course.start
            && days_between(course.end, order.date) <= i64::from(cfg.course_gap_days);
        if in_progress {
            let day = if order.date > course.end {
                course.days.saturating_add(1)
            } else {
                course.days
            };
            let allowed_days = if courses <= 1 {
                cfg.first_course_days
            } else {
                cfg.later_course_days
            };
            if day > allowed_days {
                signals.push(ReAdministrationSignal::CourseDayCount {
                    course_start: course.start,
                    day,
                    allowed_days,
                    course_number: u32::try_from(courses).unwrap_or(u32::MAX),
                });
            }
        } else {
            let too_soon = add_months(course.end, cfg.min_course_interval_months)
                .map_or(true, |earliest| order.date < earliest);
            if too_soon {
                signals.push(ReAdministrationSignal::CourseInterval {
                    last_course_end: course.end,
                    months: whole_months(course.end, order.date).unwrap_or(0),
                    minimum_months: cfg.min_course_interval_months,
                });
            }
            let max = usize::try_from(cfg.max_courses).unwrap_or(usize::MAX);
            if courses >= max {
                signals.push(ReAdministrationSignal::FifthCourse {
                    course_number: u32::try_from(courses.saturating_add(1)).unwrap_or(u32::MAX),
                });
            }
        }
    }

    // Another DMT drafted with alemtuzumab.
    signals.extend(facts.concurrent_dmt_drafts().map(|m| {
        ReAdministrationSignal::ConcurrentDmtDraft {
            reference: m.reference.clone(),
            label: m.label.clone(),
        }
    }));

    if signals.is_empty() {
        return None;
    }
    let critical = signals.iter().any(|s| match s {
        ReAdministrationSignal::LabNotAssessable { .. }
        | ReAdministrationSignal::CourseDayCount { .. }
        | ReAdministrationSignal::FifthCourse { .. }
        | ReAdministrationSignal::ConcurrentDmtDraft { .. } => false,
        ReAdministrationSignal::Diagnosis {
            reaction: ImmuneReaction::ThyroidDisease,
            ..
        } => cfg.thyroid_disease_critical,
        _ => true,
    });
    Some(Finding {
        rule: RuleCode::ReAdministration,
        severity: if critical {
            Severity::Critical
        } else {
            Severity::Warning
        },
        order: Some(order.clone()),
        detail: Detail::ReAdministration(ReAdministrationDetail {
            profile: cfg.profile,
            first_exposure: exposure.first,
            last_exposure: exposure.last,
            courses: u32::try_from(exposure.courses.len()).unwrap_or(u32::MAX),
            signals,
            weak_evidence: if exposure.is_exposed() {
                Vec::new()
            } else {
                exposure.weak.clone()
            },
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::facts::{ConditionClass, ImmuneReaction};
    use crate::rules::testkit::{alemtuzumab, condition, d, lab, FactsBuilder};

    const ORDER: &str = "2024-06-01";

    /// Exposed in March 2022 and March 2023: the order is 14 months after the last course.
    fn exposed() -> FactsBuilder {
        FactsBuilder::eligible()
            .med(alemtuzumab(Some("2022-03-01")))
            .med(alemtuzumab(Some("2022-03-05")))
            .med(alemtuzumab(Some("2023-03-01")))
            .med(alemtuzumab(Some("2023-03-03")))
    }

    fn run(facts: &PatientFacts, cfg: &RuleConfig) -> Option<Finding> {
        let order = OrderRef {
            authored_on: None,
            identified_by_display: false,
            reference: "MedicationRequest/draft-1".into(),
            label: "Lemtrada".into(),
            date: d(ORDER),
        };
        check(facts, &Exposure::from_facts(facts, cfg), &order, cfg)
    }

    fn signals(f: &Finding) -> &[ReAdministrationSignal] {
        match &f.detail {
            Detail::ReAdministration(r) => &r.signals,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn clean_history_gives_no_finding() {
        assert_eq!(run(&exposed().build(), &RuleConfig::default()), None);
    }

    #[test]
    fn alt_exactly_three_times_uln_is_not_a_signal_just_above_is() {
        let cfg = RuleConfig::default();
        let facts = exposed()
            .lab(lab(LabTest::Alt, 120.0, "2023-06-01"))
            .build();
        assert_eq!(run(&facts, &cfg), None);
        let facts = exposed()
            .lab(lab(LabTest::Alt, 120.1, "2023-06-01"))
            .build();
        let f = run(&facts, &cfg).expect("signal");
        assert_eq!(f.severity, Severity::Critical);
        assert!(matches!(
            signals(&f),
            [ReAdministrationSignal::LiverLab { factor, .. }] if *factor == 3.0
        ));
    }

    #[test]
    fn reference_range_used_when_present_default_otherwise() {
        let cfg = RuleConfig::default();
        let mut alt = lab(LabTest::Alt, 100.0, "2023-06-01");
        alt.reference_high = Some(30.0);
        assert!(run(&exposed().lab(alt.clone()).build(), &cfg).is_some());
        alt.reference_high = None; // default 40 U/L: 100 < 120
        assert_eq!(run(&exposed().lab(alt.clone()).build(), &cfg), None);
        alt.unit = Some("mmol/s".into()); // unknown unit, no range
        let f = run(&exposed().lab(alt).build(), &cfg).expect("not assessable");
        assert_eq!(f.severity, Severity::Warning);
        assert!(matches!(
            signals(&f),
            [ReAdministrationSignal::LabNotAssessable { .. }]
        ));
    }

    #[test]
    fn labs_before_first_exposure_are_ignored() {
        let facts = exposed()
            .lab(lab(LabTest::Alt, 500.0, "2022-02-28"))
            .build();
        assert_eq!(run(&facts, &RuleConfig::default()), None);
    }

    #[test]
    fn hys_law_is_named() {
        let facts = exposed()
            .lab(lab(LabTest::Ast, 300.0, "2023-06-01"))
            .lab(lab(LabTest::TotalBilirubin, 50.0, "2023-06-20"))
            .build();
        let f = run(&facts, &RuleConfig::default()).expect("signal");
        let s = signals(&f);
        assert_eq!(s.len(), 3);
        assert!(matches!(s[2], ReAdministrationSignal::HysLaw { .. }));
        // 31 days apart: two signals, no Hy's law.
        let facts = exposed()
            .lab(lab(LabTest::Ast, 300.0, "2023-06-01"))
            .lab(lab(LabTest::TotalBilirubin, 50.0, "2023-07-02"))
            .build();
        let f = run(&facts, &RuleConfig::default()).expect("signal");
        assert_eq!(signals(&f).len(), 2);
    }

    #[test]
    fn immune_reaction_diagnoses() {
        let cfg = RuleConfig::default();
        let mut itp = condition(
            ConditionClass::ImmuneReaction(ImmuneReaction::ImmuneThrombocytopenia),
            "ITP",
        );
        itp.onset = Some(d("2023-09-01"));
        let f = run(&exposed().cond(itp.clone()).build(), &cfg).expect("signal");
        assert_eq!(f.severity, Severity::Critical);
        itp.onset = Some(d("2020-01-01"));
        assert_eq!(run(&exposed().cond(itp).build(), &cfg), None);

        let thyroid = condition(
            ConditionClass::ImmuneReaction(ImmuneReaction::ThyroidDisease),
            "Graves",
        );
        let f = run(&exposed().cond(thyroid.clone()).build(), &cfg).expect("signal");
        assert_eq!(f.severity, Severity::Warning);
        let strict = RuleConfig {
            thyroid_disease_critical: true,
            ..cfg
        };
        let f = run(&exposed().cond(thyroid).build(), &strict).expect("signal");
        assert_eq!(f.severity, Severity::Critical);
    }

    #[test]
    fn course_interval_under_12_months() {
        let cfg = RuleConfig::default();
        let facts = FactsBuilder::eligible()
            .med(alemtuzumab(Some("2023-06-01")))
            .med(alemtuzumab(Some("2023-06-05")))
            .build();
        let f = run(&facts, &cfg).expect("too soon");
        assert_eq!(
            signals(&f),
            &[ReAdministrationSignal::CourseInterval {
                last_course_end: d("2023-06-05"),
                months: 11,
                minimum_months: 12
            }]
        );
        let facts = FactsBuilder::eligible()
            .med(alemtuzumab(Some("2023-06-01")))
            .build();
        assert_eq!(run(&facts, &cfg), None, "exactly 12 months is allowed");
    }

    fn course(facts: FactsBuilder, dates: &[&str]) -> FactsBuilder {
        dates
            .iter()
            .fold(facts, |f, date| f.med(alemtuzumab(Some(date))))
    }

    fn at(facts: &PatientFacts, date: &str) -> Option<Finding> {
        let order = OrderRef {
            authored_on: None,
            identified_by_display: false,
            reference: "MedicationRequest/draft-1".into(),
            label: "Lemtrada".into(),
            date: d(date),
        };
        check(
            facts,
            &Exposure::from_facts(facts, &RuleConfig::default()),
            &order,
            &RuleConfig::default(),
        )
    }

    #[test]
    fn an_order_for_a_day_of_the_course_in_progress_is_not_a_short_interval() {
        // Course 1 days 1-2 given; orders for days 3, 4, 5 are the same course (issue 11 point 9).
        let facts = course(FactsBuilder::eligible(), &["2024-05-30", "2024-05-31"]).build();
        for day in ["2024-06-01", "2024-06-02", "2024-06-03"] {
            assert_eq!(at(&facts, day), None, "{day}");
        }
        // A sixth infusion day of course 1 is a warning, not a critical interval card.
        let facts = course(
            FactsBuilder::eligible(),
            &[
                "2024-05-28",
                "2024-05-29",
                "2024-05-30",
                "2024-05-31",
                "2024-06-01",
            ],
        )
        .build();
        let f = at(&facts, "2024-06-02").expect("extra day");
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            signals(&f),
            &[ReAdministrationSignal::CourseDayCount {
                course_start: d("2024-05-28"),
                day: 6,
                allowed_days: 5,
                course_number: 1,
            }]
        );
        // Course 2 allows 3 days: day 3 passes, day 4 warns.
        let two = course(
            FactsBuilder::eligible(),
            &["2023-05-01", "2023-05-05", "2024-05-30", "2024-05-31"],
        )
        .build();
        assert_eq!(at(&two, "2024-06-01"), None);
        let three = course(
            FactsBuilder::eligible(),
            &[
                "2023-05-01",
                "2023-05-05",
                "2024-05-30",
                "2024-05-31",
                "2024-06-01",
            ],
        )
        .build();
        let f = at(&three, "2024-06-02").expect("day 4 of course 2");
        assert_eq!(f.severity, Severity::Warning);
        // Eleven days after the last infusion it is a new course: the interval applies again.
        let f = at(&facts, "2024-06-12").expect("new course too soon");
        assert_eq!(f.severity, Severity::Critical);
        assert!(matches!(
            signals(&f)[0],
            ReAdministrationSignal::CourseInterval { .. }
        ));
    }

    #[test]
    fn a_fifth_course_is_a_warning() {
        let four = course(
            FactsBuilder::eligible(),
            &["2019-01-07", "2020-01-13", "2021-01-11", "2022-01-10"],
        )
        .build();
        let f = at(&four, "2024-06-01").expect("fifth course");
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            signals(&f),
            &[ReAdministrationSignal::FifthCourse { course_number: 5 }]
        );
        let three = course(
            FactsBuilder::eligible(),
            &["2019-01-07", "2020-01-13", "2021-01-11"],
        )
        .build();
        assert_eq!(at(&three, "2024-06-01"), None, "a fourth course is allowed");
    }

    #[test]
    fn another_dmt_drafted_with_it_is_a_warning() {
        let mut facts = course(FactsBuilder::eligible(), &["2022-03-01"]).build();
        let mut ocrelizumab = crate::rules::testkit::dmt("ocrelizumab", Some("2024-06-01"), None);
        ocrelizumab.status = crate::rules::facts::MedicationStatus::Draft;
        ocrelizumab.reference = "MedicationRequest/draft-2".into();
        facts.other_drafts.push(ocrelizumab);
        let f = at(&facts, "2024-06-01").expect("concurrent DMT");
        assert_eq!(f.severity, Severity::Warning);
        assert!(matches!(
            &signals(&f)[0],
            ReAdministrationSignal::ConcurrentDmtDraft { reference, .. } if reference == "MedicationRequest/draft-2"
        ));
    }
}
