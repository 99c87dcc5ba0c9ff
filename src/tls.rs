//! HTTPS served directly by the service: rustls on aws-lc-rs (no OpenSSL anywhere), with the PEM
//! certificate chain and private key of `[server] tls_cert_file` / `tls_key_file`.
//!
//! The files are read at start (a bad pair refuses to start, naming the key) and re-read every
//! `server.tls_reload_secs`: a renewed certificate is served to new connections without a restart,
//! and a half-written or mismatched pair is logged and ignored (the previous pair keeps serving),
//! so a certificate rotation can never take the service down.
//!
//! An expired certificate makes every EHR call fail before it reaches the rules, so the served
//! certificate's end of validity is exported (`cds_tls_certificate_expiry_timestamp_seconds`)
//! and logged: `warn` once a day within [`EXPIRY_WARNING_DAYS`] of it, `error` once past it.
//!
//! Without these keys the service speaks plain HTTP, for a reverse proxy that terminates TLS
//! (README §Security says which to choose).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

/// `[server] tls_*` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// How often the files are checked for a renewed pair; `None`: never (restart to renew).
    pub reload_interval: Option<Duration>,
}

/// What is wrong with the configured pair, naming the configuration key to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration key `{key}`: {message}")]
pub struct TlsError {
    pub key: &'static str,
    pub message: String,
}

/// Days before the end of validity from which the log warns (once a day).
pub const EXPIRY_WARNING_DAYS: i64 = 30;

const CERT_KEY: &str = "server.tls_cert_file";
const KEY_KEY: &str = "server.tls_key_file";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The raw bytes of both files, compared on each reload tick (contents, not mtimes: a rotation
/// within the same second, or a symlink swap as Kubernetes does for secrets, is still seen).
#[derive(PartialEq, Eq)]
struct Pem {
    cert: Vec<u8>,
    key: Vec<u8>,
}

fn read(settings: &TlsSettings) -> Result<Pem, TlsError> {
    let read_one = |key: &'static str, path: &Path| {
        std::fs::read(path).map_err(|e| TlsError {
            key,
            message: format!("`{}`: {e}", path.display()),
        })
    };
    Ok(Pem {
        cert: read_one(CERT_KEY, &settings.cert_file)?,
        key: read_one(KEY_KEY, &settings.key_file)?,
    })
}

