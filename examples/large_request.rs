//! Writes the hook benchmark's ~240 KB order-sign request to stdout, for load tools:
//! `cargo run --release --example large_request > /tmp/order-sign-240k.json` (README §Performance).

use std::io::Write;

#[path = "../benches/support/large_request.rs"]
mod large_request;

fn main() -> std::io::Result<()> {
    std::io::stdout().write_all(&large_request::large_request())
}
