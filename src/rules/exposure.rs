//! New vs re-treated patient, and alemtuzumab courses, from the medication history.
//!
//! Only evidence that alemtuzumab **was given** makes a patient *exposed* (re-treated when ordered
//! again; R1 is then replaced by R4), docs/clinical-rules.md §2 "what counts as exposure":
//! - a MedicationAdministration completed or in progress;
//! - a MedicationStatement that says it was taken: active, completed or stopped (intended,
//!   not-taken, on-hold without more, unknown are not);
//! - a MedicationRequest with an order intent (`order`, `original-order`, `instance-order`…) **and**
//!   status completed.
//!
//! Every other alemtuzumab record (a proposal or plan, an order still active, on hold, stopped,
//! cancelled or draft, a statement of intent) is *weak evidence* ([`WeakExposure`]): it never turns
//! R1 off; the initiation card names it and R4's signals are checked all the same. Campath
//! (oncology) records are weak evidence unless `RuleConfig::campath_exposure`. Entered-in-error and
//! not-taken records are no evidence at all. Draft orders of the hook call are not in the facts.
//!
//! Exposure dates: each record's `start` (administration date, statement start, request start), and
//! also the `end` of statements and administrations (the last dose of a period); a request's end
//! is its validity, not a dose, and is ignored. Sorted dates at most `course_gap_days` apart form one
//! course. A record without a start still makes the patient exposed (`undated_records`).

use chrono::NaiveDate;

use super::calendar::whole_months;
use super::facts::{
    MedicationClass, MedicationFact, MedicationSource, MedicationStatus, PatientFacts,
    RequestIntent,
};
use super::findings::{WeakExposure, WeakExposureReason};
use super::RuleConfig;

/// One course: consecutive infusion days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Course {
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// Distinct infusion dates on record in this course.
    pub days: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exposure {
    /// Dated courses, oldest first.
    pub courses: Vec<Course>,
    /// First exposure date on record (`None` when only undated records).
    pub first: Option<NaiveDate>,
    /// Last exposure date on record, i.e. the last infusion.
    pub last: Option<NaiveDate>,
    /// Alemtuzumab records that prove administration but have no start date.
    pub undated_records: usize,
    /// Alemtuzumab records that do not prove administration (see the module documentation).
    pub weak: Vec<WeakExposure>,
}

/// Whether an alemtuzumab record proves the drug was given; `Err` says why not, `Ok(None)` when
/// the record is no evidence at all (entered in error, not taken).
fn evidence(
    m: &MedicationFact,
    campath: bool,
    cfg: &RuleConfig,
) -> Result<bool, WeakExposureReason> {
    use MedicationStatus::*;
    if matches!(m.status, EnteredInError | NotTaken) {
        return Ok(false);
    }
    let given = match m.source {
        MedicationSource::Administration => matches!(m.status, Completed | Active),
        MedicationSource::Statement => matches!(m.status, Active | Completed | Stopped),
        MedicationSource::Request => {
            m.intent == Some(RequestIntent::Order) && m.status == Completed
        }
    };
    if !given {
        return Err(match (m.source, m.intent) {
            (MedicationSource::Request, Some(RequestIntent::Proposal)) => {
                WeakExposureReason::Proposal
            }
            (MedicationSource::Request, Some(RequestIntent::Order)) => {
                WeakExposureReason::OrderNotCompleted
            }
            _ => WeakExposureReason::Plan,
        });
    }
    if campath && !cfg.campath_exposure {
        return Err(WeakExposureReason::Campath);
    }
    Ok(true)
}

impl Exposure {
    pub fn from_facts(facts: &PatientFacts, cfg: &RuleConfig) -> Self {
        let mut dates: Vec<NaiveDate> = Vec::new();
        let mut undated_records = 0;
        let mut weak = Vec::new();
        for m in &facts.medications {
            let MedicationClass::Alemtuzumab { campath } = m.class else {
                continue;
            };
            match evidence(m, campath, cfg) {
                Ok(false) => continue,
                Ok(true) => {}
                Err(why) => {
                    weak.push(WeakExposure {
                        reference: m.reference.clone(),
                        label: m.label.clone(),
                        source: m.source,
                        date: m.start,
                        why,
                    });
                    continue;
                }
            }
            match m.start {
                Some(start) => {
                    dates.push(start);
                    if let Some(end) = m.end {
                        if end >= start && m.source != MedicationSource::Request {
                            dates.push(end);
                        }
                    }
                }
                None => undated_records += 1,
            }
        }
        dates.sort_unstable();
        dates.dedup();
        let gap = i64::from(cfg.course_gap_days);
        let mut courses: Vec<Course> = Vec::new();
        for date in dates {
            match courses.last_mut() {
                Some(course) if super::calendar::days_between(course.end, date) <= gap => {
                    course.end = date;
                    course.days = course.days.saturating_add(1);
                }
                _ => courses.push(Course {
                    start: date,
                    end: date,
                    days: 1,
                }),
            }
        }
        Self {
            first: courses.first().map(|c| c.start),
            last: courses.last().map(|c| c.end),
            courses,
            undated_records,
            weak,
        }
    }

    /// Alemtuzumab given, dated or not (weak evidence does not count).
    pub fn is_exposed(&self) -> bool {
        !self.courses.is_empty() || self.undated_records > 0
    }

    /// Not exposed, but alemtuzumab records that do not prove administration exist.
    pub fn only_weak_evidence(&self) -> bool {
        !self.is_exposed() && !self.weak.is_empty()
    }

    /// The last dated course.
    pub fn last_course(&self) -> Option<&Course> {
        self.courses.last()
    }

