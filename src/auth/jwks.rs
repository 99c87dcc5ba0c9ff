//! Per-issuer JWKS keys. The keys configured for the issuer (`jwks_file`, read at start, or
//! `jwks_url`, fetched with reqwest over rustls and cached) are always tried for the token's `kid`.
//! A `jku` header on the issuer's `jku_allow` list is an additional source, tried after them; a
//! `jku` off the list is never fetched and is only logged at debug (the token still verifies when
//! the configured keys hold its `kid`).
//!
//! Refetching: an unknown `kid` refetches a JWKS URL at most once per
//! `auth.jwks_refresh_min_interval_secs` after a successful fetch, so a stream of forged `kid`s
//! cannot make the service hammer the EHR. A failed fetch is not a refresh: the last good key set
//! keeps serving, and the URL is retried after a short backoff (1 s, doubling, at most
//! [`BACKOFF_CAP`]); the failure is logged with its reason.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use url::Url;

use crate::redact::redact_url;

use super::{parse_jwks, IssuerSettings, KeySource};

/// A JWKS response larger than this is refused.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Time allowed for one JWKS fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// First wait after a failed fetch; doubled after each further failure.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest wait after failed fetches.
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// Why no key was found; logged, never sent to the caller.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "no key with kid `{kid}` in the issuer's configured keys; its jku `{jku}` is not on the \
         issuer's jku_allow list (not fetched)"
    )]
    JkuNotAllowed { kid: String, jku: String },
    #[error("no key with kid `{0}` in the issuer's JWKS")]
    UnknownKid(String),
    #[error("no key with kid `{0}`; JWKS refresh skipped (last refresh less than {1} s ago)")]
    RefreshRateLimited(String, u64),
    #[error("no key with kid `{kid}` in the last good key set: fetching JWKS from {url} failed: {reason}")]
    Fetch {
        kid: String,
        url: String,
        reason: String,
    },
}

struct IssuerKeys {
    settings: IssuerSettings,
    /// The last good key set of each URL (the issuer's `jwks_url` and any allowed `jku`); read
    /// without waiting for a fetch in progress.
    sets: RwLock<HashMap<String, Arc<JwkSet>>>,
    /// Fetch bookkeeping by URL; held during a fetch, so one fetch at a time per issuer.
    fetches: tokio::sync::Mutex<HashMap<String, FetchState>>,
}

#[derive(Default)]
struct FetchState {
    /// The last successful fetch, for the refresh rate limit.
    last_success: Option<Instant>,
    /// Failed fetches since the last success.
    failures: u32,
    /// After a failure: no new attempt before this.
    retry_at: Option<Instant>,
    /// After a failure: why.
    last_error: Option<String>,
}

/// What a lookup in one URL gave, when it found no key.
enum Miss {
    NotThere,
    RateLimited,
    Failed(String),
}

/// Key lookup for every configured issuer.
pub struct KeyStore {
    http: reqwest::Client,
    min_interval: Duration,
    backoff_base: Duration,
    backoff_cap: Duration,
    issuers: HashMap<String, IssuerKeys>,
}

impl KeyStore {
    pub fn new(issuers: &[IssuerSettings], min_interval_secs: u64) -> Result<Self, reqwest::Error> {
        Self::with_backoff(
            issuers,
            Duration::from_secs(min_interval_secs),
            BACKOFF_BASE,
            BACKOFF_CAP,
        )
    }

