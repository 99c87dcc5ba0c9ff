//! HTTP-level tests: each starts the real service on a random loopback port and talks to it
//! with reqwest. One integration binary (as ripgrep and zero-to-production do).

mod auth;
mod cli;
mod discovery;
mod errors;
mod fuzz;
mod helpers;
mod hooks;
mod real_client;
mod security;
