//! alemtuzumab-cds: a CDS Hooks 2.0 service that stops unsafe alemtuzumab (Lemtrada) prescribing.
//!
//! `rules` decides what is unsafe, `fhir` gets the facts, `cards` shows the findings, `web` joins
//! them; `wire` holds the CDS Hooks JSON shapes.

pub mod cards;
pub mod rules;
pub mod wire;
