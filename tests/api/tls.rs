//! HTTPS served directly (issue 5, item 7): rustls with a certificate issued in the test by a
//! throw-away CA, checked by a client that trusts only that CA; certificate renewal without a
//! restart (counted in `cds_tls_reloads_total`); no plain HTTP on a TLS port; TLS 1.2 and 1.3
//! negotiated, TLS 1.0 and 1.1 refused; the certificate's expiry exported and an expired one
//! logged as an error.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

use crate::helpers::{binary, fixture_hook, spawn_app_with, ServedBinary, TestApp};

/// A throw-away certificate authority, as a hospital PKI would be.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate (PEM chain: the certificate, then the CA), its key, and its DER.
struct Leaf {
    chain_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Ca {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "alemtuzumab-cds test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    /// A server certificate for 127.0.0.1, valid until 1 January of `valid_until_year`.
    fn leaf(&self, name: &str, valid_until_year: i32) -> Leaf {
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.not_after = rcgen::date_time_ymd(valid_until_year, 1, 1);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            chain_pem: format!("{}{}", cert.pem(), self.issuer.pem()),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// A client that trusts this CA only and reports the peer certificate.
    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_der(self.issuer.der()).unwrap()])
            .tls_info(true)
            .https_only(true)
            .build()
            .unwrap()
    }
}

struct Files {
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn in_dir(dir: &Path) -> Self {
        Self {
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
        }
    }

    fn write(&self, leaf: &Leaf) {
        std::fs::write(&self.cert, &leaf.chain_pem).unwrap();
        std::fs::write(&self.key, &leaf.key_pem).unwrap();
    }
}

async fn https_app(ca: &Ca, files: &Files, reload_secs: u64) -> TestApp {
    let (cert, key) = (
        files.cert.display().to_string(),
        files.key.display().to_string(),
    );
    let mut app = spawn_app_with(move |raw| {
        raw.server.tls_cert_file = cert;
        raw.server.tls_key_file = key;
        raw.server.tls_reload_secs = reload_secs;
    })
    .await;
    assert!(app.address.starts_with("https://"), "{}", app.address);
    app.client = ca.client();
    app
}

/// The certificate the service presents to a new client (a new client, because a client that
/// resumes a TLS session is not shown the certificate again and reports the one it saw first).
async fn served_certificate(ca: &Ca, app: &TestApp) -> Vec<u8> {
    let r = ca
        .client()
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("an HTTPS answer");
    assert_eq!(r.status(), 200);
    r.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("a TLS peer certificate")
        .to_vec()
}

/// `cds_tls_certificate_expiry_timestamp_seconds` for the configured certificate file, from
/// `/metrics` (the metric is labelled by file, so tests running side by side do not mix).
async fn expiry_metric(app: &TestApp, files: &Files) -> Option<f64> {
    let text = app.get("/metrics").await.text().await.unwrap();
    let prefix = format!(
        "cds_tls_certificate_expiry_timestamp_seconds{{file=\"{}\"}} ",
        files.cert.display()
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().parse().unwrap())
}

