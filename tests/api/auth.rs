//! The JWT attack matrix over HTTP, with keys generated in the test and a JWKS served by a
//! loopback server the test controls (so keys can rotate). Every refusal is asserted
//! separately: 401, `WWW-Authenticate: Bearer`, diagnostics exactly "unauthorized".

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P384_SHA384_FIXED_SIGNING};
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

pub const ISS: &str = "https://ehr.test.example";
pub const PUBLIC_URL: &str = "https://cds.test.example";
const SERVICE: &str = "alemtuzumab-order-sign";

/// A signing key with its public JWK.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Jwk,
    pub public_bytes: Vec<u8>,
}

fn with_kid(mut jwk: Jwk, kid: &str) -> Jwk {
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk
}

pub fn ec_key(kid: &str) -> TestKey {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let encoding = EncodingKey::from_ec_der(pkcs8.as_ref());
    let jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES384).unwrap();
    TestKey {
        kid: kid.to_owned(),
        alg: Algorithm::ES384,
        encoding,
        jwk: with_kid(jwk, kid),
        public_bytes: pair.public_key().as_ref().to_vec(),
    }
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (jsonwebtoken signs with PKCS#1).
fn pkcs1_from_pkcs8(der: &[u8]) -> Vec<u8> {
    fn header(b: &[u8], i: usize) -> (u8, usize, usize) {
        let tag = b[i];
        let first = b[i + 1] as usize;
        if first < 0x80 {
            (tag, i + 2, first)
        } else {
            let n = first & 0x7f;
            let len = b[i + 2..i + 2 + n]
                .iter()
                .fold(0usize, |acc, x| (acc << 8) | *x as usize);
            (tag, i + 2 + n, len)
        }
    }
    let (tag, start, _) = header(der, 0);
    assert_eq!(tag, 0x30);
    let (tag, s, l) = header(der, start); // version
    assert_eq!(tag, 0x02);
    let (tag, s, l) = header(der, s + l); // algorithm
    assert_eq!(tag, 0x30);
    let (tag, s, l) = header(der, s + l); // privateKey
    assert_eq!(tag, 0x04);
    der[s..s + l].to_vec()
}

pub fn rsa_key(kid: &str) -> TestKey {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let pkcs1 = pkcs1_from_pkcs8(pkcs8.as_ref());
    let encoding = EncodingKey::from_rsa_der(&pkcs1);
    let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS384).unwrap();
    TestKey {
        kid: kid.to_owned(),
        alg: Algorithm::RS384,
        encoding,
        jwk: with_kid(jwk, kid),
        public_bytes: pair.public_key().as_ref().to_vec(),
    }
}

pub fn jwks(keys: &[&TestKey]) -> String {
    serde_json::to_string(&JwkSet {
        keys: keys.iter().map(|k| k.jwk.clone()).collect(),
    })
    .unwrap()
}

/// `keys` as a JWKS file (`auth.issuers.jwks_file`) in a new temporary directory, which lives
/// as long as the returned guard; the file's path as configuration takes it.
pub fn jwks_file(keys: &[&TestKey]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(keys)).unwrap();
    (dir, path.display().to_string())
}

/// A loopback HTTP server answering every GET with the current JWKS body (or `503` while
/// failing), counting requests and recording their paths.
pub struct JwksServer {
    pub base: String,
    pub body: Arc<Mutex<String>>,
    pub hits: Arc<AtomicUsize>,
    pub failing: Arc<AtomicBool>,
    pub paths: Arc<Mutex<Vec<String>>>,
}