fn certified_key(settings: &TlsSettings, pem: &Pem) -> Result<CertifiedKey, TlsError> {
    let cert_err = |message: String| TlsError {
        key: CERT_KEY,
        message: format!("`{}`: {message}", settings.cert_file.display()),
    };
    let key_err = |message: String| TlsError {
        key: KEY_KEY,
        message: format!("`{}`: {message}", settings.key_file.display()),
    };
    let chain = CertificateDer::pem_slice_iter(&pem.cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(format!("not a PEM certificate chain ({e})")))?;
    if chain.is_empty() {
        return Err(cert_err(
            "holds no `-----BEGIN CERTIFICATE-----` block (the server certificate comes first, \
             then its intermediates)"
                .to_owned(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&pem.key).map_err(|e| {
        key_err(format!(
            "no usable private key ({e}); expected a PEM PKCS#8, PKCS#1 (RSA) or SEC1 (EC) key"
        ))
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => key_err(format!(
            "does not match the certificate in `{}`",
            settings.cert_file.display()
        )),
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            cert_err(format!("the first certificate is not usable ({e})"))
        }
        other => key_err(format!("the private key is not usable ({other})")),
    })
}

/// Seconds since the epoch at which the server certificate (first of the chain) stops being valid.
fn not_after(key: &CertifiedKey) -> Option<i64> {
    let der = key.cert.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// How close the certificate is to its end of validity, as of `now` (both in epoch seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Valid,
    /// Ends within [`EXPIRY_WARNING_DAYS`]: whole days left.
    Soon(i64),
    Expired,
}

fn expiry(not_after: i64, now: i64) -> Expiry {
    let left = not_after - now;
    if left <= 0 {
        Expiry::Expired
    } else if left < EXPIRY_WARNING_DAYS * 86_400 {
        Expiry::Soon(left / 86_400)
    } else {
        Expiry::Valid
    }
}

/// Exports the end of validity and logs how close it is; `at_load` logs it even when far away.
fn report_expiry(settings: &TlsSettings, key: &CertifiedKey, at_load: bool) {
    let file = settings.cert_file.display().to_string();
    let Some(not_after) = not_after(key) else {
        tracing::warn!(cert_file = %file, "TLS certificate validity could not be read");
        return;
    };
    metrics::gauge!("cds_tls_certificate_expiry_timestamp_seconds", "file" => file.clone())
        .set(not_after as f64);
    let until = chrono::DateTime::from_timestamp(not_after, 0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_else(|| not_after.to_string());
    match expiry(not_after, chrono::Utc::now().timestamp()) {
        Expiry::Expired => tracing::error!(
            cert_file = %file, not_after = %until,
            "TLS certificate has EXPIRED: EHRs will refuse to connect and no alemtuzumab order is \
             checked; install a renewed certificate"
        ),
        Expiry::Soon(days) => tracing::warn!(
            cert_file = %file, not_after = %until, days_left = days,
            "TLS certificate expires soon; install a renewed certificate"
        ),
        Expiry::Valid if at_load => {
            tracing::info!(cert_file = %file, not_after = %until, "TLS certificate valid")
        }
        Expiry::Valid => {}
    }
}

/// Reads and checks the configured pair (configuration validation and start-up use it).
pub fn check(settings: &TlsSettings) -> Result<(), TlsError> {
    certified_key(settings, &read(settings)?).map(|_| ())
}

/// Hands every handshake the current pair; replaced in place when the files change.
#[derive(Debug)]
struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl Resolver {
    fn current(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, key: Arc<CertifiedKey>) {
        match self.current.write() {
            Ok(mut g) => *g = key,
            Err(poisoned) => *poisoned.into_inner() = key,
        }
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The rustls configuration for the listener, and (when reloading is on) a background thread that
/// re-reads the files; the thread ends once the server, and so the resolver, is gone.
pub fn server_config(settings: &TlsSettings) -> Result<ServerConfig, TlsError> {
    build(settings).map(|(config, _reloader)| config)
}

fn build(
    settings: &TlsSettings,
) -> Result<(ServerConfig, Option<std::thread::JoinHandle<()>>), TlsError> {
    let pem = read(settings)?;
    let key = certified_key(settings, &pem)?;
    let resolver = Arc::new(Resolver {
        current: RwLock::new(Arc::new(key)),
    });
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError {
            key: CERT_KEY,
            message: format!("TLS set-up failed: {e}"),
        })?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    tracing::info!(
        cert_file = %settings.cert_file.display(),
        chain_len = resolver.current().cert.len(),
        "HTTPS: TLS certificate loaded"
    );
    report_expiry(settings, &resolver.current(), true);
    let reloader = match settings.reload_interval {
        None => None,
        Some(every) => {
            let weak = Arc::downgrade(&resolver);
            let settings = settings.clone();
            let handle = std::thread::Builder::new()
                .name("tls-reload".to_owned())
                .spawn(move || reload_loop(weak, settings, pem, every))
                .map_err(|e| TlsError {
                    key: "server.tls_reload_secs",
                    message: format!("cannot start the certificate reload thread: {e}"),
                })?;
            Some(handle)
        }
    };
    Ok((config, reloader))
}

fn reload_loop(resolver: Weak<Resolver>, settings: TlsSettings, mut loaded: Pem, every: Duration) {
    // The last pair that failed, so a broken rotation is logged once, not every tick.
    let mut rejected: Option<Pem> = None;
    let daily = Duration::from_secs(86_400);
    let mut last_expiry_report = std::time::Instant::now();
    loop {
        std::thread::sleep(every);
        let Some(resolver) = resolver.upgrade() else {
            return;
        };
        if last_expiry_report.elapsed() >= daily {
            report_expiry(&settings, &resolver.current(), false);
            last_expiry_report = std::time::Instant::now();
        }
        let pem = match read(&settings) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "TLS certificate not reloaded; still serving the previous one");
                continue;
            }
        };
        if pem == loaded || rejected.as_ref() == Some(&pem) {
            continue;
        }
        match certified_key(&settings, &pem) {
            Ok(key) => {
                let key = Arc::new(key);
                resolver.replace(key.clone());
                loaded = pem;
                rejected = None;
                metrics::counter!("cds_tls_reloads_total", "outcome" => "loaded").increment(1);
                tracing::info!(
                    cert_file = %settings.cert_file.display(),
                    "HTTPS: renewed TLS certificate loaded; new connections use it"
                );
                report_expiry(&settings, &key, true);
                last_expiry_report = std::time::Instant::now();
            }
            Err(e) => {
                metrics::counter!("cds_tls_reloads_total", "outcome" => "rejected").increment(1);
                tracing::error!(
                    error = %e,
                    "TLS certificate files changed but do not form a usable pair (a rotation \
                     half done?); still serving the previous certificate"
                );
                rejected = Some(pem);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> TlsSettings {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let cert_file = dir.join(format!("{name}.crt"));
        let key_file = dir.join(format!("{name}.key"));
        std::fs::write(&cert_file, cert.pem()).expect("write cert");
        std::fs::write(&key_file, key.serialize_pem()).expect("write key");
        TlsSettings {
            cert_file,
            key_file,
            reload_interval: None,
        }
    }

    #[test]
    fn a_matching_pair_is_accepted() {
        let dir = tempfile::tempdir().expect("dir");
        let s = pair(dir.path(), "a");
        assert_eq!(check(&s), Ok(()));
        assert!(server_config(&s).is_ok());
    }

    #[test]
    fn a_missing_file_names_its_key() {
        let dir = tempfile::tempdir().expect("dir");
        let mut s = pair(dir.path(), "a");
        s.key_file = dir.path().join("absent.key");
        assert_eq!(check(&s).map_err(|e| e.key), Err(KEY_KEY));
        s.cert_file = dir.path().join("absent.crt");
        assert_eq!(check(&s).map_err(|e| e.key), Err(CERT_KEY));
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let a = pair(dir.path(), "a");
        let b = pair(dir.path(), "b");
        let mixed = TlsSettings {
            key_file: b.key_file,
            ..a
        };
        let err = check(&mixed).expect_err("mismatch");
        assert_eq!(err.key, KEY_KEY);
        assert!(err.message.contains("does not match"), "{}", err.message);
    }

    #[test]
    fn files_that_are_not_pem_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let s = pair(dir.path(), "a");
        // A key where the certificate should be: no CERTIFICATE block.
        let swapped = TlsSettings {
            cert_file: s.key_file.clone(),
            key_file: s.key_file.clone(),
            reload_interval: None,
        };
        let err = check(&swapped).expect_err("no certificate");
        assert_eq!(err.key, CERT_KEY);
        assert!(
            err.message.contains("no `-----BEGIN CERTIFICATE"),
            "{}",
            err.message
        );
        // A certificate where the key should be.
        let swapped = TlsSettings {
            cert_file: s.cert_file.clone(),
            key_file: s.cert_file.clone(),
            reload_interval: None,
        };
        assert_eq!(check(&swapped).map_err(|e| e.key), Err(KEY_KEY));
        // A certificate block holding garbage.
        std::fs::write(
            &s.cert_file,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        assert_eq!(check(&s).map_err(|e| e.key), Err(CERT_KEY));
    }

    #[test]
    fn the_end_of_validity_is_read_from_the_server_certificate() {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params.not_after = rcgen::date_time_ymd(2031, 1, 1);
        let cert = params.self_signed(&key).expect("cert");
        let dir = tempfile::tempdir().expect("dir");
        let s = TlsSettings {
            cert_file: dir.path().join("c.crt"),
            key_file: dir.path().join("c.key"),
            reload_interval: None,
        };
        std::fs::write(&s.cert_file, cert.pem()).expect("write");
        std::fs::write(&s.key_file, key.serialize_pem()).expect("write");
        let loaded = certified_key(&s, &read(&s).expect("read")).expect("pair");
        assert_eq!(not_after(&loaded), Some(1_924_992_000)); // 2031-01-01T00:00:00Z
    }

    #[test]
    fn expiry_warns_within_thirty_days_and_flags_an_expired_certificate() {
        let day = 86_400;
        let now = 1_800_000_000;
        assert_eq!(expiry(now + 90 * day, now), Expiry::Valid);
        assert_eq!(expiry(now + 30 * day, now), Expiry::Valid);
        assert_eq!(expiry(now + 30 * day - 1, now), Expiry::Soon(29));
        assert_eq!(expiry(now + 1, now), Expiry::Soon(0));
        assert_eq!(expiry(now, now), Expiry::Expired);
        assert_eq!(expiry(now - day, now), Expiry::Expired);
    }

    #[test]
    fn the_reload_thread_ends_with_the_server() {
        let dir = tempfile::tempdir().expect("dir");
        let mut s = pair(dir.path(), "a");
        s.reload_interval = Some(Duration::from_millis(10));
        let (config, reloader) = build(&s).expect("config");
        let reloader = reloader.expect("a reload thread");
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !reloader.is_finished(),
            "the thread runs while the server does"
        );
        drop(config);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !reloader.is_finished() {
            assert!(
                std::time::Instant::now() < deadline,
                "the thread outlived the server"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
