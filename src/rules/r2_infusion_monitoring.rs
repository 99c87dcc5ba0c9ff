//! R2 — "Vital signs, including blood pressure, must be monitored before and regularly during the infusion. If clinically significant changes occur, stopping the infusion and further monitoring, including an ECG, must be considered." (ANSM DHPC 30/04/2019)
//!
//! Nothing to block: every alemtuzumab order gets an info finding with the monitoring plan (the
//! card's text) and the last valid blood pressure on record as the baseline to compare with.

use chrono::NaiveDate;

use super::facts::{BloodPressureFact, DataSet, PatientFacts, Profile};
use super::findings::{Finding, OrderRef, Severity};
use super::{Detail, RuleCode, RuleConfig};

/// R2 blocks nothing: the last blood pressure is only shown as the baseline, and the monitoring
/// plan stands without it (its row of `RULES` in `rules/mod.rs`).
pub const NEEDS: &[DataSet] = &[];

// ---------------------------------------------------------------------------------------------
// What it concludes: the finding's detail (`Detail` in `rules/mod.rs`), rendered by the card
// of the same name in `src/cards/`.

#[derive(Debug, Clone, PartialEq)]
pub struct InfusionMonitoringDetail {
    pub profile: Profile,
    /// The last recorded blood pressure, shown as the baseline to compare with.
    pub last_blood_pressure: Option<BloodPressureFact>,
}

// ---------------------------------------------------------------------------------------------
// The check

/// The latest dated blood pressure on or before `at` with at least one finite, positive value.
pub(crate) fn last_blood_pressure(
    facts: &PatientFacts,
    at: NaiveDate,
) -> Option<&BloodPressureFact> {
    let valid = |v: Option<f64>| v.is_some_and(|v| v.is_finite() && v > 0.0);
    facts
        .blood_pressures
        .iter()
        .filter(|bp| valid(bp.systolic) || valid(bp.diastolic))
        .filter_map(|bp| bp.date.filter(|d| *d <= at).map(|d| (d, bp)))
        .max_by_key(|(d, _)| *d)
        .map(|(_, bp)| bp)
}

pub fn check(facts: &PatientFacts, order: &OrderRef, cfg: &RuleConfig) -> Finding {
    Finding {
        rule: RuleCode::InfusionMonitoring,
        severity: Severity::Info,
        order: Some(order.clone()),
        detail: Detail::InfusionMonitoring(InfusionMonitoringDetail {
            profile: cfg.profile,
            last_blood_pressure: last_blood_pressure(facts, order.date).cloned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testkit::{d, FactsBuilder};

    #[test]
    fn info_with_last_valid_bp_as_baseline() {
        let mut facts = FactsBuilder::new()
            .bp(130.0, 85.0, "2024-05-01")
            .bp(118.0, 76.0, "2024-05-20")
            .bp(f64::NAN, f64::NAN, "2024-05-30")
            .bp(150.0, 95.0, "2024-06-10")
            .build();
        facts.blood_pressures.push(BloodPressureFact {
            reference: "Observation/undated".into(),
            systolic: Some(200.0),
            diastolic: None,
            date: None,
        });
        let order = OrderRef {
            authored_on: None,
            identified_by_display: false,
            reference: "MedicationRequest/1".into(),
            label: "Lemtrada".into(),
            date: d("2024-06-01"),
        };
        let f = check(&facts, &order, &RuleConfig::default());
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(f.rule, RuleCode::InfusionMonitoring);
        let Detail::InfusionMonitoring(detail) = f.detail else {
            panic!("wrong detail")
        };
        assert_eq!(
            detail.last_blood_pressure.map(|b| b.systolic),
            Some(Some(118.0))
        );
    }
}
