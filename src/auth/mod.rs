//! Authentication of the EHR (CDS Hooks 2.0 "Trusting CDS Clients"): settings, JWT
//! verification, JWKS keys, `jti` replay store. No actix-web here: `web::auth` is the
//! middleware that calls [`jwt::Authenticator::verify`].
//!
//! | Key | Default | Meaning |
//! |---|---|---|
//! | `auth.issuers` | `[]` | `[[auth.issuers]]` tables: `iss`, `jwks_url` or `jwks_file`, `jku_allow`, `audiences`; one or more turns authentication on |
//! | `auth.algorithms` | `["ES384", "RS384"]` | accepted JWT `alg`; `ES256`, `RS256` opt-in; HS* and `none` refused |
//! | `auth.leeway_secs` | 60 | clock skew allowed on `exp`, `iat`, `nbf` |
//! | `auth.max_token_lifetime_secs` | 3600 | `exp - iat` beyond this is refused |
//! | `auth.jwks_refresh_min_interval_secs` | 300 | an unknown `kid` refetches an issuer's JWKS at most this often (a failed fetch is retried after a short backoff instead, see `jwks`) |
//! | `auth.discovery_requires_auth` | false | require a JWT on `GET /cds-services` too |
//! | `auth.allowed_origins` | `[]` | CORS origins (local mode: any loopback origin) |

pub mod jwks;
pub mod jwt;
pub mod replay;

use std::path::{Path, PathBuf};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config_error::ConfigError;

/// `[auth]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAuth {
    pub allow_unauthenticated: bool,
    pub issuers: Vec<RawIssuer>,
    pub algorithms: Vec<String>,
    pub leeway_secs: u64,
    pub max_token_lifetime_secs: u64,
    pub jwks_refresh_min_interval_secs: u64,
    pub discovery_requires_auth: bool,
    pub allowed_origins: Vec<String>,
}

impl Default for RawAuth {
    fn default() -> Self {
        Self {
            allow_unauthenticated: false,
            issuers: Vec::new(),
            algorithms: vec!["ES384".to_owned(), "RS384".to_owned()],
            leeway_secs: 60,
            max_token_lifetime_secs: 3600,
            jwks_refresh_min_interval_secs: 300,
            discovery_requires_auth: false,
            allowed_origins: Vec::new(),
        }
    }
}

/// One `[[auth.issuers]]` table as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawIssuer {
    pub iss: String,
    pub jwks_url: String,
    pub jwks_file: String,
    pub jku_allow: Vec<String>,
    /// Extra JWT `aud` values accepted from this issuer on every endpoint, besides the URL called.
    pub audiences: Vec<String>,
}

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Fetched (and refetched on an unknown `kid`) from this URL.
    Url(Url),
    /// Read once at start from `jwks_file`.
    File(JwkSet),
}

/// A trusted EHR.
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    pub iss: String,
    pub keys: KeySource,
    /// `jku` header values accepted for this issuer (exact URLs), an additional key source.
    pub jku_allow: Vec<Url>,
    /// Extra `aud` values accepted from this issuer on every endpoint.
    pub audiences: Vec<String>,
}

/// Validated `[auth]`.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub allow_unauthenticated: bool,
    pub issuers: Vec<IssuerSettings>,
    pub algorithms: Vec<Algorithm>,
    pub leeway_secs: u64,
    pub max_token_lifetime_secs: u64,
    pub jwks_refresh_min_interval_secs: u64,
    pub discovery_requires_auth: bool,
    /// Exact origins (`scheme://host[:port]`) allowed by CORS.
    pub allowed_origins: Vec<String>,
}

impl AuthSettings {
    /// Authentication is on when at least one issuer is configured.
    pub fn enabled(&self) -> bool {
        !self.issuers.is_empty()
    }
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::invalid(key, message)
}

/// A JWKS URL: `https`, or `http` on loopback only.
fn jwks_url(key: &str, s: &str) -> Result<Url, ConfigError> {
    let u = Url::parse(s.trim()).map_err(|e| invalid(key, format!("`{s}`: {e}")))?;
    match u.scheme() {
        "https" => Ok(u),
        "http" if crate::net::is_loopback_host(&u) => Ok(u),
        _ => Err(invalid(
            key,
            format!("`{s}`: https is required unless the host is loopback"),
        )),
    }
}

/// Parses a JWKS document.
pub fn parse_jwks(text: &[u8]) -> Result<JwkSet, String> {
    let set: JwkSet = serde_json::from_slice(text).map_err(|e| format!("not a JWKS: {e}"))?;
    Ok(set)
}

