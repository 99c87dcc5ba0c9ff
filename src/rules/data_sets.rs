//! The data sets of a hook call, each declared once in [`DATA_SETS`]: its prefetch key, the FHIR
//! resource types it may hold, its query and the hooks that ask for it. The rules a gap in it
//! leaves unchecked are not listed here: each rule declares the data it cannot be checked without
//! (`NEEDS` in its file, listed in the registry `RULES` of `rules/mod.rs`) and
//! [`DataSet::blocks`] derives them.
//!
//! Everything else reads this table: [`DataSet::key`] and [`DataSet::blocks`] here, the prefetch
//! templates and the discovery document (`services.rs`, which turns [`DataQuery`] into the query
//! text, the observation codes from the terminology), and `fhir::gather` (which key to read, which
//! resource types to keep, a read or a search). A new data set is one new row (and its
//! [`DataSet`] variant).
//!
//! The rules only name the data; the codes of an observation query are the terminology's
//! ([`ObservationCodes`] says which value set), so a code the terminology accepts for the liver
//! panel is always one the `liverLabs` query asks for.

use super::facts::{DataSet, HookKind};
use super::{RuleCode, RULES};

/// One data set: everything about it, in one place.
#[derive(Debug, PartialEq, Eq)]
pub struct DataSetSpec {
    pub set: DataSet,
    /// The prefetch key of docs/wire-contract.md §Prefetch templates (also the query's name in
    /// logs, audits and data-unavailable cards).
    pub key: &'static str,
    /// The resource types it may hold; other resources in it are ignored unread (a prefetch
    /// Bundle's `_include`d Medications are read for the index whatever the set).
    pub resource_types: &'static [&'static str],
    pub query: DataQuery,
    /// The hooks whose services ask for it.
    pub hooks: &'static [HookKind],
}

/// The FHIR query of a data set, with `{{context.patientId}}` as its only token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataQuery {
    /// `<type>/{{context.patientId}}`: one resource, read (not a Bundle).
    Read(&'static str),
    /// `<type>?patient={{context.patientId}}`.
    Search(&'static str),
    /// `Observation?patient={{context.patientId}}&code=<the value set's codes>&_sort=-date`.
    Observations(ObservationCodes),
}

impl DataQuery {
    /// The resource type a prefetch of this query must be when it is one resource (a read).
    pub fn single_resource(self) -> Option<&'static str> {
        match self {
            DataQuery::Read(ty) => Some(ty),
            DataQuery::Search(_) | DataQuery::Observations(_) => None,
        }
    }
}

/// Which of the terminology's value sets an observation query lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservationCodes {
    /// Every liver-panel code the terminology accepts, local codes included.
    LiverLabs,
    /// Every blood-pressure code the terminology accepts (`Terminology::blood_pressure_query_codes`).
    BloodPressure,
}

const ORDERS: &[HookKind] = &[HookKind::OrderSign, HookKind::OrderSelect];

/// The data sets, in the order of the prefetch templates, the discovery document, the queries
/// and the data-unavailable findings. `bloodPressure` is not in the contract's list but allowed by
/// it (vital signs), for the ema-2020 uncontrolled-hypertension check.
pub static DATA_SETS: [DataSetSpec; 8] = [
    DataSetSpec {
        set: DataSet::Patient,
        key: "patient",
        resource_types: &["Patient"],
        query: DataQuery::Read("Patient"),
        hooks: ORDERS,
    },
    DataSetSpec {
        set: DataSet::Conditions,
        key: "conditions",
        resource_types: &["Condition"],
        query: DataQuery::Search("Condition"),
        hooks: ORDERS,
    },
    DataSetSpec {
        set: DataSet::MedicationRequests,
        key: "medicationRequests",
        resource_types: &["MedicationRequest"],
        query: DataQuery::Search("MedicationRequest"),
        hooks: &HookKind::ALL,
    },
    DataSetSpec {
        set: DataSet::MedicationStatements,
        key: "medicationStatements",
        resource_types: &["MedicationStatement"],
        query: DataQuery::Search("MedicationStatement"),
        hooks: &HookKind::ALL,
    },
    DataSetSpec {
        set: DataSet::MedicationAdministrations,
        key: "medicationAdministrations",
        resource_types: &["MedicationAdministration"],
        query: DataQuery::Search("MedicationAdministration"),
        hooks: &HookKind::ALL,
    },
    DataSetSpec {
        set: DataSet::LiverLabs,
        key: "liverLabs",
        resource_types: &["Observation"],
        query: DataQuery::Observations(ObservationCodes::LiverLabs),
        hooks: &HookKind::ALL,
    },
    DataSetSpec {
        set: DataSet::BloodPressure,
        key: "bloodPressure",
        resource_types: &["Observation"],
        query: DataQuery::Observations(ObservationCodes::BloodPressure),
        hooks: ORDERS,
    },
    // Hypersensitivity is an order check: patient-view does not ask for allergies.
    DataSetSpec {
        set: DataSet::Allergies,
        key: "allergies",
        resource_types: &["AllergyIntolerance"],
        query: DataQuery::Search("AllergyIntolerance"),
        hooks: ORDERS,
    },
];

