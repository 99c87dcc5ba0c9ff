//! HTTPS served directly (issue 5, item 7): rustls with a certificate issued in the test by a
//! throw-away CA, checked by a client that trusts only that CA; certificate renewal without a
//! restart; no plain HTTP on a TLS port.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

use crate::helpers::{fixture_hook, spawn_app_with, TestApp};

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

    fn leaf(&self, name: &str) -> Leaf {
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
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
    let leaf = ca.leaf("cds.hospital.test");
    let dir = tempfile::tempdir().unwrap();
    let files = Files::in_dir(dir.path());
    files.write(&leaf);
    let app = https_app(&ca, &files, 0).await;

    assert_eq!(served_certificate(&ca, &app).await, leaf.der);
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
    let first = ca.leaf("first");
    files.write(&first);
    let app = https_app(&ca, &files, 1).await;
    assert_eq!(served_certificate(&ca, &app).await, first.der);

    let second = ca.leaf("second");
    files.write(&second);
    wait_for_certificate(&ca, &app, &second.der, "the renewed certificate").await;

    // A rotation half done: the new certificate is in place, its key not yet. The pair does not
    // match, so the service keeps presenting (and being able to use) the previous pair.
    let third = ca.leaf("third");
    std::fs::write(&files.cert, &third.chain_pem).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
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
}
