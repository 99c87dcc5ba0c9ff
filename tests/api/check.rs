//! Issue 15 §2: `alemtuzumab-cds check`, the installer's pre-flight. Each FAIL is produced by a
//! real dependency made unreachable or wrong (a closed loopback port, an HTTP server that is not
//! FHIR, a malformed JWKS file, an expired or mismatched TLS pair, an SQLite directory that
//! cannot be created, a PostgreSQL URL to a closed port); a sound configuration passes with
//! exit code 0, a failing one exits 1.

use std::path::Path;

use rcgen::{CertificateParams, KeyPair};

use crate::auth::{ec_key, jwks, JwksServer};
use crate::fhir_server::free_port;
use crate::helpers::{binary, spawn_app};

/// `check --config <dir>/config.toml` with `toml` (the store in `dir` unless `toml` says
/// otherwise): exit success and standard output.
async fn check(dir: &Path, toml: &str) -> (bool, String) {
    let config = dir.join("config.toml");
    let data = dir.join("data");
    let text = if toml.contains("[store]") {
        toml.to_owned()
    } else {
        format!("{toml}\n[store]\ndata_dir = \"{}\"\n", data.display())
    };
    std::fs::write(&config, text).expect("config written");
    let mut cmd = binary();
    cmd.arg("check")
        .arg("--config")
        .arg(&config)
        .env_remove("ALEMTUZUMAB_CDS__STORE__DATA_DIR");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("check task")
        .expect("check runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("pre-flight") && stderr.contains("FAIL"),
            "a failing check says so: {stderr}"
        );
    }
    (out.status.success(), stdout)
}

/// The line of `check` (first column status, then the check's name) and the fix under it.
fn line<'a>(out: &'a str, status: &str, check: &str) -> &'a str {
    out.lines()
        .find(|l| {
            l.starts_with(status)
                && l.get(6..)
                    .is_some_and(|rest| rest.trim_start().starts_with(check))
        })
        .unwrap_or_else(|| panic!("no {status} {check} line in:\n{out}"))
}

fn fix_after<'a>(out: &'a str, status: &str, check: &str) -> &'a str {
    let l = line(out, status, check);
    let mut lines = out.lines().skip_while(|x| *x != l);
    lines.next();
    lines
        .next()
        .filter(|x| x.trim_start().starts_with("fix:"))
        .unwrap_or_else(|| panic!("no fix under {l}:\n{out}"))
}

#[tokio::test]
async fn a_sound_local_configuration_passes_with_exit_code_0() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = check(dir.path(), "[server]\nbind = \"127.0.0.1:8080\"\n").await;
    assert!(ok, "{out}");
    line(&out, "PASS", "configuration");
    assert!(line(&out, "PASS", "store").contains("writable"), "{out}");
    line(&out, "WARN", "mode");
    fix_after(&out, "WARN", "mode");
    line(&out, "PASS", "public_url");
    assert!(out.contains("0 FAIL: ready to register"), "{out}");
    assert!(!out.contains("FAIL "), "{out}");
}

#[tokio::test]
async fn an_unreachable_fhir_server_and_one_that_is_not_fhir_fail() {
    let dir = tempfile::tempdir().unwrap();
    let closed = free_port();
    // A real HTTP server that is not a FHIR server: this service itself (its /metadata is 404).
    let not_fhir = spawn_app().await;
    let toml = format!(
        "[fhir]\nallowed_servers = [\"http://127.0.0.1:{closed}/fhir\", \"{}/r4\"]\n",
        not_fhir.address
    );
    let (ok, out) = check(dir.path(), &toml).await;
    assert!(!ok, "{out}");
    assert!(
        line(
            &out,
            "FAIL",
            &format!("fhir http://127.0.0.1:{closed}/fhir")
        )
        .contains("unreachable"),
        "{out}"
    );
    fix_after(
        &out,
        "FAIL",
        &format!("fhir http://127.0.0.1:{closed}/fhir"),
    );
    assert!(
        line(&out, "FAIL", &format!("fhir {}/r4", not_fhir.address)).contains("not a FHIR"),
        "{out}"
    );
    assert!(out.contains("NOT ready"), "{out}");
}