impl DataSet {
    /// Its row of [`DATA_SETS`]; `None` for a `Medication` or an unreadable resource.
    pub fn spec(&self) -> Option<&'static DataSetSpec> {
        DATA_SETS.iter().find(|s| s.set == *self)
    }

    /// The data set behind a prefetch key.
    pub fn from_key(key: &str) -> Option<DataSet> {
        DATA_SETS
            .iter()
            .find(|s| s.key == key)
            .map(|s| s.set.clone())
    }

    /// The rules that cannot be checked without this data, in the registry's order (`RULES`,
    /// `rules/mod.rs`): those that declare they need it. A missing `Medication`, or a resource
    /// present but unreadable, leaves unchecked anything it might have been evidence for: every
    /// rule that needs some data.
    pub fn blocks(&self) -> Vec<RuleCode> {
        let named = self.spec().is_some();
        RULES
            .iter()
            .filter(|rule| {
                if named {
                    rule.needs.contains(self)
                } else {
                    !rule.needs.is_empty()
                }
            })
            .map(|rule| rule.code)
            .collect()
    }

    /// The prefetch key / query name of this data set, or the reference of a `Medication` or an
    /// unreadable resource.
    pub fn key(&self) -> &str {
        match self {
            DataSet::Medication(r) | DataSet::Resource(r) => r,
            named => named.spec().map_or("", |s| s.key),
        }
    }

    /// The resource types it may hold (a `Medication` gap: `Medication`).
    pub fn resource_types(&self) -> &'static [&'static str] {
        self.spec().map_or(&["Medication"], |s| s.resource_types)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every named variant, by an exhaustive match: a new variant without a row fails here.
    fn named(set: &DataSet) -> bool {
        match set {
            DataSet::Patient
            | DataSet::Conditions
            | DataSet::MedicationRequests
            | DataSet::MedicationStatements
            | DataSet::MedicationAdministrations
            | DataSet::LiverLabs
            | DataSet::BloodPressure
            | DataSet::Allergies => true,
            DataSet::Medication(_) | DataSet::Resource(_) => false,
        }
    }

    #[test]
    fn each_data_set_has_one_row_and_one_key() {
        let sets = [
            DataSet::Patient,
            DataSet::Conditions,
            DataSet::MedicationRequests,
            DataSet::MedicationStatements,
            DataSet::MedicationAdministrations,
            DataSet::LiverLabs,
            DataSet::BloodPressure,
            DataSet::Allergies,
        ];
        assert!(sets.iter().all(named));
        assert_eq!(sets.len(), DATA_SETS.len());
        for set in &sets {
            let rows = DATA_SETS.iter().filter(|s| s.set == *set).count();
            assert_eq!(rows, 1, "{set:?}");
            let spec = set.spec().unwrap();
            assert_eq!(DataSet::from_key(spec.key).as_ref(), Some(set));
            assert_eq!(set.key(), spec.key);
            assert!(!spec.hooks.is_empty(), "{set:?}");
        }
        let m = DataSet::Medication("Medication/x".into());
        assert_eq!(m.key(), "Medication/x");
        assert_eq!(m.spec(), None);
        assert_eq!(DataSet::from_key("Medication/x"), None);
    }

    /// A data set no rule needs would be gathered for nothing, and one a rule needs must be
    /// gathered: the registry's needs and the table agree.
    #[test]
    fn every_data_set_is_needed_and_every_need_is_gathered() {
        for spec in &DATA_SETS {
            assert!(!spec.set.blocks().is_empty(), "no rule needs {}", spec.key);
        }
        for rule in &RULES {
            for set in rule.needs {
                assert!(set.spec().is_some(), "{:?} needs {set:?}", rule.code);
            }
        }
    }
}
