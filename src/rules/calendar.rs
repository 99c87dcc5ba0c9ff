//! Calendar arithmetic shared by the rules: whole months and years, birthday-exact, never panicking.
//!
//! Every function is total: dates near `NaiveDate::MIN`/`MAX` or huge month counts give `None`
//! instead of overflowing, and callers decide what "beyond the calendar" means for their rule.

use chrono::{Datelike, Months, NaiveDate};

/// `date` plus `months` calendar months (the day is clamped to the month's end, so 31 January + 1
/// month is 28/29 February). `None` when the result is outside chrono's calendar.
pub(crate) fn add_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(months))
}

/// Whole calendar months from `from` to `to`: the largest `n` with `from + n months <= to`.
/// `None` when `to` is before `from`.
pub(crate) fn whole_months(from: NaiveDate, to: NaiveDate) -> Option<u32> {
    if to < from {
        return None;
    }
    let estimate =
        i64::from(to.year() - from.year()) * 12 + i64::from(to.month()) - i64::from(from.month());
    let mut n = estimate.max(0);
    // The estimate is at most one month too many (when the day of month is not reached yet).
    while n > 0 {
        let fits = u32::try_from(n)
            .ok()
            .and_then(|m| add_months(from, m))
            .is_some_and(|d| d <= to);
        if fits {
            break;
        }
        n -= 1;
    }
    u32::try_from(n).ok()
}

/// Age-style whole years from `from` to `to`: the anniversary day itself counts (born 10 March
/// 2008: 17 on 9 March 2026, 18 on 10 March 2026). A 29 February birthday is reached on 28
/// February in common years. `None` when `to` is before `from`.
pub(crate) fn whole_years(from: NaiveDate, to: NaiveDate) -> Option<u32> {
    whole_months(from, to).map(|m| m / 12)
}

/// Signed number of days from `from` to `to` (positive when `to` is later).
pub(crate) fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    to.signed_duration_since(from).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testkit::d;

    #[test]
    fn whole_months_is_day_exact() {
        assert_eq!(whole_months(d("2020-01-15"), d("2021-01-14")), Some(11));
        assert_eq!(whole_months(d("2020-01-15"), d("2021-01-15")), Some(12));
        assert_eq!(whole_months(d("2020-01-31"), d("2020-02-29")), Some(1));
        assert_eq!(whole_months(d("2020-03-01"), d("2020-02-29")), None);
        assert_eq!(whole_months(d("2020-03-01"), d("2020-03-01")), Some(0));
    }

    #[test]
    fn whole_years_birthday_exact() {
        assert_eq!(whole_years(d("2008-03-10"), d("2026-03-09")), Some(17));
        assert_eq!(whole_years(d("2008-03-10"), d("2026-03-10")), Some(18));
        assert_eq!(whole_years(d("2008-02-29"), d("2026-02-28")), Some(18));
    }

    #[test]
    fn extremes_do_not_panic() {
        assert!(whole_months(NaiveDate::MIN, NaiveDate::MAX).is_some());
        assert_eq!(add_months(NaiveDate::MAX, 1), None);
        assert_eq!(add_months(d("2020-01-01"), u32::MAX), None);
        assert!(days_between(NaiveDate::MIN, NaiveDate::MAX) > 0);
    }
}
