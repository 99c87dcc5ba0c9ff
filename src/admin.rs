//! `[admin]`: the credential of the committee's report served at `GET /admin/report`
//! (src/web/admin.rs), separate from the EHR's JWTs.
//!
//! - `tokens`: bearer tokens, and/or `tokens_file`: a file with one token a line (`#` comments
//!   and blank lines ignored; relative to the configuration file's directory), so the secret
//!   need not sit in the configuration. No token: the route answers 404.
//! - A token is at least 32 visible ASCII characters (e.g. `openssl rand -hex 32`) and is not a
//!   JWT: the EHR's tokens are never admin credentials.
//! - Only SHA-256 digests are kept after loading, and a presented token is compared with every
//!   digest in constant time. No message, log line or `Debug` output shows a token.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config_error::ConfigError;

/// The shortest token accepted.
pub const MIN_TOKEN_CHARS: usize = 32;

/// `[admin]` as written.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAdmin {
    pub tokens: Vec<String>,
    pub tokens_file: String,
}

impl std::fmt::Debug for RawAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawAdmin")
            .field("tokens", &format_args!("[{} redacted]", self.tokens.len()))
            .field("tokens_file", &self.tokens_file)
            .finish()
    }
}

/// The validated `[admin]`: digests of the accepted tokens.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AdminSettings {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for AdminSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSettings")
            .field("tokens", &self.digests.len())
            .finish()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn invalid(key: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message,
    }
}

/// Whether `t` has the shape of a JWS compact serialisation (three base64url parts).
fn looks_like_jwt(t: &str) -> bool {
    let parts: Vec<&str> = t.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn check_token(key: &str, which: &str, t: &str) -> Result<(), ConfigError> {
    if t.chars().count() < MIN_TOKEN_CHARS {
        return Err(invalid(
            key,
            format!("{which} is shorter than {MIN_TOKEN_CHARS} characters (e.g. `openssl rand -hex 32`)"),
        ));
    }
    if !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            key,
            format!("{which} must be visible ASCII characters only (no space)"),
        ));
    }
    if looks_like_jwt(t) {
        return Err(invalid(
            key,
            format!("{which} is a JWT: the report has its own credential, never the EHR's tokens"),
        ));
    }
    Ok(())
}

impl RawAdmin {
    /// Checks the tokens and reads `tokens_file`; errors name the key and the token's position,
    /// never its value.
    pub fn validate(self, source: Option<&Path>) -> Result<AdminSettings, ConfigError> {
        let mut digests = Vec::new();
        for (i, t) in self.tokens.iter().enumerate() {
            check_token("admin.tokens", &format!("token #{}", i + 1), t)?;
            digests.push(digest(t));
        }
        let file = self.tokens_file.trim();
        if !file.is_empty() {
            let base = source.and_then(Path::parent).unwrap_or(Path::new(""));
            let path = base.join(file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                invalid(
                    "admin.tokens_file",
                    format!("cannot read `{}`: {e}", path.display()),
                )
            })?;
            let mut found = 0;
            for (n, line) in text.lines().enumerate() {
                let t = line.trim();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                check_token(
                    "admin.tokens_file",
                    &format!("the token on line {} of `{}`", n + 1, path.display()),
                    t,
                )?;
                digests.push(digest(t));
                found += 1;
            }
            if found == 0 {
                return Err(invalid(
                    "admin.tokens_file",
                    format!("`{}` holds no token", path.display()),
                ));
            }
        }
        Ok(AdminSettings { digests })
    }
}

impl AdminSettings {
    /// Whether any token is configured (the route is on).
    pub fn enabled(&self) -> bool {
        !self.digests.is_empty()
    }

    /// Whether `presented` is one of the tokens: its digest is compared with every configured
    /// digest, each byte of each, so the time taken says nothing about which bytes matched.
    pub fn accepts(&self, presented: &str) -> bool {
        let d = digest(presented);
        let mut any = 0u8;
        for known in &self.digests {
            let diff = known
                .iter()
                .zip(d.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            any |= u8::from(diff == 0);
        }
        any == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn tokens_are_checked_and_never_shown() {
        let ok = RawAdmin {
            tokens: vec![GOOD.into()],
            tokens_file: String::new(),
        }
        .validate(None)
        .unwrap();
        assert!(ok.enabled());
        assert!(ok.accepts(GOOD));
        assert!(!ok.accepts("0123456789abcdef0123456789abcdeX"));
        assert!(!ok.accepts(""));
        assert!(!format!("{ok:?}").contains(GOOD));
        assert!(!AdminSettings::default().accepts(GOOD));

        let secret_short = "short-secret";
        for (bad, why) in [
            (secret_short.to_owned(), "shorter than 32"),
            (format!("{GOOD} x"), "visible ASCII"),
            (
                "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2VociJ9.c2lnbmF0dXJlc2lnbmF0dXJl"
                    .to_owned(),
                "is a JWT",
            ),
        ] {
            let raw = RawAdmin {
                tokens: vec![GOOD.into(), bad.clone()],
                tokens_file: String::new(),
            };
            assert!(!format!("{raw:?}").contains(&bad));
            let e = raw.validate(None).unwrap_err().to_string();
            assert!(e.contains("admin.tokens") && e.contains("token #2"), "{e}");
            assert!(e.contains(why), "{e}");
            assert!(!e.contains(&bad), "the token leaks: {e}");
        }
    }

    #[test]
    fn a_tokens_file_is_read_relative_to_the_configuration() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("admin.tokens"),
            format!("# committee\n\n{GOOD}\n"),
        )
        .unwrap();
        let config = dir.path().join("config.toml");
        let s = RawAdmin {
            tokens: vec![],
            tokens_file: "admin.tokens".into(),
        }
        .validate(Some(&config))
        .unwrap();
        assert!(s.accepts(GOOD));
        std::fs::write(dir.path().join("empty.tokens"), "# none yet\n").unwrap();
        let e = RawAdmin {
            tokens: vec![],
            tokens_file: "empty.tokens".into(),
        }
        .validate(Some(&config))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("admin.tokens_file") && e.contains("no token"),
            "{e}"
        );
        let e = RawAdmin {
            tokens: vec![],
            tokens_file: "missing.tokens".into(),
        }
        .validate(Some(&config))
        .unwrap_err()
        .to_string();
        assert!(e.contains("cannot read"), "{e}");
    }
}
