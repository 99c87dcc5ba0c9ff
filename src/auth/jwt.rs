//! JWT verification of a CDS client (CDS Hooks 2.0 §Trusting CDS Clients).
//!
//! Order of checks: header (`alg` in the configured set, so `none` and HS* never reach a key;
//! `kid` required; `typ` JWT when present; no `crit`), `iss` a configured issuer (read before the signature
//! only to pick the keys), the key (the issuer's configured keys, then a `jku` on its
//! allow-list: `super::jwks`), then signature, `exp`, `nbf`, `aud` (one of the audiences of the
//! endpoint called, or of the issuer's configured `audiences`) and `iss` by jsonwebtoken
//! ([`build_validation`]), then `iat` not in the future,
//! lifetime at most `auth.max_token_lifetime_secs`, `jti` present and not seen before.

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::jwks::{KeyError, KeyStore};
use super::replay::ReplayStore;
use super::AuthSettings;

/// Why a call was refused; logged, never sent (the caller gets "unauthorized").
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no Authorization header")]
    Missing,
    #[error("Authorization is not `Bearer <jwt>`")]
    NotBearer,
    #[error("malformed JWT: {0}")]
    Malformed(String),
    #[error("JWT alg {0:?} is not accepted")]
    Algorithm(String),
    #[error("JWT header has no kid")]
    MissingKid,
    #[error("JWT typ `{0}` is not JWT")]
    Typ(String),
    #[error("JWT header has crit {0}: no extension is understood here")]
    Crit(String),
    #[error("JWT iss is missing or not a configured issuer: `{0}`")]
    UnknownIssuer(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the JWK for kid `{0}` cannot verify {1:?}")]
    KeyMismatch(String, Algorithm),
    #[error("JWT rejected: {0}")]
    Invalid(String),
    #[error("JWT has no iat")]
    MissingIat,
    #[error("JWT iat is in the future")]
    IatInFuture,
    #[error("JWT lifetime of {0} s is longer than allowed")]
    LifetimeTooLong(i64),
    #[error("JWT has no jti")]
    MissingJti,
    #[error("JWT jti was already used (replay)")]
    Replay,
    #[error("{0}")]
    ReplayStore(String),
}

impl AuthError {
    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            AuthError::Missing | AuthError::NotBearer => "missing",
            AuthError::Malformed(_)
            | AuthError::Typ(_)
            | AuthError::Crit(_)
            | AuthError::MissingKid => "malformed",
            AuthError::Algorithm(_) => "algorithm",
            AuthError::UnknownIssuer(_) => "issuer",
            AuthError::Key(_) | AuthError::KeyMismatch(..) => "key",
            AuthError::Invalid(_) => "invalid",
            AuthError::MissingIat | AuthError::IatInFuture | AuthError::LifetimeTooLong(_) => {
                "lifetime"
            }
            AuthError::MissingJti | AuthError::Replay => "jti",
            AuthError::ReplayStore(_) => "replay_store",
        }
    }
}

/// What a verified token says, for the log.
#[derive(Debug, Clone)]
pub struct Verified {
    pub iss: String,
    pub sub: Option<String>,
    pub tenant: Option<String>,
}

#[derive(Deserialize)]
struct IssOnly {
    #[serde(default)]
    iss: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    exp: f64,
    #[serde(default)]
    iat: Option<f64>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
}

/// The jsonwebtoken validation for one call: `alg` only, `aud` one of `audiences` (the URL
/// called and its accepted alternatives), `iss` = the issuer whose key verifies, `exp`, `iss`,
/// `aud` required, `nbf` honoured when present.
pub fn build_validation(
    alg: Algorithm,
    audiences: &[String],
    issuer: &str,
    leeway: u64,
) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = leeway;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.validate_aud = true;
    v.set_audience(audiences);
    v.set_issuer(&[issuer]);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    v
}

/// Verifies bearer JWTs against the configured issuers.
pub struct Authenticator {
    algorithms: Vec<Algorithm>,
    leeway: u64,
    max_lifetime: i64,
    keys: KeyStore,
}

impl Authenticator {
    pub fn new(settings: &AuthSettings) -> Result<Self, reqwest::Error> {
        Ok(Self {
            algorithms: settings.algorithms.clone(),
            leeway: settings.leeway_secs,
            max_lifetime: i64::try_from(settings.max_token_lifetime_secs).unwrap_or(i64::MAX),
            keys: KeyStore::new(&settings.issuers, settings.jwks_refresh_min_interval_secs)?,
        })
    }

