//! Build-time switches for the test suite: `ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS=1` marks the tests
//! that need a real FHIR server (hfs) or PostgreSQL as ignored, so `cargo test` says in its
//! summary line how many were not run. Without it those tests fail loudly when the server is
//! missing (`scripts/test` installs both). `ALEMTUZUMAB_CDS_SKIP_BROWSER=1` does the same for the
//! test that drives the official CDS Hooks Sandbox in headless Chromium (`tests/api/sandbox_e2e.rs`)
//! alone. Nothing in the service itself depends on them.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(skip_real_servers)");
    println!("cargo::rustc-check-cfg=cfg(skip_browser)");
    println!("cargo::rerun-if-env-changed=ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS");
    println!("cargo::rerun-if-env-changed=ALEMTUZUMAB_CDS_SKIP_BROWSER");
    println!("cargo::rerun-if-changed=build.rs");
    // `sqlx::migrate!` (src/store/db.rs) embeds migrations/: a new file must rebuild the binary.
    println!("cargo::rerun-if-changed=migrations");
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
    if set("ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS") {
        println!("cargo::rustc-cfg=skip_real_servers");
    }
    if set("ALEMTUZUMAB_CDS_SKIP_BROWSER") {
        println!("cargo::rustc-cfg=skip_browser");
    }
}
