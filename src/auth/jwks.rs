//! Per-issuer JWKS keys: a local file read at start, or a URL fetched with reqwest (rustls) and
//! cached. An unknown `kid` refetches the issuer's JWKS at most once per
//! `auth.jwks_refresh_min_interval_secs`, so a stream of forged `kid`s cannot make the service
//! hammer the EHR. A `jku` header is used only when it is on that issuer's `jku_allow` list.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use url::Url;

use super::{parse_jwks, IssuerSettings, KeySource};

/// A JWKS response larger than this is refused.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Time allowed for one JWKS fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why no key was found; logged, never sent to the caller.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("jku `{0}` is not on the issuer's jku_allow list")]
    JkuNotAllowed(String),
    #[error("no key with kid `{0}` in the issuer's JWKS")]
    UnknownKid(String),
    #[error("no key with kid `{0}`; JWKS refresh skipped (last refresh less than {1} s ago)")]
    RefreshRateLimited(String, u64),
    #[error("fetching JWKS from {url} failed: {reason}")]
    Fetch { url: String, reason: String },
}

struct IssuerKeys {
    settings: IssuerSettings,
    state: tokio::sync::Mutex<IssuerState>,
}

#[derive(Default)]
struct IssuerState {
    /// Key sets by URL (the issuer's `jwks_url` and any allowed `jku`).
    sets: HashMap<String, JwkSet>,
    /// URLs fetched at least once (a first fetch is not rate-limited).
    attempted: HashSet<String>,
    /// The issuer's last fetch, for the refresh rate-limit.
    last_fetch: Option<Instant>,
}

/// Key lookup for every configured issuer.
pub struct KeyStore {
    http: reqwest::Client,
    min_interval: Duration,
    issuers: HashMap<String, IssuerKeys>,
}

impl KeyStore {
    pub fn new(issuers: &[IssuerSettings], min_interval_secs: u64) -> Result<Self, reqwest::Error> {
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
                        state: tokio::sync::Mutex::new(IssuerState::default()),
                    },
                )
            })
            .collect();
        Ok(Self {
            http,
            min_interval: Duration::from_secs(min_interval_secs),
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

    /// Finds the key `kid` of issuer `iss`, from `jku` when given and allowed.
    /// `Ok(None)` when the issuer is not configured.
    pub async fn find(
        &self,
        iss: &str,
        jku: Option<&str>,
        kid: &str,
    ) -> Result<Option<Jwk>, KeyError> {
        let Some(issuer) = self.issuers.get(iss) else {
            return Ok(None);
        };
        let url: Url = match jku {
            Some(jku) => {
                let allowed = Url::parse(jku)
                    .ok()
                    .filter(|u| issuer.settings.jku_allow.contains(u));
                match allowed {
                    Some(u) => u,
                    None => return Err(KeyError::JkuNotAllowed(truncate(jku))),
                }
            }
            None => match &issuer.settings.keys {
                KeySource::File(set) => {
                    return set
                        .find(kid)
                        .cloned()
                        .map(Some)
                        .ok_or_else(|| KeyError::UnknownKid(truncate(kid)))
                }
                KeySource::Url(u) => u.clone(),
            },
        };
        let key = url.as_str().to_owned();
        // One fetch at a time per issuer; concurrent callers wait and then see its result.
        let mut state = issuer.state.lock().await;
        if let Some(jwk) = state.sets.get(&key).and_then(|s| s.find(kid)) {
            return Ok(Some(jwk.clone()));
        }
        let first_time = !state.attempted.contains(&key);
        let interval_passed = state
            .last_fetch
            .map_or(true, |t| t.elapsed() >= self.min_interval);
        if !first_time && !interval_passed {
            return Err(KeyError::RefreshRateLimited(
                truncate(kid),
                self.min_interval.as_secs(),
            ));
        }
        state.attempted.insert(key.clone());
        state.last_fetch = Some(Instant::now());
        let set = self.fetch(&url).await?;
        tracing::info!(iss, url = %url, keys = set.keys.len(), "JWKS fetched");
        let found = set.find(kid).cloned();
        state.sets.insert(key, set);
        found
            .map(Some)
            .ok_or_else(|| KeyError::UnknownKid(truncate(kid)))
    }

    async fn fetch(&self, url: &Url) -> Result<JwkSet, KeyError> {
        let err = |reason: String| KeyError::Fetch {
            url: url.to_string(),
            reason,
        };
        let resp = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(err(format!("HTTP {}", resp.status())));
        }
        let mut body = Vec::new();
        let mut resp = resp;
        while let Some(chunk) = resp.chunk().await.map_err(|e| err(e.to_string()))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(err(format!("larger than {MAX_JWKS_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body).map_err(err)
    }
}

/// Attacker-chosen strings are logged at bounded length.
fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}