#[tokio::test]
async fn a_json_answer_that_is_not_a_capability_statement_fails() {
    let dir = tempfile::tempdir().unwrap();
    let server = JwksServer::start("{\"keys\": []}".to_owned()).await;
    let toml = format!("[fhir]\nallowed_servers = [\"{}/fhir\"]\n", server.base);
    let (ok, out) = check(dir.path(), &toml).await;
    assert!(!ok, "{out}");
    assert!(
        line(&out, "FAIL", "fhir").contains("not a FHIR CapabilityStatement"),
        "{out}"
    );
}

fn issuer_toml(keys: &str, extra: &str) -> String {
    format!(
        "[server]\npublic_url = \"https://cds.hospital.example\"\n\n[[auth.issuers]]\niss = \"https://ehr.example\"\n{keys}\n{extra}\n"
    )
}

#[tokio::test]
async fn jwks_are_fetched_and_described_and_broken_ones_fail() {
    let dir = tempfile::tempdir().unwrap();
    let key = ec_key("ehr-2026");
    let good = JwksServer::start(jwks(&[&key])).await;
    let not_jwks = JwksServer::start("{\"status\": \"ok\"}".to_owned()).await;
    let closed = free_port();

    // A reachable JWKS passes with its kid, algorithm and curve; an unreachable jku fails.
    let toml = issuer_toml(
        &format!("jwks_url = \"{}/jwks.json\"", good.base),
        &format!("jku_allow = [\"http://127.0.0.1:{closed}/jwks\"]"),
    );
    let (ok, out) = check(dir.path(), &toml).await;
    assert!(!ok, "{out}");
    let pass = line(&out, "PASS", "jwks https://ehr.example");
    assert!(
        pass.contains("ehr-2026") && pass.contains("ES384") && pass.contains("P384"),
        "{out}"
    );
    assert!(
        line(&out, "FAIL", "jku https://ehr.example").contains("unreachable"),
        "{out}"
    );
    line(&out, "PASS", "mode");

    // A URL answering JSON that is not a JWKS, and one nobody listens on.
    for url in [
        format!("{}/jwks.json", not_jwks.base),
        format!("http://127.0.0.1:{closed}/jwks.json"),
    ] {
        let (ok, out) = check(
            dir.path(),
            &issuer_toml(&format!("jwks_url = \"{url}\""), ""),
        )
        .await;
        assert!(!ok, "{out}");
        let fail = line(&out, "FAIL", "jwks https://ehr.example");
        assert!(
            fail.contains("not a JWKS") || fail.contains("unreachable"),
            "{out}"
        );
        fix_after(&out, "FAIL", "jwks https://ehr.example");
    }

    // A malformed JWKS file stops at the configuration, naming the key.
    std::fs::write(dir.path().join("ehr.jwks"), "{\"keys\": [{\"kty\": ").unwrap();
    let (ok, out) = check(dir.path(), &issuer_toml("jwks_file = \"ehr.jwks\"", "")).await;
    assert!(!ok, "{out}");
    assert!(
        line(&out, "FAIL", "configuration").contains("auth.issuers[0].jwks_file"),
        "{out}"
    );
}

