//! [`ConfigError`]: a configuration error that names the key. Its own leaf module, so that each
//! section's settings (`auth`, `store`, `config`) validate themselves beside their owner without
//! importing `config`, which imports them all.

use std::path::PathBuf;

/// A configuration error that names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("configuration file `{0}` does not exist")]
    MissingFile(PathBuf),
}

impl ConfigError {
    /// The key's value is refused, and why.
    pub fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}