    /// Verifies the `Authorization` header value for a call whose accepted audiences are
    /// `audiences` (besides the issuer's configured extra `audiences`).
    pub async fn verify(
        &self,
        authorization: Option<&str>,
        audiences: &[String],
        replay: &dyn ReplayStore,
    ) -> Result<Verified, AuthError> {
        let token = bearer_token(authorization)?;
        let header = self.checked_header(token)?;
        let kid = header
            .kid
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or(AuthError::MissingKid)?;
        let iss = self.known_issuer(token)?;
        let jwk = self
            .keys
            .find(&iss, header.jku.as_deref(), kid)
            .await?
            .ok_or_else(|| AuthError::UnknownIssuer(iss.clone()))?;
        let key = decoding_key(&jwk, header.alg)
            .ok_or_else(|| AuthError::KeyMismatch(kid.chars().take(200).collect(), header.alg))?;
        let mut accepted: Vec<String> = audiences.to_vec();
        if let Some(extra) = self.keys.issuer(&iss).map(|i| &i.audiences) {
            accepted.extend(extra.iter().cloned());
        }
        if accepted.is_empty() {
            return Err(AuthError::Invalid(
                "no audience is accepted here".to_owned(),
            ));
        }
        let validation = build_validation(header.alg, &accepted, &iss, self.leeway);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| AuthError::Invalid(format!("{:?}", e.kind())))?;
        let claims = data.claims;
        let leeway = i64::try_from(self.leeway).unwrap_or(0);
        let exp = self.checked_lifetime(&claims, leeway)?;
        let jti = claims
            .jti
            .as_deref()
            .filter(|j| !j.is_empty() && j.len() <= 1024)
            .ok_or(AuthError::MissingJti)?;
        let fresh = replay
            .check_and_record(&claims.iss, jti, exp.saturating_add(leeway))
            .await
            .map_err(|e| AuthError::ReplayStore(e.to_string()))?;
        if !fresh {
            return Err(AuthError::Replay);
        }
        Ok(Verified {
            iss: claims.iss,
            sub: claims.sub,
            tenant: claims.tenant,
        })
    }

    /// The token's header, when its algorithm is accepted, its `typ` is JWT (or absent) and it
    /// names no critical extension.
    fn checked_header(&self, token: &str) -> Result<jsonwebtoken::Header, AuthError> {
        // `alg: none` and unknown algorithms fail to parse here.
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(AuthError::Algorithm(format!("{:?}", header.alg)));
        }
        if let Some(typ) = &header.typ {
            if !typ.eq_ignore_ascii_case("JWT") {
                return Err(AuthError::Typ(typ.chars().take(40).collect()));
            }
        }
        // RFC 7515 §4.1.11: a recipient MUST reject a JWS whose `crit` names an extension it
        // does not understand; this service understands none (and an empty list is itself
        // invalid).
        if let Some(crit) = &header.crit {
            let shown: String = format!("{crit:?}").chars().take(200).collect();
            return Err(AuthError::Crit(shown));
        }
        Ok(header)
    }

    /// The token's `iss`, read before the signature is checked, when it is a configured issuer:
    /// the issuer picks the keys; it is checked again, signed, by the validation.
    fn known_issuer(&self, token: &str) -> Result<String, AuthError> {
        let unverified: IssOnly = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|e| AuthError::Malformed(e.to_string()))?;
        match unverified.iss {
            Some(serde_json::Value::String(s)) if self.keys.knows_issuer(&s) => Ok(s),
            other => {
                let shown = other.map(|v| v.to_string()).unwrap_or_default();
                Err(AuthError::UnknownIssuer(shown.chars().take(200).collect()))
            }
        }
    }

    /// `iat` present and not in the future, and a lifetime within `max_lifetime` (from `iat`
    /// and from now); returns `exp` in whole seconds.
    fn checked_lifetime(&self, claims: &Claims, leeway: i64) -> Result<i64, AuthError> {
        let now = chrono::Utc::now().timestamp();
        let exp = claims.exp.floor() as i64;
        let iat = claims.iat.ok_or(AuthError::MissingIat)?.floor() as i64;
        if iat > now.saturating_add(leeway) {
            return Err(AuthError::IatInFuture);
        }
        let lifetime = exp.saturating_sub(iat);
        if lifetime > self.max_lifetime || exp.saturating_sub(now) > self.max_lifetime + leeway {
            return Err(AuthError::LifetimeTooLong(lifetime));
        }
        Ok(exp)
    }
}

/// The token of an `Authorization: Bearer <token>` header value, at most 16 KiB.
fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let header_value = authorization.ok_or(AuthError::Missing)?;
    let token = header_value
        .strip_prefix("Bearer ")
        .or_else(|| header_value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::NotBearer)?;
    if token.len() > 16 * 1024 {
        return Err(AuthError::Malformed("longer than 16 KiB".to_owned()));
    }
    Ok(token)
}

/// The key of `jwk` for `alg`, when the JWK is a signing key of the same family and, if it
/// names an algorithm, the same one.
fn decoding_key(jwk: &Jwk, alg: Algorithm) -> Option<DecodingKey> {
    if let Some(u) = &jwk.common.public_key_use {
        if *u != PublicKeyUse::Signature {
            return None;
        }
    }
    if let Some(ka) = &jwk.common.key_algorithm {
        if format!("{ka:?}") != format!("{alg:?}") {
            return None;
        }
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    (key.family() == alg.family()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_issuer_and_expiry_are_required_claims() {
        let v = build_validation(
            Algorithm::ES384,
            &["https://cds.example/cds-services/alemtuzumab-order-sign".to_owned()],
            "https://ehr.example",
            60,
        );
        assert_eq!(v.algorithms, vec![Algorithm::ES384]);
        for claim in ["exp", "iss", "aud"] {
            assert!(v.required_spec_claims.contains(claim), "{claim}");
        }
        assert!(v.validate_exp && v.validate_nbf && v.validate_aud);
        assert_eq!(v.leeway, 60);
        let aud = v.aud.unwrap();
        assert!(aud.contains("https://cds.example/cds-services/alemtuzumab-order-sign"));
        assert_eq!(aud.len(), 1);
        assert!(v.iss.unwrap().contains("https://ehr.example"));
    }
}