fn cert(key: &KeyPair, not_after_year: i32) -> String {
    let mut params = CertificateParams::new(vec!["cds.hospital.example".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(not_after_year, 1, 1);
    params.self_signed(key).unwrap().pem()
}

#[tokio::test]
async fn an_expired_or_mismatched_tls_pair_fails_and_a_valid_one_passes() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate().unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    let tls = "[server]\nbind = \"127.0.0.1:8443\"\ntls_cert_file = \"cert.pem\"\ntls_key_file = \"key.pem\"\n";

    std::fs::write(dir.path().join("cert.pem"), cert(&key, 2021)).unwrap();
    let (ok, out) = check(
        dir.path(),
        &format!("{tls}public_url = \"https://cds.hospital.example\"\n"),
    )
    .await;
    assert!(!ok, "{out}");
    assert!(line(&out, "FAIL", "tls").contains("EXPIRED"), "{out}");

    std::fs::write(dir.path().join("cert.pem"), cert(&key, 2100)).unwrap();
    let (ok, out) = check(
        dir.path(),
        &format!("{tls}public_url = \"https://cds.hospital.example\"\n"),
    )
    .await;
    assert!(ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("PASS") && l.contains("tls") && l.contains("more days")),
        "{out}"
    );
    // An http public_url while HTTPS is served, and a host the certificate does not name.
    let (ok, out) = check(
        dir.path(),
        &format!("{tls}public_url = \"http://cds.other.example\"\n"),
    )
    .await;
    assert!(!ok, "{out}");
    line(&out, "FAIL", "public_url");
    assert!(
        line(&out, "WARN", "tls").contains("cds.other.example"),
        "{out}"
    );

    // A key that is not the certificate's.
    let other = KeyPair::generate().unwrap();
    std::fs::write(dir.path().join("key.pem"), other.serialize_pem()).unwrap();
    let (ok, out) = check(dir.path(), tls).await;
    assert!(!ok, "{out}");
    assert!(
        line(&out, "FAIL", "configuration").contains("server.tls_key_file"),
        "{out}"
    );
}

#[tokio::test]
async fn a_store_that_cannot_be_opened_fails() {
    let dir = tempfile::tempdir().unwrap();
    // A directory that cannot be created, even by root: its parent is a file.
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    let toml = format!(
        "[store]\ndata_dir = \"{}\"\n",
        dir.path().join("a-file").join("data").display()
    );
    let (ok, out) = check(dir.path(), &toml).await;
    assert!(!ok, "{out}");
    assert!(
        line(&out, "FAIL", "store").contains("cannot create"),
        "{out}"
    );
    fix_after(&out, "FAIL", "store");

    // PostgreSQL on a closed port.
    let closed = free_port();
    let toml = format!(
        "[store]\nurl = \"postgres://cds:secret@127.0.0.1:{closed}/cds\"\nconnect_timeout_ms = 1000\n"
    );
    let (ok, out) = check(dir.path(), &toml).await;
    assert!(!ok, "{out}");
    let fail = line(&out, "FAIL", "store");
    assert!(fail.contains("PostgreSQL"), "{out}");
    assert!(
        !out.contains("secret"),
        "the password is not printed: {out}"
    );
}

#[cfg_attr(
    skip_real_servers,
    ignore = "ALEMTUZUMAB_CDS_SKIP_REAL_SERVERS: needs hfs"
)]
#[tokio::test]
async fn a_real_fhir_r4_server_is_recognised_with_its_searches() {
    let hfs = crate::fhir_server::hfs().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("[fhir]\nallowed_servers = [\"{}\"]\n", hfs.base);
    let (ok, out) = check(dir.path(), &toml).await;
    assert!(ok, "{out}");
    let l = out
        .lines()
        .find(|l| l.contains(&format!("fhir {}", hfs.base)))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(l.starts_with("PASS") || l.starts_with("WARN"), "{out}");
    assert!(l.contains("FHIR 4.0"), "{out}");
}

/// Run as root before the first start, check must not create the SQLite file the service (its
/// own user) would then be unable to write: it says so instead.
#[tokio::test]
async fn check_does_not_create_the_store_in_a_directory_of_another_user() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    let data = if me == 0 {
        // As root: a data directory belonging to `nobody`, as the package's belongs to its user.
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();
        data
    } else {
        // Not root: a directory of root's.
        Path::new("/").to_path_buf()
    };
    let db = data.join("alemtuzumab-cds-check-test.db");
    let toml = format!("[store]\nurl = \"sqlite://{}\"\n", db.display());
    let (ok, out) = check(dir.path(), &toml).await;
    assert!(ok, "a WARN, not a FAIL: {out}");
    assert!(line(&out, "WARN", "store").contains("not created"), "{out}");
    fix_after(&out, "WARN", "store");
    assert!(!db.exists(), "check created {}", db.display());
}