/// `cds_tls_reloads_total{outcome=…}` from `/metrics` (0 when not yet registered).
async fn reloads(app: &TestApp, outcome: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    let prefix = format!("cds_tls_reloads_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// 1 January of `year`, 00:00 UTC, in seconds since the epoch.
fn new_year(year: i32) -> f64 {
    chrono::NaiveDate::from_ymd_opt(year, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp() as f64
}

async fn wait_for_certificate(ca: &Ca, app: &TestApp, der: &[u8], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while served_certificate(ca, app).await != der {
        assert!(Instant::now() < deadline, "{what}: never served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn hooks_are_answered_over_https_with_the_configured_certificate() {
    let ca = Ca::new();
    let leaf = ca.leaf("cds.hospital.test", 2031);
    let dir = tempfile::tempdir().unwrap();
    let files = Files::in_dir(dir.path());
    files.write(&leaf);
    let app = https_app(&ca, &files, 0).await;

    assert_eq!(served_certificate(&ca, &app).await, leaf.der);
    // Hospital IT can alert on the certificate's end of validity.
    assert_eq!(expiry_metric(&app, &files).await, Some(new_year(2031)));
    let discovery = app.get("/cds-services").await;
    assert_eq!(discovery.status(), 200);
    let r = app
        .post_hook(
            "alemtuzumab-order-sign",
            &fixture_hook("naive-one-dmt--order-sign.json"),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        !body["cards"].as_array().unwrap().is_empty(),
        "cards over HTTPS: {body}"
    );

    // A client that does not trust the hospital's CA is not fooled into talking.
    let untrusting = reqwest::Client::new();
    let err = untrusting
        .get(format!("{}/cds-services", app.address))
        .send()
        .await
        .expect_err("an unknown CA is refused by the client");
    assert!(err.is_connect(), "{err:?}");

    // No plain HTTP on the TLS port: the request gets no HTTP answer at all.
    let plain = app.address.replacen("https://", "http://", 1);
    let r = reqwest::Client::new()
        .get(format!("{plain}/cds-services"))
        .send()
        .await;
    assert!(r.is_err(), "plain HTTP answered on the TLS port: {r:?}");
    // ...and the service is still up for HTTPS afterwards.
    assert_eq!(app.get("/cds-services").await.status(), 200);
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_and_a_half_rotation_is_ignored() {
    let ca = Ca::new();
    let dir = tempfile::tempdir().unwrap();
    let files = Files::in_dir(dir.path());
    let first = ca.leaf("first", 2031);
    files.write(&first);
    let app = https_app(&ca, &files, 1).await;
    assert_eq!(served_certificate(&ca, &app).await, first.der);

    let loaded_before = reloads(&app, "loaded").await;
    let second = ca.leaf("second", 2032);
    files.write(&second);
    wait_for_certificate(&ca, &app, &second.der, "the renewed certificate").await;
    assert!(
        reloads(&app, "loaded").await > loaded_before,
        "cds_tls_reloads_total{{outcome=\"loaded\"}} did not count the renewal"
    );
    assert_eq!(expiry_metric(&app, &files).await, Some(new_year(2032)));

    // A rotation half done: the new certificate is in place, its key not yet. The pair does not
    // match, so the service keeps presenting (and being able to use) the previous pair.
    // The reloader has seen the half rotation once it counts it as rejected
    // (`cds_tls_reloads_total{outcome="rejected"}`; only this test reloads in this process).
    let rejected_before = reloads(&app, "rejected").await;
    let third = ca.leaf("third", 2033);
    std::fs::write(&files.cert, &third.chain_pem).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while reloads(&app, "rejected").await <= rejected_before {
        assert!(
            Instant::now() < deadline,
            "the half rotation was never rejected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        served_certificate(&ca, &app).await,
        second.der,
        "a mismatched pair must not be loaded"
    );
    let r = app
        .post_hook(
            "alemtuzumab-patient-view",
            &fixture_hook("exposed-monitoring-overdue--patient-view.json"),
        )
        .await;
    assert_eq!(r.status(), 200);

    // The key arrives: the rotation completes.
    std::fs::write(&files.key, &third.key_pem).unwrap();
    wait_for_certificate(&ca, &app, &third.der, "the completed rotation").await;
    assert_eq!(expiry_metric(&app, &files).await, Some(new_year(2033)));
}

#[test]
fn the_binary_serves_https_and_says_loudly_that_its_certificate_has_expired() {
    let ca = Ca::new();
    let expired = ca.leaf("expired", 2020);
    let dir = tempfile::tempdir().unwrap();
    let files = Files::in_dir(dir.path());
    files.write(&expired);
    let mut cmd = binary();
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("ALEMTUZUMAB_CDS__LOG__FORMAT", "json")
        .env("ALEMTUZUMAB_CDS__SERVER__TLS_CERT_FILE", &files.cert)
        .env("ALEMTUZUMAB_CDS__SERVER__TLS_KEY_FILE", &files.key);
    // It starts: an expired certificate is not fatal (the log says what to do).
    let served = ServedBinary::start(cmd);
    let log = served.log();
    let listening = log
        .iter()
        .find(|v| v["message"] == "alemtuzumab-cds listening")
        .expect("the listening line");
    let expiry_error = log
        .iter()
        .any(|v| v["level"] == "ERROR" && v["message"].as_str().unwrap_or("").contains("EXPIRED"));
    assert_eq!(listening["scheme"], "https", "{listening}");
    assert!(
        expiry_error,
        "an expired certificate is logged at error level"
    );
}

/// A rustls client limited to `version` (and trusting `ca` only) connects to `port`; returns the
/// protocol version the handshake settled on.
fn negotiate(
    ca_der: Vec<u8>,
    port: u16,
    version: &'static rustls::SupportedProtocolVersion,
) -> Option<rustls::ProtocolVersion> {
    use std::io::Write;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca_der))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[version])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).expect("the TLS handshake");
    }
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    conn.protocol_version()
}

/// A ClientHello built by hand (RFC 5246 §7.4.1.2) offering `version` as `client_version` and no
/// `supported_versions` extension, which is how a TLS 1.0 or 1.1 client asks: ECDHE-ECDSA and
/// ECDHE-RSA AES-GCM and AES-CBC suites, x25519 and P-256, common signature schemes. rustls (used
/// by the test client above) cannot offer TLS 1.0 or 1.1 at all, so the old versions are spoken
/// byte by byte.
fn client_hello(version: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // no session id
    let suites: [u16; 7] = [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xc009, 0xc013, 0x002f];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    let mut ext = Vec::new();
    // supported_groups: x25519, secp256r1
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    // ec_point_formats: uncompressed
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256,
    // ecdsa_secp384r1_sha384
    ext.extend_from_slice(&[
        0x00, 0x0d, 0x00, 0x0a, 0x00, 0x08, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03,
    ]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut handshake = vec![1]; // client_hello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01]; // handshake record, TLS 1.0 record layer
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// What the server answers first to `hello`: its first 11 bytes (enough for an alert record, or
/// a handshake record's type and the ServerHello's version), fewer if it closes before.
fn first_answer(port: u16, hello: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    sock.write_all(hello).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < 11 {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no answer to the ClientHello: {e}"),
        }
    }
    got.truncate(11);
    got
}

/// README §Security "TLS 1.2 and 1.3, rustls": a client limited to TLS 1.3, or to TLS 1.2, gets
/// that version; a ClientHello for TLS 1.0 or TLS 1.1 gets a fatal `protocol_version` alert
/// (RFC 5246 §7.2.2, code 70) while the same bytes asking for TLS 1.2 get a ServerHello (so the
/// refusal is about the version, not a malformed hello).
#[tokio::test]
async fn only_tls_1_2_and_1_3_are_negotiated() {
    let ca = Ca::new();
    let leaf = ca.leaf("versions", 2031);
    let dir = tempfile::tempdir().unwrap();
    let files = Files::in_dir(dir.path());
    files.write(&leaf);
    let app = https_app(&ca, &files, 0).await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let ca_der = ca.issuer.der().to_vec();
    tokio::task::spawn_blocking(move || {
        assert_eq!(
            negotiate(ca_der.clone(), port, &rustls::version::TLS13),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
        assert_eq!(
            negotiate(ca_der, port, &rustls::version::TLS12),
            Some(rustls::ProtocolVersion::TLSv1_2)
        );
        // Control: the hand-built hello asking for TLS 1.2 is answered with a ServerHello for
        // TLS 1.2: handshake record (22), handshake type server_hello (2), version 3.3.
        let answer = first_answer(port, &client_hello(0x0303));
        assert_eq!(answer.len(), 11, "{answer:02x?}");
        assert_eq!(
            (answer[0], answer[5], answer[9], answer[10]),
            (0x16, 2, 3, 3),
            "{answer:02x?}"
        );
        for (name, version) in [("TLS 1.0", 0x0301), ("TLS 1.1", 0x0302)] {
            let answer = first_answer(port, &client_hello(version));
            // An alert record (21) of 2 bytes: fatal (2), protocol_version (70).
            assert!(answer.len() >= 7, "{name}: {answer:02x?}");
            assert_eq!(
                (answer[0], answer[3], answer[4], answer[5], answer[6]),
                (0x15, 0, 2, 2, 70),
                "{name}: {answer:02x?}"
            );
        }
    })
    .await
    .unwrap();
    // The service still serves a good client afterwards.
    assert_eq!(served_certificate(&ca, &app).await, leaf.der);
}
