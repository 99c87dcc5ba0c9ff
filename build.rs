//! One build-time switch for the test suite: `ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS=1` marks the tests
//! that need a real FHIR server (hfs) or PostgreSQL as ignored, so `cargo test` says in its
//! summary line how many were not run. Without it those tests fail loudly when the server is
//! missing (`scripts/test` installs both). Nothing in the service itself depends on it.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(skip_real_servers)");
    println!("cargo::rerun-if-env-changed=ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS");
    println!("cargo::rerun-if-changed=build.rs");
    let skip =
        std::env::var("ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS").is_ok_and(|v| !v.is_empty() && v != "0");
    if skip {
        println!("cargo::rustc-cfg=skip_real_servers");
    }
}
