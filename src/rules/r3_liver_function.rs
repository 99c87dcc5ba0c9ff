//! R3 — "Liver function must be evaluated before and during treatment." (ANSM DHPC 30/04/2019; `ema-2020` SmPC: liver tests monthly until at least 48 months after the last infusion)
//!
//! A complete liver panel is ALT, AST and total bilirubin, each a valid result (not cancelled or
//! entered in error) with a finite value and a date.
//! - **Before a course** (every alemtuzumab order): each test must have a result dated within
//!   `liver_panel_max_age_days` before the order date (on or before the order date, and order date −
//!   result date ≤ max: 30 days old is fine, 31 is stale); otherwise `PanelMissingBeforeOrder`.
//! - **During monitoring** (patient-view, exposed patient with a dated last infusion): while today ≤
//!   last infusion + `liver_monitoring_months` months, the last complete panel must be at most
//!   `liver_monitoring_interval_days` old; otherwise `MonitoringOverdue`. The date of the last
//!   complete panel is the oldest of the three tests' latest results (so all three lie within the
//!   interval exactly when the panel is recent enough).
//! - **Monitoring, exposure undated** (patient-view, alemtuzumab given but no record dated): the
//!   monitoring window cannot be placed, so a `MonitoringUndated` card always asks for the last
//!   infusion date and shows the last complete panel (never silent).
//! - **Abnormal**: the latest result of each test above the ULN. ULN = the Observation's
//!   `referenceRange.high`, else the configured default for the unit (ALT/AST in U/L, IU/L, [IU]/L,
//!   UI/L or /L; bilirubin in µmol/L or mg/dL).
//! - **Not interpretable**: a latest result whose ULN cannot be known (no reference range and a
//!   unit that cannot be converted): `NotInterpretable`, a warning, never a pass.
//!
//! Units: ALT/AST in µkat/L are converted to U/L (× 60), reference range included, and the card
//! shows what the lab sent (`converted_from`). Bilirubin keeps its unit (µmol/L or mg/dL each have
//! their default ULN).
//!
//! When the liver labs could not be obtained, R3 says nothing: the `data-unavailable` finding does.

use chrono::NaiveDate;

use super::calendar::{add_months, days_between};
use super::exposure::Exposure;
use super::facts::{DataSet, LabFact, LabTest, PatientFacts, Profile};
use super::findings::{Finding, LabValue, OrderRef, OriginalValue, Severity, Uln, UlnSource};
use super::{Detail, RuleCode, RuleConfig};

/// What R3 cannot be checked without (its row of `RULES` in `rules/mod.rs`): the liver labs. (On
/// patient-view a medication gap blocks it too, since exposure cannot be established: `evaluate`.)
pub const NEEDS: &[DataSet] = &[DataSet::LiverLabs];

// ---------------------------------------------------------------------------------------------
// What it concludes: the finding's detail (`Detail` in `rules/mod.rs`), rendered by the card
// of the same name in `src/cards/`.