    /// As [`KeyStore::new`], with the retry backoff after a failed fetch chosen (tests).
    pub fn with_backoff(
        issuers: &[IssuerSettings],
        min_interval: Duration,
        backoff_base: Duration,
        backoff_cap: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("alemtuzumab-cds/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let issuers = issuers
            .iter()
            .map(|s| {
                (
                    s.iss.clone(),
                    IssuerKeys {
                        settings: s.clone(),
                        sets: RwLock::new(HashMap::new()),
                        fetches: tokio::sync::Mutex::new(HashMap::new()),
                    },
                )
            })
            .collect();
        Ok(Self {
            http,
            min_interval,
            backoff_base,
            backoff_cap,
            issuers,
        })
    }

    pub fn knows_issuer(&self, iss: &str) -> bool {
        self.issuers.contains_key(iss)
    }

    /// The issuer's settings, when it is configured.
    pub fn issuer(&self, iss: &str) -> Option<&IssuerSettings> {
        self.issuers.get(iss).map(|i| &i.settings)
    }

    /// Finds the key `kid` of issuer `iss`: in the configured keys first, then in the `jku` JWKS
    /// when `jku` is on the issuer's allow-list. `Ok(None)` when the issuer is not configured.
    pub async fn find(
        &self,
        iss: &str,
        jku: Option<&str>,
        kid: &str,
    ) -> Result<Option<Jwk>, KeyError> {
        let Some(issuer) = self.issuers.get(iss) else {
            return Ok(None);
        };
        let configured_url = match &issuer.settings.keys {
            KeySource::File(set) => {
                if let Some(jwk) = set.find(kid) {
                    return Ok(Some(jwk.clone()));
                }
                None
            }
            KeySource::Url(u) => Some(u),
        };
        // A `jku` adds a source only when it is on the allow-list (and is not the configured URL).
        let mut off_list_jku: Option<String> = None;
        let jku_url: Option<Url> = match jku {
            None => None,
            Some(jku) => match Url::parse(jku) {
                Ok(u) if issuer.settings.jku_allow.contains(&u) => {
                    (Some(&u) != configured_url).then_some(u)
                }
                Ok(u) if Some(&u) == configured_url => None,
                _ => {
                    tracing::debug!(
                        iss,
                        jku = %redact_url(jku),
                        "jku not on the issuer's jku_allow list: ignored, not fetched; \
                         the configured keys are used"
                    );
                    off_list_jku = Some(redact_url(jku));
                    None
                }
            },
        };
        let urls: Vec<&Url> = configured_url.into_iter().chain(jku_url.as_ref()).collect();
        // The cached sets first: a known `kid` never waits for a fetch.
        for url in &urls {
            if let Some(jwk) = issuer.cached(url.as_str(), kid) {
                return Ok(Some(jwk));
            }
        }
        let mut misses = Vec::new();
        for url in &urls {
            match self.refresh_and_find(iss, issuer, url, kid).await {
                Ok(jwk) => return Ok(Some(jwk)),
                Err(miss) => misses.push((url.as_str(), miss)),
            }
        }
        let kid = truncate(kid);
        // The most useful reason: a failed fetch, then a skipped refresh, then the jku ignored.
        if let Some((url, reason)) = misses.iter().find_map(|(u, m)| match m {
            Miss::Failed(r) => Some((*u, r.clone())),
            _ => None,
        }) {
            return Err(KeyError::Fetch {
                kid,
                url: redact_url(url),
                reason,
            });
        }
        if misses.iter().any(|(_, m)| matches!(m, Miss::RateLimited)) {
            return Err(KeyError::RefreshRateLimited(
                kid,
                self.min_interval.as_secs(),
            ));
        }
        match off_list_jku {
            Some(jku) => Err(KeyError::JkuNotAllowed { kid, jku }),
            None => Err(KeyError::UnknownKid(kid)),
        }
    }

    /// Refetches `url` unless it was fetched successfully less than the minimum interval ago or
    /// is waiting out a backoff after a failure, then looks `kid` up in its last good set.
    async fn refresh_and_find(
        &self,
        iss: &str,
        issuer: &IssuerKeys,
        url: &Url,
        kid: &str,
    ) -> Result<Jwk, Miss> {
        let key = url.as_str();
        // One fetch at a time per issuer; concurrent callers wait and then see its result.
        let mut fetches = issuer.fetches.lock().await;
        if let Some(jwk) = issuer.cached(key, kid) {
            return Ok(jwk);
        }
        let state = fetches.entry(key.to_owned()).or_default();
        let now = Instant::now();
        if let Some(retry_at) = state.retry_at {
            if now < retry_at {
                let reason = state.last_error.clone().unwrap_or_default();
                let wait = retry_at.saturating_duration_since(now).as_secs_f32();
                return Err(Miss::Failed(format!(
                    "{reason} (next attempt in {wait:.1} s)"
                )));
            }
        }
        if let Some(t) = state.last_success {
            if now.saturating_duration_since(t) < self.min_interval {
                return Err(Miss::RateLimited);
            }
        }
        match self.fetch(url).await {
            Ok(set) => {
                tracing::info!(iss, url = %redact_url(url.as_str()), keys = set.keys.len(), "JWKS fetched");
                *state = FetchState {
                    last_success: Some(Instant::now()),
                    ..FetchState::default()
                };
                let found = set.find(kid).cloned();
                issuer.store(key, set);
                found.ok_or(Miss::NotThere)
            }
            Err(reason) => {
                state.failures = state.failures.saturating_add(1);
                let wait = self.backoff(state.failures);
                state.retry_at = Some(Instant::now() + wait);
                state.last_error = Some(reason.clone());
                tracing::warn!(
                    iss,
                    url = %redact_url(url.as_str()),
                    reason = %reason,
                    failures = state.failures,
                    retry_in_secs = wait.as_secs_f32(),
                    "JWKS fetch failed: serving with the last good key set, retrying after a backoff"
                );
                Err(Miss::Failed(reason))
            }
        }
    }

    /// The wait after `failures` consecutive failed fetches: base, doubling, capped.
    fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_cap)
    }

    async fn fetch(&self, url: &Url) -> Result<JwkSet, String> {
        let resp = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            // Without the URL: it is logged redacted beside the reason.
            .map_err(|e| e.without_url().to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        let mut body = Vec::new();
        let mut resp = resp;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| e.without_url().to_string())?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body)
    }
}