    /// Whole months from the last infusion to `date` (`None` when undated or `date` is earlier).
    pub fn months_since_last(&self, date: NaiveDate) -> Option<u32> {
        whole_months(self.last?, date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::facts::MedicationStatus;
    use crate::rules::testkit::{alemtuzumab, d, FactsBuilder};

    #[test]
    fn no_alemtuzumab_is_new_patient() {
        let facts = FactsBuilder::new()
            .dmt("fingolimod", Some("2020-01-01"), None)
            .build();
        let e = Exposure::from_facts(&facts, &RuleConfig::default());
        assert!(!e.is_exposed());
        assert_eq!(e.first, None);
    }

    #[test]
    fn administrations_group_into_courses() {
        let facts = FactsBuilder::new()
            .med(alemtuzumab(Some("2021-03-01")))
            .med(alemtuzumab(Some("2021-03-05")))
            .med(alemtuzumab(Some("2021-03-15")))
            .med(alemtuzumab(Some("2022-03-10")))
            .med(alemtuzumab(Some("2022-03-12")))
            .build();
        let e = Exposure::from_facts(&facts, &RuleConfig::default());
        assert_eq!(
            e.courses,
            vec![
                Course {
                    start: d("2021-03-01"),
                    end: d("2021-03-15"),
                    days: 3,
                },
                Course {
                    start: d("2022-03-10"),
                    end: d("2022-03-12"),
                    days: 2,
                },
            ]
        );
        assert_eq!(e.first, Some(d("2021-03-01")));
        assert_eq!(e.last, Some(d("2022-03-12")));
        assert_eq!(e.months_since_last(d("2023-03-12")), Some(12));
        assert_eq!(e.months_since_last(d("2023-03-11")), Some(11));
    }

    #[test]
    fn gap_over_course_gap_days_starts_a_new_course() {
        let facts = FactsBuilder::new()
            .med(alemtuzumab(Some("2021-03-01")))
            .med(alemtuzumab(Some("2021-03-12")))
            .build();
        let e = Exposure::from_facts(&facts, &RuleConfig::default());
        assert_eq!(e.courses.len(), 2);
    }

    #[test]
    fn undated_record_still_exposes() {
        let mut m = alemtuzumab(None);
        m.source = MedicationSource::Statement;
        let facts = FactsBuilder::new().med(m).build();
        let e = Exposure::from_facts(&facts, &RuleConfig::default());
        assert!(e.is_exposed());
        assert_eq!(e.undated_records, 1);
        assert!(e.courses.is_empty());
    }

    #[test]
    fn cancelled_request_is_not_exposure() {
        let mut m = alemtuzumab(Some("2021-01-01"));
        m.status = MedicationStatus::Cancelled;
        let facts = FactsBuilder::new().med(m).build();
        assert!(!Exposure::from_facts(&facts, &RuleConfig::default()).is_exposed());
    }

    fn request(status: MedicationStatus, intent: RequestIntent) -> MedicationFact {
        let mut m = alemtuzumab(Some("2025-01-10"));
        m.source = MedicationSource::Request;
        m.status = status;
        m.intent = Some(intent);
        m
    }

    #[test]
    fn only_given_alemtuzumab_is_exposure() {
        use MedicationStatus::*;
        let cfg = RuleConfig::default();
        let exposed = |m: MedicationFact| {
            let e = Exposure::from_facts(&FactsBuilder::new().med(m).build(), &cfg);
            (e.is_exposed(), e.weak.first().map(|w| w.why))
        };
        // A proposal never given: weak, the patient stays new (issue 11 point 1).
        assert_eq!(
            exposed(request(Active, RequestIntent::Proposal)),
            (false, Some(WeakExposureReason::Proposal))
        );
        assert_eq!(
            exposed(request(Completed, RequestIntent::Plan)),
            (false, Some(WeakExposureReason::Plan))
        );
        for status in [Active, OnHold, Stopped, Draft, Cancelled] {
            assert_eq!(
                exposed(request(status, RequestIntent::Order)),
                (false, Some(WeakExposureReason::OrderNotCompleted)),
                "{status:?}"
            );
        }
        assert_eq!(
            exposed(request(Completed, RequestIntent::Order)),
            (true, None)
        );
        // Statements: taken or not.
        for (status, taken) in [
            (Active, true),
            (Completed, true),
            (Stopped, true),
            (Intended, false),
            (OnHold, false),
            (Unknown, false),
        ] {
            let mut m = alemtuzumab(Some("2025-01-10"));
            m.source = MedicationSource::Statement;
            m.status = status;
            assert_eq!(exposed(m).0, taken, "{status:?}");
        }
        // Administrations: completed or in progress (mapped to Active).
        for (status, given) in [
            (Completed, true),
            (Active, true),
            (Stopped, false),
            (Unknown, false),
        ] {
            let mut m = alemtuzumab(Some("2025-01-10"));
            m.status = status;
            assert_eq!(exposed(m).0, given, "{status:?}");
        }
        // Entered in error and not taken: no evidence at all.
        let mut m = alemtuzumab(Some("2025-01-10"));
        m.status = EnteredInError;
        assert_eq!(exposed(m), (false, None));
    }

    #[test]
    fn campath_counts_only_when_configured() {
        let mut m = alemtuzumab(Some("2025-01-10"));
        m.class = MedicationClass::Alemtuzumab { campath: true };
        let facts = FactsBuilder::new().med(m).build();
        let e = Exposure::from_facts(&facts, &RuleConfig::default());
        assert!(!e.is_exposed());
        assert!(e.only_weak_evidence());
        assert_eq!(e.weak[0].why, WeakExposureReason::Campath);
        let cfg = RuleConfig {
            campath_exposure: true,
            ..RuleConfig::default()
        };
        assert!(Exposure::from_facts(&facts, &cfg).is_exposed());
    }
}