#[derive(Debug, Clone, PartialEq)]
pub struct LiverDetail {
    pub profile: Profile,
    pub situation: LiverSituation,
    /// The latest result of each test of the panel, when any.
    pub latest: Vec<LabValue>,
    /// The patient has alemtuzumab on record (the wording of abnormal results differs).
    pub exposed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LiverSituation {
    /// Before a course: no complete panel within `max_age_days` before the order date.
    /// `missing` lists the tests with no result in the window.
    PanelMissingBeforeOrder {
        missing: Vec<LabTest>,
        max_age_days: u32,
    },
    /// Monitoring (48 months after the last infusion): the last complete panel is older than
    /// `interval_days` (or there is none: `last_panel` is `None`).
    MonitoringOverdue {
        last_infusion: NaiveDate,
        monitor_until: NaiveDate,
        last_panel: Option<NaiveDate>,
        interval_days: u32,
    },
    /// Results above the upper limit of normal.
    Abnormal { results: Vec<LabValue> },
    /// Exposed at an unknown date (undated records only): monitoring cannot be dated, so the card
    /// asks for the last infusion date and a panel; `last_panel` is the last complete panel.
    MonitoringUndated { last_panel: Option<NaiveDate> },
    /// Results that could not be interpreted (a unit that cannot be converted and no reference
    /// range): never a pass.
    NotInterpretable { results: Vec<LabValue> },
}

// ---------------------------------------------------------------------------------------------
// The check

fn norm_unit(unit: &str) -> String {
    unit.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            'µ' | 'μ' => 'u',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The upper limit of normal for this result: its reference range, else the configured default for
/// its unit, else `None` (cannot be judged).
pub(crate) fn uln(lab: &LabFact, cfg: &RuleConfig) -> Option<Uln> {
    if let Some(high) = lab.reference_high.filter(|h| h.is_finite() && *h > 0.0) {
        return Some(Uln {
            value: high,
            source: UlnSource::ReferenceRange,
        });
    }
    let unit = norm_unit(lab.unit.as_deref()?);
    let value = match lab.test {
        LabTest::Alt | LabTest::Ast => {
            if !matches!(unit.as_str(), "u/l" | "iu/l" | "[iu]/l" | "ui/l" | "/l") {
                return None;
            }
            if lab.test == LabTest::Alt {
                cfg.default_uln_alt
            } else {
                cfg.default_uln_ast
            }
        }
        LabTest::TotalBilirubin => match unit.as_str() {
            "umol/l" => cfg.default_uln_bilirubin_umol_l,
            "mg/dl" => cfg.default_uln_bilirubin_mg_dl,
            _ => return None,
        },
    };
    // A misconfigured default (NaN, infinite, zero or negative) cannot judge anything.
    (value.is_finite() && value > 0.0).then_some(Uln {
        value,
        source: UlnSource::ConfiguredDefault,
    })
}

/// µkat/L → U/L for ALT and AST (1 µkat/L = 60 U/L).
pub const UKAT_TO_U_PER_L: f64 = 60.0;

/// The result in the unit the rules judge: ALT/AST in µkat/L become U/L (value and reference
/// range), and the original is kept for the card.
fn normalised(lab: &LabFact) -> (LabFact, Option<OriginalValue>) {
    let is_ukat = lab
        .unit
        .as_deref()
        .is_some_and(|u| norm_unit(u) == "ukat/l");
    if !is_ukat || lab.test == LabTest::TotalBilirubin {
        return (lab.clone(), None);
    }
    let original = OriginalValue {
        value: lab.value,
        unit: lab.unit.clone().unwrap_or_default(),
    };
    let converted = LabFact {
        value: lab.value.map(|v| v * UKAT_TO_U_PER_L),
        unit: Some("U/L".to_owned()),
        reference_high: lab.reference_high.map(|h| h * UKAT_TO_U_PER_L),
        ..lab.clone()
    };
    (converted, Some(original))
}

pub(crate) fn lab_value(lab: &LabFact, cfg: &RuleConfig) -> LabValue {
    let (lab, converted_from) = normalised(lab);
    LabValue {
        uln: uln(&lab, cfg),
        reference: lab.reference,
        test: lab.test,
        value: lab.value,
        unit: lab.unit,
        date: lab.date,
        converted_from,
    }
}

/// A valid result with a finite value.
pub(crate) fn has_result(lab: &LabFact) -> bool {
    lab.status.is_valid() && lab.value.is_some_and(f64::is_finite)
}

/// The latest dated result (on or before `at`) of each test of the panel, in panel order.
pub(crate) fn latest_results(facts: &PatientFacts, at: NaiveDate) -> Vec<&LabFact> {
    LabTest::PANEL
        .iter()
        .filter_map(|test| {
            facts
                .labs
                .iter()
                .filter(|l| l.test == *test && has_result(l))
                .filter_map(|l| l.date.filter(|d| *d <= at).map(|d| (d, l)))
                .max_by_key(|(d, _)| *d)
                .map(|(_, l)| l)
        })
        .collect()
}

fn finding(
    order: Option<&OrderRef>,
    cfg: &RuleConfig,
    exposed: bool,
    situation: LiverSituation,
    latest: Vec<LabValue>,
) -> Finding {
    Finding {
        rule: RuleCode::LiverFunction,
        severity: Severity::Warning,
        order: order.cloned(),
        detail: Detail::Liver(LiverDetail {
            profile: cfg.profile,
            situation,
            latest,
            exposed,
        }),
    }
}

/// Latest results above the ULN, and those that cannot be judged (no ULN).
fn abnormal(latest: &[&LabFact], cfg: &RuleConfig) -> (Vec<LabValue>, Vec<LabValue>) {
    let values: Vec<LabValue> = latest.iter().map(|l| lab_value(l, cfg)).collect();
    let above = values
        .iter()
        .filter(|v| matches!((v.uln, v.value), (Some(uln), Some(value)) if value > uln.value))
        .cloned()
        .collect();
    let unknown = values.into_iter().filter(|v| v.uln.is_none()).collect();
    (above, unknown)
}

/// The abnormal and not-interpretable findings of the latest results.
fn judged(
    latest: &[&LabFact],
    order: Option<&OrderRef>,
    cfg: &RuleConfig,
    exposed: bool,
    latest_values: &[LabValue],
) -> Vec<Finding> {
    let (above, unknown) = abnormal(latest, cfg);
    let mut findings = Vec::new();
    if !above.is_empty() {
        findings.push(finding(
            order,
            cfg,
            exposed,
            LiverSituation::Abnormal { results: above },
            latest_values.to_vec(),
        ));
    }
    if !unknown.is_empty() {
        findings.push(finding(
            order,
            cfg,
            exposed,
            LiverSituation::NotInterpretable { results: unknown },
            latest_values.to_vec(),
        ));
    }
    findings
}

/// R3 for one alemtuzumab order: panel before the course, then abnormal results.
pub fn check_order(
    facts: &PatientFacts,
    exposed: bool,
    order: &OrderRef,
    cfg: &RuleConfig,
) -> Vec<Finding> {
    if facts.has_gap(&DataSet::LiverLabs) {
        return Vec::new();
    }
    let latest = latest_results(facts, order.date);
    let latest_values: Vec<LabValue> = latest.iter().map(|l| lab_value(l, cfg)).collect();
    let mut findings = Vec::new();
    let max_age = i64::from(cfg.liver_panel_max_age_days);
    let missing: Vec<LabTest> = LabTest::PANEL
        .iter()
        .copied()
        .filter(|test| {
            !latest.iter().any(|l| {
                l.test == *test
                    && l.date
                        .is_some_and(|d| days_between(d, order.date) <= max_age)
            })
        })
        .collect();
    if !missing.is_empty() {
        findings.push(finding(
            Some(order),
            cfg,
            exposed,
            LiverSituation::PanelMissingBeforeOrder {
                missing,
                max_age_days: cfg.liver_panel_max_age_days,
            },
            latest_values.clone(),
        ));
    }
    findings.extend(judged(&latest, Some(order), cfg, exposed, &latest_values));
    findings
}

/// R3 on patient-view for an exposed patient: monitoring overdue, then abnormal results.
pub fn check_patient_view(
    facts: &PatientFacts,
    exposure: &Exposure,
    cfg: &RuleConfig,
    today: NaiveDate,
) -> Vec<Finding> {
    if !exposure.is_exposed() || facts.has_gap(&DataSet::LiverLabs) {
        return Vec::new();
    }
    let latest = latest_results(facts, today);
    let latest_values: Vec<LabValue> = latest.iter().map(|l| lab_value(l, cfg)).collect();
    let mut findings = Vec::new();
    let last_panel = if latest.len() == LabTest::PANEL.len() {
        latest.iter().filter_map(|l| l.date).min()
    } else {
        None
    };
    if exposure.last.is_none() {
        findings.push(finding(
            None,
            cfg,
            true,
            LiverSituation::MonitoringUndated { last_panel },
            latest_values.clone(),
        ));
    }
    if let Some(last_infusion) = exposure.last {
        // Beyond the calendar: the window never ends.
        let monitor_until =
            add_months(last_infusion, cfg.liver_monitoring_months).unwrap_or(NaiveDate::MAX);
        if today <= monitor_until {
            let overdue = last_panel.map_or(true, |p| {
                days_between(p, today) > i64::from(cfg.liver_monitoring_interval_days)
            });
            if overdue {
                findings.push(finding(
                    None,
                    cfg,
                    true,
                    LiverSituation::MonitoringOverdue {
                        last_infusion,
                        monitor_until,
                        last_panel,
                        interval_days: cfg.liver_monitoring_interval_days,
                    },
                    latest_values.clone(),
                ));
            }
        }
    }
    findings.extend(judged(&latest, None, cfg, true, &latest_values));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::facts::ObservationStatus;
    use crate::rules::testkit::{alemtuzumab, d, lab, FactsBuilder, ORDER_DATE};

    fn order() -> OrderRef {
        OrderRef {
            authored_on: None,
            identified_by_display: false,
            reference: "MedicationRequest/draft-1".into(),
            label: "Lemtrada".into(),
            date: d(ORDER_DATE),
        }
    }

    fn situations(findings: &[Finding]) -> Vec<&LiverSituation> {
        findings
            .iter()
            .map(|f| match &f.detail {
                Detail::Liver(l) => &l.situation,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn panel_30_days_old_is_fine_31_is_stale() {
        let cfg = RuleConfig::default();
        let facts = FactsBuilder::new().panel("2024-05-02").build();
        assert!(check_order(&facts, false, &order(), &cfg).is_empty());
        let facts = FactsBuilder::new().panel("2024-05-01").build();
        let f = check_order(&facts, false, &order(), &cfg);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(
            situations(&f),
            vec![&LiverSituation::PanelMissingBeforeOrder {
                missing: LabTest::PANEL.to_vec(),
                max_age_days: 30
            }]
        );
    }

    #[test]
    fn incomplete_panel_lists_missing_tests() {
        let mut facts = FactsBuilder::new().panel("2024-05-20").build();
        facts.labs.retain(|l| l.test != LabTest::Ast);
        // An entered-in-error AST does not count, nor a result after the order date.
        let mut bad = lab(LabTest::Ast, 20.0, "2024-05-20");
        bad.status = ObservationStatus::EnteredInError;
        facts.labs.push(bad);
        facts.labs.push(lab(LabTest::Ast, 20.0, "2024-06-02"));
        let f = check_order(&facts, false, &order(), &RuleConfig::default());
        assert_eq!(
            situations(&f),
            vec![&LiverSituation::PanelMissingBeforeOrder {
                missing: vec![LabTest::Ast],
                max_age_days: 30
            }]
        );
    }

    #[test]
    fn abnormal_latest_results_are_listed() {
        let facts = FactsBuilder::new()
            .panel("2024-05-20")
            .lab(lab(LabTest::Alt, 95.0, "2024-05-25"))
            .build();
        let f = check_order(&facts, false, &order(), &RuleConfig::default());
        let [LiverSituation::Abnormal { results }] = situations(&f)[..] else {
            panic!("{f:?}")
        };
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].value, Some(95.0));
        assert_eq!(
            results[0].uln,
            Some(Uln {
                value: 40.0,
                source: UlnSource::ConfiguredDefault
            })
        );
    }

    #[test]
    fn reference_range_beats_default_and_unknown_unit_cannot_be_judged() {
        let cfg = RuleConfig::default();
        let mut alt = lab(LabTest::Alt, 45.0, "2024-05-25");
        alt.reference_high = Some(50.0);
        assert_eq!(
            uln(&alt, &cfg).map(|u| u.source),
            Some(UlnSource::ReferenceRange)
        );
        let mut facts = FactsBuilder::new()
            .panel("2024-05-20")
            .lab(alt.clone())
            .build();
        assert!(check_order(&facts, false, &order(), &cfg).is_empty());
        alt.reference_high = None;
        alt.unit = Some("IU/dL".into());
        facts.labs.push(alt.clone());
        // A unit that cannot be converted and no range: "could not interpret", never a pass.
        let f = check_order(&facts, false, &order(), &cfg);
        let [LiverSituation::NotInterpretable { results }] = situations(&f)[..] else {
            panic!("{f:?}")
        };
        assert_eq!(results[0].uln, None);
        assert_eq!(f[0].severity, Severity::Warning);
    }

    #[test]
    fn microkatal_transaminases_are_converted_not_downgraded() {
        let cfg = RuleConfig::default();
        // 3.5 µkat/L = 210 U/L > 40 (default ULN) and > 3 × 40 (issue 11 point 6).
        let mut alt = lab(LabTest::Alt, 3.5, "2024-05-20");
        alt.unit = Some("µkat/L".into());
        let v = lab_value(&alt, &cfg);
        assert_eq!(v.value, Some(210.0));
        assert_eq!(v.unit.as_deref(), Some("U/L"));
        assert_eq!(
            v.uln.map(|u| (u.value, u.source)),
            Some((40.0, UlnSource::ConfiguredDefault))
        );
        assert_eq!(
            v.converted_from,
            Some(OriginalValue {
                value: Some(3.5),
                unit: "µkat/L".into()
            })
        );
        // With the lab's range in µkat/L, the range is converted too.
        alt.reference_high = Some(0.7);
        alt.unit = Some("ukat/L".into());
        let v = lab_value(&alt, &cfg);
        assert_eq!(v.uln.map(|u| u.value), Some(0.7 * UKAT_TO_U_PER_L));
        let facts = FactsBuilder::new().panel("2024-05-20").lab(alt).build();
        let f = check_order(&facts, false, &order(), &cfg);
        assert!(matches!(
            situations(&f)[..],
            [LiverSituation::Abnormal { .. }]
        ));
    }

    #[test]
    fn patient_view_with_undated_exposure_is_never_silent() {
        let cfg = RuleConfig::default();
        let facts = FactsBuilder::new().med(alemtuzumab(None)).build();
        let exposure = Exposure::from_facts(&facts, &cfg);
        let f = check_patient_view(&facts, &exposure, &cfg, d(ORDER_DATE));
        assert_eq!(
            situations(&f),
            vec![&LiverSituation::MonitoringUndated { last_panel: None }]
        );
        let facts = FactsBuilder::new()
            .med(alemtuzumab(None))
            .panel("2024-05-20")
            .build();
        let f = check_patient_view(&facts, &exposure, &cfg, d(ORDER_DATE));
        assert_eq!(
            situations(&f),
            vec![&LiverSituation::MonitoringUndated {
                last_panel: Some(d("2024-05-20"))
            }]
        );
    }

    #[test]
    fn units_and_bilirubin_defaults() {
        let cfg = RuleConfig::default();
        for unit in ["U/L", "IU/L", "[IU]/L", "/L", "iu/l"] {
            let mut l = lab(LabTest::Ast, 1.0, "2024-01-01");
            l.unit = Some(unit.into());
            assert_eq!(uln(&l, &cfg).map(|u| u.value), Some(40.0), "{unit}");
        }
        let mut b = lab(LabTest::TotalBilirubin, 1.0, "2024-01-01");
        b.unit = Some("mg/dL".into());
        assert_eq!(uln(&b, &cfg).map(|u| u.value), Some(1.2));
        b.unit = Some("umol/L".into());
        assert_eq!(uln(&b, &cfg).map(|u| u.value), Some(21.0));
        b.unit = None;
        assert_eq!(uln(&b, &cfg), None);
    }

    #[test]
    fn labs_gap_silences_r3() {
        let facts = FactsBuilder::new().gap(DataSet::LiverLabs).build();
        assert!(check_order(&facts, false, &order(), &RuleConfig::default()).is_empty());
    }

    #[test]
    fn monitoring_overdue_on_patient_view() {
        let cfg = RuleConfig::default();
        let today = d("2024-06-01");
        let facts = FactsBuilder::new()
            .med(alemtuzumab(Some("2023-03-01")))
            .panel("2024-05-01")
            .build();
        let e = Exposure::from_facts(&facts, &cfg);
        assert!(
            check_patient_view(&facts, &e, &cfg, today).is_empty(),
            "31 days is fine"
        );
        let f = check_patient_view(&facts, &e, &cfg, d("2024-06-02"));
        assert_eq!(
            situations(&f),
            vec![&LiverSituation::MonitoringOverdue {
                last_infusion: d("2023-03-01"),
                monitor_until: d("2027-03-01"),
                last_panel: Some(d("2024-05-01")),
                interval_days: 31
            }]
        );
        // After 48 months, no more monitoring.
        assert!(check_patient_view(&facts, &e, &cfg, d("2027-03-02")).is_empty());
        // Never exposed: nothing.
        let facts = FactsBuilder::new().build();
        let e = Exposure::from_facts(&facts, &cfg);
        assert!(check_patient_view(&facts, &e, &cfg, today).is_empty());
    }
}
