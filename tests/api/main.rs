//! HTTP-level tests: each starts the real service on a random loopback port and talks to it
//! with reqwest. One integration binary (as ripgrep and zero-to-production do).

mod auth;
mod bounds;
mod check;
mod cli;
mod clinical;
mod discovery;
mod errors;
mod faults;
mod feedback;
mod fhir_fetch;
mod fhir_proxy;
mod fhir_server;
mod fuzz;
mod hardening;
mod helpers;
mod hooks;
mod promises;
mod real_client;
mod reliability;
mod reliability_soak;
mod reliability_store;
mod report_html;
mod sandbox_bench;
mod sandbox_e2e;
mod security;
mod store_pg;
mod tls;
