//! R5 — "Patients must be told to seek medical care immediately for symptoms in the few days after the infusion, or for symptoms of liver injury." (ANSM DHPC 30/04/2019)
//!
//! Nothing to check in data: every alemtuzumab order gets an info finding; the card lists what the
//! patient must be told (stroke, dissection, cardiac and bleeding signs in the days after an
//! infusion; liver-injury and HLH signs at any time) and the patient alert card.

use super::facts::{DataSet, Profile};
use super::findings::{Finding, OrderRef, Severity};
use super::{Detail, RuleCode, RuleConfig};

/// R5 reads no data (its row of `RULES` in `rules/mod.rs`).
pub const NEEDS: &[DataSet] = &[];

// ---------------------------------------------------------------------------------------------
// What it concludes: the finding's detail (`Detail` in `rules/mod.rs`), rendered by the card
// of the same name in `src/cards/`.

#[derive(Debug, Clone, PartialEq)]
pub struct CounsellingDetail {
    pub profile: Profile,
}

// ---------------------------------------------------------------------------------------------
// The check

pub fn check(order: &OrderRef, cfg: &RuleConfig) -> Finding {
    Finding {
        rule: RuleCode::PatientCounselling,
        severity: Severity::Info,
        order: Some(order.clone()),
        detail: Detail::Counselling(CounsellingDetail {
            profile: cfg.profile,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::facts::Profile;
    use crate::rules::testkit::d;

    #[test]
    fn info_per_order_with_profile() {
        let order = OrderRef {
            authored_on: None,
            identified_by_display: false,
            reference: "MedicationRequest/1".into(),
            label: "Lemtrada".into(),
            date: d("2024-06-01"),
        };
        let cfg = RuleConfig {
            profile: Profile::Ema2020,
            ..RuleConfig::default()
        };
        let f = check(&order, &cfg);
        assert_eq!(f.rule, RuleCode::PatientCounselling);
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(f.order, Some(order));
        assert_eq!(
            f.detail,
            Detail::Counselling(CounsellingDetail {
                profile: Profile::Ema2020
            })
        );
    }
}