impl IssuerKeys {
    fn cached(&self, url: &str, kid: &str) -> Option<Jwk> {
        let sets = self.sets.read().unwrap_or_else(|e| e.into_inner());
        sets.get(url).and_then(|s| s.find(kid)).cloned()
    }

    fn store(&self, url: &str, set: JwkSet) {
        let mut sets = self.sets.write().unwrap_or_else(|e| e.into_inner());
        sets.insert(url.to_owned(), Arc::new(set));
    }
}

/// Attacker-chosen strings are logged at bounded length.
fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A JWKS whose keys are all the same public EC key under the given `kid`s (lookups only).
    fn jwks(kids: &[&str]) -> String {
        let keys: Vec<serde_json::Value> = kids
            .iter()
            .map(|kid| {
                serde_json::json!({
                    "kty": "EC", "use": "sig", "crv": "P-384", "alg": "ES384", "kid": kid,
                    "x": "dw_JGR8nB2I6XveNxUOl2qk699ZPLM2nYI5STSdiEl9avAkrm3CkfYMbrrjr8laB",
                    "y": "Sm3mLE-n1zYNla_aiE3cb3nZsL51RbC7ysw3q8aJLxGm-hx79RPMYpITDjp7kgzy"
                })
            })
            .collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    /// A loopback JWKS server: answers `body`, or `503` while `failing`; counts requests.
    struct Fake {
        url: Url,
        failing: Arc<AtomicBool>,
        hits: Arc<AtomicUsize>,
    }

    impl Fake {
        async fn start(body: String) -> Self {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = Url::parse(&format!(
                "http://{}/jwks.json",
                listener.local_addr().unwrap()
            ))
            .unwrap();
            let failing = Arc::new(AtomicBool::new(false));
            let hits = Arc::new(AtomicUsize::new(0));
            let (f, h) = (failing.clone(), hits.clone());
            tokio::spawn(async move {
                while let Ok((mut sock, _)) = listener.accept().await {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    h.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = if f.load(Ordering::SeqCst) {
                        ("503 Service Unavailable", "down".to_owned())
                    } else {
                        ("200 OK", body.clone())
                    };
                    let resp = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                }
            });
            Self { url, failing, hits }
        }
        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
        fn fail(&self, failing: bool) {
            self.failing.store(failing, Ordering::SeqCst);
        }
    }

    const ISS: &str = "https://ehr.example";

    fn issuer(keys: KeySource, jku_allow: Vec<Url>) -> IssuerSettings {
        IssuerSettings {
            iss: ISS.to_owned(),
            keys,
            jku_allow,
            audiences: Vec::new(),
        }
    }

    fn store(issuer: IssuerSettings, min_interval: u64, backoff: Duration) -> KeyStore {
        KeyStore::with_backoff(
            &[issuer],
            Duration::from_secs(min_interval),
            backoff,
            backoff,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_failed_first_fetch_is_not_a_refresh_and_the_next_call_retries() {
        let server = Fake::start(jwks(&["k1"])).await;
        server.fail(true);
        // A 300 s refresh interval; no backoff so the retry is not a matter of time.
        let keys = store(
            issuer(KeySource::Url(server.url.clone()), vec![]),
            300,
            Duration::ZERO,
        );
        let err = keys.find(ISS, None, "k1").await.unwrap_err();
        assert!(matches!(err, KeyError::Fetch { .. }), "{err}");
        let shown = err.to_string();
        assert!(
            shown.contains("HTTP 503") && !shown.contains("refresh skipped"),
            "{shown}"
        );
        assert_eq!(server.hits(), 1);
        server.fail(false);
        let found = keys.find(ISS, None, "k1").await.unwrap();
        assert!(found.is_some());
        assert_eq!(server.hits(), 2, "retried at once, not after 300 s");
    }

    #[tokio::test]
    async fn during_a_backoff_the_last_good_set_serves_and_the_failure_is_the_reason() {
        let server = Fake::start(jwks(&["k1"])).await;
        let keys = store(
            issuer(KeySource::Url(server.url.clone()), vec![]),
            0,
            Duration::from_secs(3600),
        );
        assert!(keys.find(ISS, None, "k1").await.unwrap().is_some());
        assert_eq!(server.hits(), 1);
        server.fail(true);
        let err = keys.find(ISS, None, "k2").await.unwrap_err();
        assert!(err.to_string().contains("HTTP 503"), "{err}");
        assert_eq!(server.hits(), 2);
        // The last good key set keeps serving.
        assert!(keys.find(ISS, None, "k1").await.unwrap().is_some());
        // Within the backoff: no new fetch, and the reason is still the failed fetch.
        let err = keys.find(ISS, None, "k2").await.unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("HTTP 503") && shown.contains("next attempt in"),
            "{shown}"
        );
        assert_eq!(server.hits(), 2);
    }

    #[tokio::test]
    async fn a_success_after_failures_resets_the_backoff_and_rate_limits_again() {
        let server = Fake::start(jwks(&["k1"])).await;
        server.fail(true);
        let keys = store(
            issuer(KeySource::Url(server.url.clone()), vec![]),
            300,
            Duration::ZERO,
        );
        for _ in 0..3 {
            assert!(keys.find(ISS, None, "k1").await.is_err());
        }
        assert_eq!(server.hits(), 3);
        server.fail(false);
        assert!(keys.find(ISS, None, "k1").await.unwrap().is_some());
        assert_eq!(server.hits(), 4);
        // Now a successful refresh: an unknown kid waits for the interval.
        let err = keys.find(ISS, None, "forged").await.unwrap_err();
        assert!(matches!(err, KeyError::RefreshRateLimited(..)), "{err}");
        assert_eq!(server.hits(), 4);
    }

    #[test]
    fn the_backoff_doubles_from_one_second_and_is_capped() {
        let keys = KeyStore::new(&[], 300).unwrap();
        let waits: Vec<u64> = (1..=8).map(|n| keys.backoff(n).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(keys.backoff(u32::MAX), BACKOFF_CAP);
    }

    #[tokio::test]
    async fn the_configured_keys_are_tried_whatever_the_jku() {
        let file = parse_jwks(jwks(&["k1"]).as_bytes()).unwrap();
        let listed = Fake::start(jwks(&["k2"])).await;
        let off_list = Fake::start(jwks(&["k1", "k3"])).await;
        let keys = store(
            issuer(KeySource::File(file), vec![listed.url.clone()]),
            300,
            Duration::ZERO,
        );
        let off = off_list.url.as_str();
        // A jku off the list: the configured key verifies, nothing is fetched.
        assert!(keys.find(ISS, Some(off), "k1").await.unwrap().is_some());
        // ... and an unknown kid is refused without fetching it.
        let err = keys.find(ISS, Some(off), "k3").await.unwrap_err();
        assert!(matches!(err, KeyError::JkuNotAllowed { .. }), "{err}");
        assert_eq!(off_list.hits(), 0);
        // A jku on the list: an additional source, fetched only for a kid not configured.
        let on = listed.url.as_str();
        assert!(keys.find(ISS, Some(on), "k1").await.unwrap().is_some());
        assert_eq!(listed.hits(), 0);
        assert!(keys.find(ISS, Some(on), "k2").await.unwrap().is_some());
        assert_eq!(listed.hits(), 1);
        // Garbage jku: ignored like any jku off the list.
        assert!(keys
            .find(ISS, Some("not a url"), "k1")
            .await
            .unwrap()
            .is_some());
    }
}