impl JwksServer {
    pub async fn start(body: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let body = Arc::new(Mutex::new(body));
        let hits = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let (b, h, f, p) = (body.clone(), hits.clone(), failing.clone(), paths.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (b, h, f, p) = (b.clone(), h.clone(), f.clone(), p.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf);
                    let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                    p.lock().unwrap().push(path);
                    h.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = if f.load(Ordering::SeqCst) {
                        ("503 Service Unavailable", "down".to_owned())
                    } else {
                        ("200 OK", b.lock().unwrap().clone())
                    };
                    let resp = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self {
            base,
            body,
            hits,
            failing,
            paths,
        }
    }

    pub fn url(&self) -> String {
        format!("{}/jwks.json", self.base)
    }

    pub fn set(&self, body: String) {
        *self.body.lock().unwrap() = body;
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// While failing, every request gets `503`.
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
}

/// An app with one issuer whose keys are at `server`, and `jku_allow = [server/jku.json]`.
pub async fn spawn_auth_app(server: &JwksServer, refresh_secs: u64) -> TestApp {
    let (jwks_url, jku) = (server.url(), format!("{}/jku.json", server.base));
    spawn_app_with(move |raw| {
        raw.server.public_url = PUBLIC_URL.to_owned();
        raw.auth.jwks_refresh_min_interval_secs = refresh_secs;
        raw.auth.issuers = vec![alemtuzumab_cds::config::RawIssuer {
            iss: ISS.to_owned(),
            jwks_url,
            jwks_file: String::new(),
            jku_allow: vec![jku],
            audiences: vec![],
        }];
    })
    .await
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn aud(service: &str) -> String {
    format!("{PUBLIC_URL}/cds-services/{service}")
}

/// Claims a conformant EHR sends for `service`.
pub fn claims(service: &str) -> Value {
    let now = now();
    json!({
        "iss": ISS,
        "aud": aud(service),
        "iat": now,
        "exp": now + 300,
        "jti": uuid::Uuid::new_v4().to_string(),
        "sub": "ehr-client",
        "tenant": "hospital-1",
    })
}

pub fn header(key: &TestKey) -> Header {
    let mut h = Header::new(key.alg);
    h.kid = Some(key.kid.clone());
    h
}

pub fn sign(key: &TestKey, header: &Header, claims: &Value) -> String {
    jsonwebtoken::encode(header, claims, &key.encoding).unwrap()
}

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

impl TestApp {
    pub async fn post_hook_with_token(
        &self,
        service: &str,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut r = self
            .client
            .post(format!("{}/cds-services/{service}", self.address))
            .header("Content-Type", "application/json")
            .body(fixture_hook("naive-one-dmt--order-sign.json").to_string());
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("request sent")
    }
}

async fn assert_accepted(app: &TestApp, token: &str, what: &str) {
    let r = app.post_hook_with_token(SERVICE, Some(token)).await;
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{what} must be accepted: {body}");
}

pub async fn assert_unauthorized(r: reqwest::Response, what: &str) {
    assert_eq!(r.status(), 401, "{what} must be refused");
    assert_eq!(
        r.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer"),
        "{what}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome", "{what}: {body}");
    assert_eq!(
        body["issue"][0]["diagnostics"], "unauthorized",
        "{what}: {body}"
    );
    assert_eq!(
        body["issue"].as_array().map(Vec::len),
        Some(1),
        "{what}: {body}"
    );
}

async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    assert_unauthorized(app.post_hook_with_token(SERVICE, Some(token)).await, what).await;
}

struct Matrix {
    app: TestApp,
    ec: TestKey,
    rsa: TestKey,
    _server: JwksServer,
}

async fn matrix() -> Matrix {
    let ec = ec_key("ec-1");
    let rsa = rsa_key("rsa-1");
    let server = JwksServer::start(jwks(&[&ec, &rsa])).await;
    let app = spawn_auth_app(&server, 300).await;
    Matrix {
        app,
        ec,
        rsa,
        _server: server,
    }
}

#[tokio::test]
async fn a_valid_es384_token_is_accepted() {
    let m = matrix().await;
    let t = sign(&m.ec, &header(&m.ec), &claims(SERVICE));
    assert_accepted(&m.app, &t, "ES384").await;
}

#[tokio::test]
async fn a_valid_rs384_token_is_accepted() {
    let m = matrix().await;
    let t = sign(&m.rsa, &header(&m.rsa), &claims(SERVICE));
    assert_accepted(&m.app, &t, "RS384").await;
}

#[tokio::test]
async fn an_audience_array_containing_the_service_url_is_accepted() {
    let m = matrix().await;
    let mut c = claims(SERVICE);
    c["aud"] = json!(["https://other.example", aud(SERVICE)]);
    assert_accepted(&m.app, &sign(&m.ec, &header(&m.ec), &c), "aud array").await;
}

/// A `jku` on the allow-list does not get in the way of a key the configured JWKS holds: the
/// token is accepted and the `jku` is not fetched. (That a key found only at an allowed `jku` is
/// used is `a_jku_on_the_allow_list_is_fetched_only_for_a_kid_the_configured_keys_lack`.)
#[tokio::test]
async fn a_jku_on_the_allow_list_is_accepted_without_fetching_it_for_a_configured_key() {
    let m = matrix().await;
    let mut h = header(&m.ec);
    h.jku = Some(format!("{}/jku.json", m._server.base));
    assert_accepted(&m.app, &sign(&m.ec, &h, &claims(SERVICE)), "allowed jku").await;
    let paths = m._server.paths();
    assert!(!paths.is_empty(), "the configured JWKS was fetched");
    assert!(
        !paths.iter().any(|p| p.contains("jku.json")),
        "the jku was fetched though the configured keys hold the kid: {paths:?}"
    );
}

#[tokio::test]
async fn no_token_is_refused() {
    let m = matrix().await;
    assert_unauthorized(m.app.post_hook_with_token(SERVICE, None).await, "no token").await;
    let r = m
        .app
        .client
        .post(format!("{}/cds-services/{SERVICE}", m.app.address))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_unauthorized(r, "Basic auth").await;
}

#[tokio::test]
async fn a_wrong_signature_is_refused() {
    let m = matrix().await;
    // Signed by another key, presented under the registered kid.
    let other = ec_key("ec-1");
    let t = sign(&other, &header(&m.ec), &claims(SERVICE));
    assert_refused(&m.app, &t, "wrong signature").await;
}

#[tokio::test]
async fn alg_none_is_refused() {
    let m = matrix().await;
    let h = json!({"alg": "none", "typ": "JWT", "kid": m.ec.kid});
    let t = format!(
        "{}.{}.",
        b64(h.to_string().as_bytes()),
        b64(claims(SERVICE).to_string().as_bytes())
    );
    assert_refused(&m.app, &t, "alg none").await;
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let m = matrix().await;
    for secret in [m.ec.public_bytes.clone(), jwks(&[&m.ec]).into_bytes()] {
        let key = EncodingKey::from_secret(&secret);
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(m.ec.kid.clone());
        let t = jsonwebtoken::encode(&h, &claims(SERVICE), &key).unwrap();
        assert_refused(&m.app, &t, "HS256 with the public key").await;
    }
}

#[tokio::test]
async fn an_unknown_kid_is_refused() {
    let m = matrix().await;
    let stranger = ec_key("not-in-the-jwks");
    let t = sign(&stranger, &header(&stranger), &claims(SERVICE));
    assert_refused(&m.app, &t, "unknown kid").await;
}

#[tokio::test]
async fn a_missing_kid_is_refused() {
    let m = matrix().await;
    let mut h = header(&m.ec);
    h.kid = None;
    assert_refused(&m.app, &sign(&m.ec, &h, &claims(SERVICE)), "no kid").await;
}

#[tokio::test]
async fn a_jku_off_the_allow_list_is_never_fetched_nor_trusted() {
    let m = matrix().await;
    // The attacker's JWKS, named by jku but not on the allow-list.
    let attacker = ec_key("attacker-kid");
    let evil = JwksServer::start(jwks(&[&attacker])).await;
    let mut h = header(&attacker);
    h.jku = Some(evil.url());
    assert_refused(
        &m.app,
        &sign(&attacker, &h, &claims(SERVICE)),
        "unknown kid, jku off the list",
    )
    .await;
    // The attacker's key under the issuer's kid: the configured key does not verify it.
    let evil_same_kid = ec_key("ec-1");
    evil.set(jwks(&[&evil_same_kid]));
    let mut h = header(&evil_same_kid);
    h.jku = Some(evil.url());
    assert_refused(
        &m.app,
        &sign(&evil_same_kid, &h, &claims(SERVICE)),
        "forged key under a configured kid, jku off the list",
    )
    .await;
    assert_eq!(evil.hits(), 0, "a jku off the list is never fetched");
}

#[tokio::test]
async fn a_jku_off_the_allow_list_does_not_override_the_configured_jwks_url() {
    let m = matrix().await;
    let mut h = header(&m.ec);
    h.jku = Some(format!("{}/attacker.json", m._server.base));
    assert_accepted(
        &m.app,
        &sign(&m.ec, &h, &claims(SERVICE)),
        "configured kid, jku off the list",
    )
    .await;
    assert_eq!(
        m._server.paths(),
        vec!["/jwks.json"],
        "only jwks_url fetched"
    );
}

/// An app whose issuer has its keys in a `jwks_file` and `jku_allow = allow`.
async fn spawn_file_app(keys: &[&TestKey], allow: Vec<String>) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ehr-jwks.json");
    std::fs::write(&path, jwks(keys)).unwrap();
    let file = path.display().to_string();
    let app = spawn_app_with(move |raw| {
        raw.server.public_url = PUBLIC_URL.to_owned();
        raw.auth.issuers = vec![alemtuzumab_cds::config::RawIssuer {
            iss: ISS.to_owned(),
            jwks_file: file,
            jku_allow: allow,
            ..Default::default()
        }];
    })
    .await;
    (app, dir)
}

/// The Sandbox's `jku` (unreachable offline, behind a hospital firewall or here).
const SANDBOX_JKU: &str = "https://sandbox.cds-hooks.org/.well-known/jwks.json";

#[tokio::test]
async fn a_jwks_file_key_verifies_a_token_whose_jku_is_off_the_allow_list() {
    // As the CDS Hooks Sandbox signs: ES384, kid, jku naming its public JWKS.
    let ec = ec_key("44823f3d-0b01-4a6c-a80e-b9d3e8a7226f");
    let elsewhere = JwksServer::start(jwks(&[&ec])).await;
    let (app, _dir) = spawn_file_app(&[&ec], vec![]).await;
    for jku in [SANDBOX_JKU.to_owned(), elsewhere.url()] {
        let mut h = header(&ec);
        h.jku = Some(jku.clone());
        assert_accepted(
            &app,
            &sign(&ec, &h, &claims(SERVICE)),
            &format!("file key, jku {jku}"),
        )
        .await;
    }
    assert_eq!(elsewhere.hits(), 0, "nothing fetched");
    let stranger = ec_key("not-in-the-file");
    elsewhere.set(jwks(&[&stranger]));
    let mut h = header(&stranger);
    h.jku = Some(elsewhere.url());
    assert_refused(
        &app,
        &sign(&stranger, &h, &claims(SERVICE)),
        "kid unknown to the configured keys, jku off the list",
    )
    .await;
    assert_eq!(elsewhere.hits(), 0, "still nothing fetched");
}

#[tokio::test]
async fn a_jku_on_the_allow_list_is_fetched_only_for_a_kid_the_configured_keys_lack() {
    let ec = ec_key("file-key");
    let extra = ec_key("jku-key");
    let listed = JwksServer::start(jwks(&[&extra])).await;
    let (app, _dir) = spawn_file_app(&[&ec], vec![listed.url()]).await;
    let mut h = header(&ec);
    h.jku = Some(listed.url());
    assert_accepted(
        &app,
        &sign(&ec, &h, &claims(SERVICE)),
        "file key, allowed jku",
    )
    .await;
    assert_eq!(listed.hits(), 0, "the configured keys sufficed");
    let mut h = header(&extra);
    h.jku = Some(listed.url());
    assert_accepted(
        &app,
        &sign(&extra, &h, &claims(SERVICE)),
        "jku key, allowed jku",
    )
    .await;
    assert_eq!(listed.hits(), 1);
}

#[tokio::test]
async fn a_wrong_audience_is_refused() {
    let m = matrix().await;
    for wrong in [
        json!(aud("alemtuzumab-patient-view")),
        json!("https://cds.test.example"),
        json!(["https://other.example"]),
    ] {
        let mut c = claims(SERVICE);
        c["aud"] = wrong.clone();
        assert_refused(
            &m.app,
            &sign(&m.ec, &header(&m.ec), &c),
            &format!("aud {wrong}"),
        )
        .await;
    }
    let mut c = claims(SERVICE);
    c.as_object_mut().unwrap().remove("aud");
    assert_refused(&m.app, &sign(&m.ec, &header(&m.ec), &c), "no aud").await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let m = matrix().await;
    let mut c = claims(SERVICE);
    c["iat"] = json!(now() - 600);
    c["exp"] = json!(now() - 300);
    assert_refused(&m.app, &sign(&m.ec, &header(&m.ec), &c), "expired").await;
}

#[tokio::test]
async fn an_iat_in_the_future_is_refused() {
    let m = matrix().await;
    let mut c = claims(SERVICE);
    c["iat"] = json!(now() + 600);
    c["exp"] = json!(now() + 900);
    assert_refused(
        &m.app,
        &sign(&m.ec, &header(&m.ec), &c),
        "iat in the future",
    )
    .await;
}

#[tokio::test]
async fn a_lifetime_too_long_is_refused() {
    let m = matrix().await;
    let mut c = claims(SERVICE);
    c["exp"] = json!(now() + 2 * 3600);
    assert_refused(&m.app, &sign(&m.ec, &header(&m.ec), &c), "2 h lifetime").await;
}

#[tokio::test]
async fn a_missing_jti_is_refused() {
    let m = matrix().await;
    let mut c = claims(SERVICE);
    c.as_object_mut().unwrap().remove("jti");
    assert_refused(&m.app, &sign(&m.ec, &header(&m.ec), &c), "no jti").await;
}

#[tokio::test]
async fn a_replayed_jti_is_refused() {
    let m = matrix().await;
    let t = sign(&m.ec, &header(&m.ec), &claims(SERVICE));
    assert_accepted(&m.app, &t, "first use").await;
    assert_refused(&m.app, &t, "replayed token").await;
    // Same jti in a freshly signed token: still a replay.
    let mut c: Value = jsonwebtoken::dangerous::insecure_decode_claims(&t).unwrap();
    c["exp"] = json!(now() + 200);
    assert_refused(&m.app, &sign(&m.ec, &header(&m.ec), &c), "replayed jti").await;
}

#[tokio::test]
async fn an_unknown_issuer_is_refused() {
    let m = matrix().await;
    let mut c = claims(SERVICE);
    c["iss"] = json!("https://attacker.example");
    assert_refused(&m.app, &sign(&m.ec, &header(&m.ec), &c), "unknown iss").await;
}

#[tokio::test]
async fn feedback_is_protected_and_probes_and_discovery_are_open() {
    let m = matrix().await;
    let r = m
        .app
        .post_raw(&format!("/cds-services/{SERVICE}/feedback"), "{}".into())
        .await;
    assert_unauthorized(r, "feedback without token").await;
    for path in ["/healthz", "/readyz", "/cds-services"] {
        assert_eq!(m.app.get(path).await.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn discovery_can_require_a_token() {
    let ec = ec_key("ec-1");
    let server = JwksServer::start(jwks(&[&ec])).await;
    let url = server.url();
    let app = spawn_app_with(move |raw| {
        raw.server.public_url = PUBLIC_URL.to_owned();
        raw.auth.discovery_requires_auth = true;
        raw.auth.issuers = vec![alemtuzumab_cds::config::RawIssuer {
            iss: ISS.to_owned(),
            jwks_url: url,
            ..Default::default()
        }];
    })
    .await;
    assert_unauthorized(app.get("/cds-services").await, "discovery without token").await;
    let mut c = claims(SERVICE);
    c["aud"] = json!(format!("{PUBLIC_URL}/cds-services"));
    let r = app
        .client
        .get(format!("{}/cds-services", app.address))
        .bearer_auth(sign(&ec, &header(&ec), &c))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_local_jwks_file_is_used() {
    let ec = ec_key("file-key");
    let (_dir, file) = jwks_file(&[&ec]);
    let app = spawn_app_with(move |raw| {
        raw.server.public_url = PUBLIC_URL.to_owned();
        raw.auth.issuers = vec![alemtuzumab_cds::config::RawIssuer {
            iss: ISS.to_owned(),
            jwks_file: file,
            ..Default::default()
        }];
    })
    .await;
    assert_accepted(&app, &sign(&ec, &header(&ec), &claims(SERVICE)), "file key").await;
    let other = ec_key("other");
    assert_refused(
        &app,
        &sign(&other, &header(&other), &claims(SERVICE)),
        "not in file",
    )
    .await;
}

#[tokio::test]
async fn the_jwks_is_refetched_when_the_ehr_rotates_its_key() {
    let old = ec_key("2026-01");
    let server = JwksServer::start(jwks(&[&old])).await;
    let app = spawn_auth_app(&server, 0).await;
    assert_accepted(
        &app,
        &sign(&old, &header(&old), &claims(SERVICE)),
        "old key",
    )
    .await;
    assert_eq!(server.hits(), 1);
    // Cached: no new fetch for a known kid.
    assert_accepted(
        &app,
        &sign(&old, &header(&old), &claims(SERVICE)),
        "old key again",
    )
    .await;
    assert_eq!(server.hits(), 1);
    let new = rsa_key("2026-02");
    server.set(jwks(&[&new]));
    assert_accepted(
        &app,
        &sign(&new, &header(&new), &claims(SERVICE)),
        "rotated key",
    )
    .await;
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn unknown_kids_refetch_the_jwks_at_most_once_per_interval() {
    let old = ec_key("2026-01");
    let server = JwksServer::start(jwks(&[&old])).await;
    let app = spawn_auth_app(&server, 300).await;
    assert_accepted(
        &app,
        &sign(&old, &header(&old), &claims(SERVICE)),
        "old key",
    )
    .await;
    assert_eq!(server.hits(), 1);
    let new = ec_key("2026-02");
    server.set(jwks(&[&old, &new]));
    for i in 0..5 {
        let forged = ec_key(&format!("forged-{i}"));
        assert_refused(
            &app,
            &sign(&forged, &header(&forged), &claims(SERVICE)),
            "forged kid",
        )
        .await;
    }
    // Within the interval even the real new key waits: the EHR is not hammered.
    assert_refused(
        &app,
        &sign(&new, &header(&new), &claims(SERVICE)),
        "rate-limited",
    )
    .await;
    assert_eq!(
        server.hits(),
        1,
        "no refetch within jwks_refresh_min_interval_secs"
    );
}

/// A feedback body as the Sandbox sends it (for a card this service does not know: still `200`).
fn feedback_body() -> String {
    json!({"feedback": [{
        "card": "e015d505-555f-477b-bb1c-01a99f30a4c8",
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-25T01:10:23.110Z",
        "overrideReason": {"reason": {"code": "not-relevant", "system": "http://example.org/reasons"}}
    }]})
    .to_string()
}

#[derive(Clone, Copy, Debug)]
enum Endpoint {
    Discovery,
    Hook,
    Feedback,
}

/// Calls `endpoint` of SERVICE with a fresh token whose `aud` is `audience`; the status.
async fn call_with_aud(app: &TestApp, key: &TestKey, endpoint: Endpoint, audience: &str) -> u16 {
    let mut c = claims(SERVICE);
    c["aud"] = json!(audience);
    let token = sign(key, &header(key), &c);
    let r = match endpoint {
        Endpoint::Discovery => app.client.get(format!("{}/cds-services", app.address)),
        Endpoint::Hook => app
            .client
            .post(format!("{}/cds-services/{SERVICE}", app.address))
            .header("Content-Type", "application/json")
            .body(fixture_hook("naive-one-dmt--order-sign.json").to_string()),
        Endpoint::Feedback => app
            .client
            .post(format!("{}/cds-services/{SERVICE}/feedback", app.address))
            .header("Content-Type", "application/json")
            .body(feedback_body()),
    };
    r.bearer_auth(token)
        .send()
        .await
        .expect("request sent")
        .status()
        .as_u16()
}

#[tokio::test]
async fn each_endpoint_accepts_the_url_called_as_audience() {
    let m = matrix().await;
    let base = format!("{PUBLIC_URL}/cds-services");
    for (endpoint, audience) in [
        (Endpoint::Discovery, base.clone()),
        (Endpoint::Hook, aud(SERVICE)),
        // What the Sandbox sends for feedback ...
        (Endpoint::Feedback, format!("{}/feedback", aud(SERVICE))),
        // ... and the hook's URL, kept for compatibility.
        (Endpoint::Feedback, aud(SERVICE)),
    ] {
        assert_eq!(
            call_with_aud(&m.app, &m.ec, endpoint, &audience).await,
            200,
            "{endpoint:?} with aud {audience}"
        );
    }
}

#[tokio::test]
async fn each_endpoint_refuses_the_audiences_of_other_endpoints() {
    let m = matrix().await;
    let base = format!("{PUBLIC_URL}/cds-services");
    let other = aud("alemtuzumab-patient-view");
    let own_feedback = format!("{}/feedback", aud(SERVICE));
    let other_feedback = format!("{other}/feedback");
    for (endpoint, audiences) in [
        (
            Endpoint::Discovery,
            vec![aud(SERVICE), own_feedback.clone(), PUBLIC_URL.to_owned()],
        ),
        (
            Endpoint::Hook,
            vec![
                base.clone(),
                own_feedback.clone(),
                other.clone(),
                PUBLIC_URL.to_owned(),
            ],
        ),
        (
            Endpoint::Feedback,
            vec![base.clone(), other, other_feedback, PUBLIC_URL.to_owned()],
        ),
    ] {
        for audience in audiences {
            assert_eq!(
                call_with_aud(&m.app, &m.ec, endpoint, &audience).await,
                401,
                "{endpoint:?} with aud {audience}"
            );
        }
    }
}

#[tokio::test]
async fn discovery_verifies_a_token_it_is_sent_even_when_not_required() {
    let m = matrix().await;
    assert_eq!(m.app.get("/cds-services").await.status(), 200, "no token");
    let mut c = claims(SERVICE);
    c["aud"] = json!(format!("{PUBLIC_URL}/cds-services"));
    let forged = sign(&ec_key("ec-1"), &header(&m.ec), &c);
    for (token, what) in [
        (forged, "forged signature"),
        ("not-a-jwt".to_owned(), "garbage"),
    ] {
        let r = m
            .app
            .client
            .get(format!("{}/cds-services", m.app.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_unauthorized(r, what).await;
    }
}

#[tokio::test]
async fn an_issuers_extra_audiences_are_accepted_on_every_endpoint() {
    let ec = ec_key("ec-1");
    let server = JwksServer::start(jwks(&[&ec])).await;
    let url = server.url();
    let app = spawn_app_with(move |raw| {
        raw.server.public_url = PUBLIC_URL.to_owned();
        raw.auth.issuers = vec![alemtuzumab_cds::config::RawIssuer {
            iss: ISS.to_owned(),
            jwks_url: url,
            audiences: vec!["urn:epic:alemtuzumab-cds".to_owned()],
            ..Default::default()
        }];
    })
    .await;
    for endpoint in [Endpoint::Discovery, Endpoint::Hook, Endpoint::Feedback] {
        assert_eq!(
            call_with_aud(&app, &ec, endpoint, "urn:epic:alemtuzumab-cds").await,
            200,
            "{endpoint:?}"
        );
        assert_eq!(
            call_with_aud(&app, &ec, endpoint, "urn:epic:something-else").await,
            401,
            "{endpoint:?}"
        );
    }
    // The URL called is still accepted.
    assert_eq!(
        call_with_aud(&app, &ec, Endpoint::Hook, &aud(SERVICE)).await,
        200
    );
}

/// Posts fresh tokens signed by `key` until one is accepted; the number of calls refused first.
/// Bounded: fails after `max` attempts (the backoff after one failure is 1 s).
async fn refused_until_accepted(app: &TestApp, key: &TestKey, max: usize) -> usize {
    for refused in 0..max {
        let t = sign(key, &header(key), &claims(SERVICE));
        let r = app.post_hook_with_token(SERVICE, Some(&t)).await;
        if r.status() == 200 {
            return refused;
        }
        assert_eq!(r.status(), 401);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("still refused after {max} attempts");
}

#[tokio::test]
async fn a_failed_first_jwks_fetch_is_retried_after_a_short_backoff_not_the_refresh_interval() {
    let ec = ec_key("2026-01");
    let server = JwksServer::start(jwks(&[&ec])).await;
    server.fail(true);
    // A 300 s refresh interval: before the fix, one failed fetch blocked every call for it.
    let app = spawn_auth_app(&server, 300).await;
    assert_refused(
        &app,
        &sign(&ec, &header(&ec), &claims(SERVICE)),
        "JWKS unreachable",
    )
    .await;
    assert_eq!(server.hits(), 1);
    server.fail(false);
    refused_until_accepted(&app, &ec, 150).await;
    assert_eq!(
        server.hits(),
        2,
        "one failed fetch, then one retry after the backoff"
    );
}

#[tokio::test]
async fn while_the_jwks_url_fails_the_last_good_keys_keep_serving() {
    let old = ec_key("2026-01");
    let new = ec_key("2026-02");
    let server = JwksServer::start(jwks(&[&old])).await;
    let app = spawn_auth_app(&server, 0).await;
    assert_accepted(
        &app,
        &sign(&old, &header(&old), &claims(SERVICE)),
        "old key",
    )
    .await;
    server.fail(true);
    assert_refused(
        &app,
        &sign(&new, &header(&new), &claims(SERVICE)),
        "new key while the JWKS fails",
    )
    .await;
    let hits = server.hits();
    assert_eq!(hits, 2);
    assert_accepted(
        &app,
        &sign(&old, &header(&old), &claims(SERVICE)),
        "old key from the last good set",
    )
    .await;
    assert_eq!(server.hits(), hits, "a known kid fetches nothing");
    server.set(jwks(&[&old, &new]));
    server.fail(false);
    refused_until_accepted(&app, &new, 150).await;
}
