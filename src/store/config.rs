//! The `[store]` section: where feedback, the decision audit and JWT `jti`s are kept (issue 6).
//!
//! `url` empty means a SQLite file under `data_dir`, so the service works out of the box with
//! no database to install; a `postgres://` URL lets several replicas share one store.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config_error::ConfigError;

/// The SQLite file name under `store.data_dir` when `store.url` is empty.
pub const DEFAULT_SQLITE_FILE: &str = "alemtuzumab-cds.db";

/// `[store]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStore {
    pub url: String,
    pub data_dir: String,
    pub audit_retention_days: u32,
    pub audit_queue_capacity: u32,
    pub audit_batch_max: u32,
    pub audit_flush_interval_ms: u64,
    pub max_connections: u32,
    pub connect_timeout_ms: u64,
}

impl Default for RawStore {
    fn default() -> Self {
        Self {
            url: String::new(),
            data_dir: "./data".to_owned(),
            // Pharmacovigilance files are kept for ten years; 0 keeps everything.
            audit_retention_days: 3650,
            audit_queue_capacity: 10_000,
            audit_batch_max: 64,
            audit_flush_interval_ms: 50,
            max_connections: 5,
            connect_timeout_ms: 5_000,
        }
    }
}

/// Which database the store uses.
#[derive(Clone, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (created with its directory when missing).
    Sqlite { path: PathBuf },
    /// A PostgreSQL connection URL (may hold a password: never logged as is).
    Postgres { url: String },
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.describe())
    }
}

impl Backend {
    /// What to call the store in logs and messages: the SQLite file, or the PostgreSQL URL
    /// without its password.
    pub fn describe(&self) -> String {
        match self {
            Backend::Sqlite { path } => format!("SQLite file `{}`", path.display()),
            Backend::Postgres { url } => match url::Url::parse(url) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    format!("PostgreSQL `{u}`")
                }
                Err(_) => "PostgreSQL (unparseable URL)".to_owned(),
            },
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }
}

/// The validated `[store]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSettings {
    pub backend: Backend,
    pub data_dir: PathBuf,
    /// Decisions, cards and feedback older than this are purged; `None` keeps everything.
    pub audit_retention: Option<chrono::Duration>,
    pub audit_queue_capacity: usize,
    pub audit_batch_max: usize,
    pub audit_flush_interval: Duration,
    pub max_connections: u32,
    pub connect_timeout: Duration,
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::invalid(key, message)
}

impl RawStore {
    /// Validates `[store]`; every error names its key.
    pub fn validate(self) -> Result<StoreSettings, ConfigError> {
        if self.data_dir.trim().is_empty() {
            return Err(invalid("store.data_dir", "must not be empty"));
        }
        let data_dir = PathBuf::from(self.data_dir.trim());
        let url = self.url.trim();
        let backend = if url.is_empty() {
            Backend::Sqlite {
                path: data_dir.join(DEFAULT_SQLITE_FILE),
            }
        } else if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                // An in-memory store would lose every feedback on restart (issue 6: durability).
                return Err(invalid(
                    "store.url",
                    "a SQLite URL must name a file, e.g. sqlite:///var/lib/alemtuzumab-cds/store.db",
                ));
            }
            Backend::Sqlite {
                path: PathBuf::from(path),
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let parsed = url::Url::parse(url).map_err(|e| invalid("store.url", e.to_string()))?;
            if !matches!(parsed.host_str(), Some(h) if !h.is_empty()) && !url.contains("host=") {
                return Err(invalid("store.url", "a PostgreSQL URL needs a host"));
            }
            Backend::Postgres {
                url: url.to_owned(),
            }
        } else {
            return Err(invalid(
                "store.url",
                "expected empty (SQLite under store.data_dir), sqlite://FILE or postgres://…",
            ));
        };
        if self.audit_queue_capacity == 0 {
            return Err(invalid("store.audit_queue_capacity", "must be at least 1"));
        }
        if self.audit_batch_max == 0 {
            return Err(invalid("store.audit_batch_max", "must be at least 1"));
        }
        if self.audit_flush_interval_ms == 0 || self.audit_flush_interval_ms > 60_000 {
            return Err(invalid(
                "store.audit_flush_interval_ms",
                "must be between 1 and 60000",
            ));
        }
        if self.max_connections == 0 {
            return Err(invalid("store.max_connections", "must be at least 1"));
        }
        if self.connect_timeout_ms == 0 {
            return Err(invalid("store.connect_timeout_ms", "must be at least 1"));
        }
        Ok(StoreSettings {
            backend,
            data_dir,
            audit_retention: (self.audit_retention_days > 0)
                .then(|| chrono::Duration::days(i64::from(self.audit_retention_days))),
            audit_queue_capacity: self.audit_queue_capacity as usize,
            audit_batch_max: self.audit_batch_max as usize,
            audit_flush_interval: Duration::from_millis(self.audit_flush_interval_ms),
            max_connections: self.max_connections,
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_a_sqlite_file_under_the_data_dir() {
        let s = RawStore::default().validate().unwrap();
        assert_eq!(
            s.backend,
            Backend::Sqlite {
                path: PathBuf::from("./data").join(DEFAULT_SQLITE_FILE)
            }
        );
        assert_eq!(s.audit_retention, Some(chrono::Duration::days(3650)));
    }

    #[test]
    fn postgres_urls_are_accepted_and_their_password_is_never_shown() {
        let raw = RawStore {
            url: "postgres://cds:s3cret@db.hospital.example:5432/cds".to_owned(),
            ..RawStore::default()
        };
        let s = raw.validate().unwrap();
        let shown = s.backend.describe();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.hospital.example"), "{shown}");
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn errors_name_the_key() {
        for (raw, key) in [
            (
                RawStore {
                    url: "mysql://x".to_owned(),
                    ..RawStore::default()
                },
                "store.url",
            ),
            (
                RawStore {
                    url: "sqlite::memory:".to_owned(),
                    ..RawStore::default()
                },
                "store.url",
            ),
            (
                RawStore {
                    audit_queue_capacity: 0,
                    ..RawStore::default()
                },
                "store.audit_queue_capacity",
            ),
            (
                RawStore {
                    data_dir: " ".to_owned(),
                    ..RawStore::default()
                },
                "store.data_dir",
            ),
        ] {
            let err = raw.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
