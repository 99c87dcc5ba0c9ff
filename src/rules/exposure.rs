//! New vs re-treated patient, and alemtuzumab courses, from the medication history.
//!
//! A patient is *exposed* (re-treated when ordered again) when any medication record that counts as
//! taken ([`PatientFacts::medications_taken`]: request, statement or administration) has the class
//! alemtuzumab, Campath included. Draft orders of the hook call are not in the facts.
//!
//! Exposure dates: each record's `start` (administration date, statement start, request start), and
//! also the `end` of statements and administrations (the last dose of a period); a request's end
//! is its validity, not a dose, and is ignored. Sorted dates at most `course_gap_days` apart form one
//! course. A record without a start still makes the patient exposed (`undated_records`).

use chrono::NaiveDate;

use super::calendar::whole_months;
use super::facts::{MedicationClass, MedicationSource, PatientFacts};
use super::RuleConfig;

/// One course: consecutive infusion days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Course {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exposure {
    /// Dated courses, oldest first.
    pub courses: Vec<Course>,
    /// First exposure date on record (`None` when only undated records).
    pub first: Option<NaiveDate>,
    /// Last exposure date on record, i.e. the last infusion.
    pub last: Option<NaiveDate>,
    /// Alemtuzumab records without a start date.
    pub undated_records: usize,
}

impl Exposure {
    pub fn from_facts(facts: &PatientFacts, cfg: &RuleConfig) -> Self {
        let mut dates: Vec<NaiveDate> = Vec::new();
        let mut undated_records = 0;
        for m in facts
            .medications_taken()
            .filter(|m| matches!(m.class, MedicationClass::Alemtuzumab { .. }))
        {
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
                }
                _ => courses.push(Course {
                    start: date,
                    end: date,
                }),
            }
        }
        Self {
            first: courses.first().map(|c| c.start),
            last: courses.last().map(|c| c.end),
            courses,
            undated_records,
        }
    }

    /// Any alemtuzumab on record, dated or not.
    pub fn is_exposed(&self) -> bool {
        !self.courses.is_empty() || self.undated_records > 0
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
                    end: d("2021-03-15")
                },
                Course {
                    start: d("2022-03-10"),
                    end: d("2022-03-12")
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
}