impl RawAuth {
    /// Validates `[auth]`; relative `jwks_file` paths are relative to the configuration file's
    /// directory (or the working directory without one).
    pub fn validate(self, source: Option<&Path>) -> Result<AuthSettings, ConfigError> {
        let algorithms = algorithms(&self.algorithms)?;
        if self.leeway_secs > 600 {
            return Err(invalid("auth.leeway_secs", "must be at most 600"));
        }
        if self.max_token_lifetime_secs == 0 || self.max_token_lifetime_secs > 86_400 {
            return Err(invalid(
                "auth.max_token_lifetime_secs",
                "must be between 1 and 86400",
            ));
        }
        let base_dir: PathBuf = source
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut issuers: Vec<IssuerSettings> = Vec::new();
        for (i, r) in self.issuers.into_iter().enumerate() {
            let next = issuer(i, r, &base_dir, &issuers)?;
            issuers.push(next);
        }
        let allowed_origins = allowed_origins(&self.allowed_origins)?;
        Ok(AuthSettings {
            allow_unauthenticated: self.allow_unauthenticated,
            issuers,
            algorithms,
            leeway_secs: self.leeway_secs,
            max_token_lifetime_secs: self.max_token_lifetime_secs,
            jwks_refresh_min_interval_secs: self.jwks_refresh_min_interval_secs,
            discovery_requires_auth: self.discovery_requires_auth,
            allowed_origins,
        })
    }
}

/// `auth.algorithms`: asymmetric algorithms only, each once, at least one.
fn algorithms(names: &[String]) -> Result<Vec<Algorithm>, ConfigError> {
    let mut algorithms = Vec::new();
    for (i, a) in names.iter().enumerate() {
        let key = format!("auth.algorithms[{i}]");
        let alg = match a.trim() {
            "ES384" => Algorithm::ES384,
            "RS384" => Algorithm::RS384,
            "ES256" => Algorithm::ES256,
            "RS256" => Algorithm::RS256,
            other => {
                return Err(invalid(
                    &key,
                    format!(
                        "`{other}` is not accepted: use ES384, RS384, ES256 or RS256 \
                         (HS* shared secrets and `none` are never accepted)"
                    ),
                ))
            }
        };
        if !algorithms.contains(&alg) {
            algorithms.push(alg);
        }
    }
    if algorithms.is_empty() {
        return Err(invalid(
            "auth.algorithms",
            "must name at least one algorithm",
        ));
    }
    Ok(algorithms)
}

/// `auth.issuers[i]`, checked against the issuers `before` it (an `iss` is configured once).
fn issuer(
    i: usize,
    r: RawIssuer,
    base_dir: &Path,
    before: &[IssuerSettings],
) -> Result<IssuerSettings, ConfigError> {
    let key = |k: &str| format!("auth.issuers[{i}].{k}");
    let iss = r.iss.trim().to_owned();
    if iss.is_empty() {
        return Err(invalid(&key("iss"), "is required"));
    }
    if before.iter().any(|x| x.iss == iss) {
        return Err(invalid(&key("iss"), format!("`{iss}` is configured twice")));
    }
    let keys = issuer_keys(i, &r, base_dir)?;
    let mut jku_allow = Vec::new();
    for (j, u) in r.jku_allow.iter().enumerate() {
        jku_allow.push(jwks_url(&format!("{}[{j}]", key("jku_allow")), u)?);
    }
    let audiences = audiences(&key("audiences"), &r.audiences)?;
    Ok(IssuerSettings {
        iss,
        keys,
        jku_allow,
        audiences,
    })
}

/// Where `auth.issuers[i]` takes its keys: exactly one of `jwks_url` and `jwks_file` (read and
/// parsed now).
fn issuer_keys(i: usize, r: &RawIssuer, base_dir: &Path) -> Result<KeySource, ConfigError> {
    let key = |k: &str| format!("auth.issuers[{i}].{k}");
    match (r.jwks_url.trim().is_empty(), r.jwks_file.trim().is_empty()) {
        (false, true) => Ok(KeySource::Url(jwks_url(&key("jwks_url"), &r.jwks_url)?)),
        (true, false) => {
            let path = base_dir.join(r.jwks_file.trim());
            let text = std::fs::read(&path)
                .map_err(|e| invalid(&key("jwks_file"), format!("`{}`: {e}", path.display())))?;
            let set = parse_jwks(&text)
                .map_err(|e| invalid(&key("jwks_file"), format!("`{}`: {e}", path.display())))?;
            Ok(KeySource::File(set))
        }
        _ => Err(invalid(
            &key("jwks_url"),
            "exactly one of `jwks_url` and `jwks_file` is required",
        )),
    }
}

/// An issuer's extra `audiences` (under `key`): 1 to 2048 characters, no white space or control
/// character, each once.
fn audiences(key: &str, list: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut audiences: Vec<String> = Vec::new();
    for (j, a) in list.iter().enumerate() {
        let key = format!("{key}[{j}]");
        let a = a.trim();
        if a.is_empty() || a.len() > 2048 {
            return Err(invalid(&key, "must be between 1 and 2048 characters"));
        }
        if a.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                &key,
                format!("`{a}` contains white space or control characters"),
            ));
        }
        if !audiences.iter().any(|x| x == a) {
            audiences.push(a.to_owned());
        }
    }
    Ok(audiences)
}

/// `auth.allowed_origins`: http(s) origins, kept in their serialised form.
fn allowed_origins(list: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut allowed_origins = Vec::new();
    for (i, o) in list.iter().enumerate() {
        let key = format!("auth.allowed_origins[{i}]");
        let u = Url::parse(o.trim()).map_err(|e| invalid(&key, format!("`{o}`: {e}")))?;
        if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
            return Err(invalid(&key, format!("`{o}` is not an http(s) origin")));
        }
        allowed_origins.push(u.origin().ascii_serialization());
    }
    Ok(allowed_origins)
}
