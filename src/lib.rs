//! alemtuzumab-cds: a CDS Hooks 2.0 service that stops unsafe alemtuzumab (Lemtrada) prescribing.
//!
//! `rules` decides what is unsafe, `fhir` gets the facts, `cards` shows the findings, `web`
//! joins them through `pipeline`; `wire` holds the CDS Hooks JSON shapes, `config` the settings.

pub mod admin;
pub mod auth;
pub mod cards;
pub mod check;
pub mod cli;
pub mod config;
pub mod config_error;
pub mod fhir;
#[cfg(test)]
mod layers;
pub mod net;
pub mod pipeline;
pub mod redact;
pub mod report;
pub mod rules;
pub mod services;
pub mod simulate;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod terminology;
pub mod tls;
pub mod web;
pub mod wire;
