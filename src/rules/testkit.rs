//! Concise test facts for the rules' unit tests.
#![allow(dead_code)]

use chrono::NaiveDate;

use super::facts::*;

/// `"2024-06-01"` → date (tests only).
pub(crate) fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

fn od(s: Option<&str>) -> Option<NaiveDate> {
    s.map(d)
}

/// The usual order date of the tests.
pub(crate) const ORDER_DATE: &str = "2024-06-01";

pub(crate) fn order(date: &str) -> DraftOrder {
    DraftOrder {
        identified_by_display: false,
        reference: "MedicationRequest/draft-1".into(),
        label: "Lemtrada 12 mg".into(),
        authored_on: Some(d(date)),
        campath: false,
    }
}

pub(crate) fn condition(class: ConditionClass, label: &str) -> ConditionFact {
    ConditionFact {
        reference: format!("Condition/{}", label.replace(' ', "-")),
        label: label.into(),
        classes: vec![class],
        clinical_status: ClinicalStatus::Active,
        verification: Verification::Confirmed,
        onset: None,
    }
}

/// An alemtuzumab administration (completed) on `start`.
pub(crate) fn alemtuzumab(start: Option<&str>) -> MedicationFact {
    MedicationFact {
        intent: None,
        reference: format!(
            "MedicationAdministration/alem-{}",
            start.unwrap_or("undated")
        ),
        source: MedicationSource::Administration,
        class: MedicationClass::Alemtuzumab { campath: false },
        label: "Lemtrada".into(),
        status: MedicationStatus::Completed,
        start: od(start),
        end: None,
        stop_reason: StopReason::None,
    }
}

/// A DMT statement: completed when it has an end, active otherwise.
pub(crate) fn dmt(ingredient: &str, start: Option<&str>, end: Option<&str>) -> MedicationFact {
    MedicationFact {
        intent: None,
        reference: format!(
            "MedicationStatement/{}-{}",
            ingredient.replace(' ', "-"),
            start.unwrap_or("undated")
        ),
        source: MedicationSource::Statement,
        class: MedicationClass::Dmt {
            ingredient: ingredient.into(),
        },
        label: ingredient.into(),
        status: if end.is_some() {
            MedicationStatus::Completed
        } else {
            MedicationStatus::Active
        },
        start: od(start),
        end: od(end),
        stop_reason: StopReason::None,
    }
}

pub(crate) fn antithrombotic(start: Option<&str>, status: MedicationStatus) -> MedicationFact {
    MedicationFact {
        intent: None,
        reference: "MedicationRequest/apixaban".into(),
        source: MedicationSource::Request,
        class: MedicationClass::Antithrombotic,
        label: "Apixaban 5 mg".into(),
        status,
        start: od(start),
        end: None,
        stop_reason: StopReason::None,
    }
}

/// A final lab result in the default unit (U/L, µmol/L for bilirubin), no reference range.
pub(crate) fn lab(test: LabTest, value: f64, date: &str) -> LabFact {
    LabFact {
        reference: format!("Observation/{test:?}-{date}-{value}"),
        test,
        value: Some(value),
        unit: Some(
            match test {
                LabTest::TotalBilirubin => "µmol/L",
                _ => "U/L",
            }
            .into(),
        ),
        date: Some(d(date)),
        reference_high: None,
        status: ObservationStatus::Final,
    }
}

pub(crate) fn bp(systolic: f64, diastolic: f64, date: &str) -> BloodPressureFact {
    BloodPressureFact {
        reference: format!("Observation/bp-{date}"),
        systolic: Some(systolic),
        diastolic: Some(diastolic),
        date: Some(d(date)),
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct FactsBuilder {
    facts: PatientFacts,
}

impl FactsBuilder {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// An adult with RRMS, two full DMT courses and a normal panel 10 days before [`ORDER_DATE`]:
    /// eligible under both profiles.
    pub(crate) fn eligible() -> Self {
        Self::new()
            .born("1990-05-05")
            .ms(MsType::RelapsingRemitting)
            .med(dmt(
                "interferon beta-1a",
                Some("2015-01-01"),
                Some("2017-01-01"),
            ))
            .med(dmt("fingolimod", Some("2017-02-01"), Some("2023-12-01")))
            .panel("2024-05-22")
            .bp(120.0, 80.0, "2024-05-22")
    }

    pub(crate) fn born(mut self, date: &str) -> Self {
        self.facts.birth_date = Some(d(date));
        self
    }

    pub(crate) fn cond(mut self, c: ConditionFact) -> Self {
        self.facts.conditions.push(c);
        self
    }

    pub(crate) fn class(self, class: ConditionClass, label: &str) -> Self {
        self.cond(condition(class, label))
    }

    pub(crate) fn ms(self, t: MsType) -> Self {
        self.class(ConditionClass::Ms(t), &format!("MS {t:?}"))
    }

    pub(crate) fn med(mut self, m: MedicationFact) -> Self {
        self.facts.medications.push(m);
        self
    }

    pub(crate) fn dmt(self, ingredient: &str, start: Option<&str>, end: Option<&str>) -> Self {
        self.med(dmt(ingredient, start, end))
    }

    pub(crate) fn lab(mut self, l: LabFact) -> Self {
        self.facts.labs.push(l);
        self
    }

    /// Normal ALT, AST and bilirubin on `date`.
    pub(crate) fn panel(self, date: &str) -> Self {
        self.lab(lab(LabTest::Alt, 25.0, date))
            .lab(lab(LabTest::Ast, 22.0, date))
            .lab(lab(LabTest::TotalBilirubin, 10.0, date))
    }

    pub(crate) fn bp(mut self, systolic: f64, diastolic: f64, date: &str) -> Self {
        self.facts
            .blood_pressures
            .push(bp(systolic, diastolic, date));
        self
    }

    pub(crate) fn gap(mut self, data: DataSet) -> Self {
        self.facts.gaps.push(DataGap {
            data,
            reason: GapReason::Timeout,
        });
        self
    }

    pub(crate) fn build(self) -> PatientFacts {
        self.facts
    }
}
