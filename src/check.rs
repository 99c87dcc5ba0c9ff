//! `alemtuzumab-cds check`: the installer's pre-flight (issue 15 §2). Hospital IT runs it after
//! editing the configuration and before registering the service in the EHR. It loads and
//! validates the configuration as `serve` does, then **tries** every dependency and prints one
//! line per check, PASS / WARN / FAIL, each WARN and FAIL with what to do:
//!
//! - the mode: JWT issuers configured, local mode, or an unauthenticated test bench;
//! - `server.public_url` against `bind` and TLS (the JWT `aud` the EHR signs is this URL);
//! - the TLS pair (`server.tls_*`): matching (configuration), days to expiry, host name;
//! - the store: opened (created and migrated as `serve` does at start) and written;
//! - each issuer's JWKS (`jwks_url` fetched, or `jwks_file`): kids, algorithms, key sizes;
//!   each `jku_allow` URL fetched and parsed;
//! - each `fhir.allowed_servers` base: `GET [base]/metadata` answers a FHIR R4
//!   CapabilityStatement, and whether it declares the searches the prefetch uses.
//!
//! Exit code 0 when nothing FAILs (WARNs included), 1 otherwise.

use std::fmt::Write as _;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use serde_json::Value;

use crate::auth::KeySource;
use crate::config::Settings;

/// How long one dependency may take to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the pre-flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub status: Status,
    /// What was checked, e.g. `fhir https://ehr/fhir/r4`.
    pub check: String,
    pub detail: String,
    /// What to do (empty for a PASS).
    pub fix: String,
}

fn item(status: Status, check: impl Into<String>, detail: impl Into<String>, fix: &str) -> Item {
    Item {
        status,
        check: check.into(),
        detail: detail.into(),
        fix: fix.to_owned(),
    }
}

/// The configuration could not be loaded: one FAIL line.
pub fn config_failure(message: &str) -> Vec<Item> {
    vec![item(
        Status::Fail,
        "configuration",
        message,
        "fix the key named above (cds-hooks/configuration.md explains every key), then run check again",
    )]
}

/// Every check of a loaded configuration.
pub async fn run(settings: &Settings) -> Vec<Item> {
    let mut items = vec![item(
        Status::Pass,
        "configuration",
        match &settings.source {
            Some(p) => format!("`{}` loaded and valid", p.display()),
            None => "built-in defaults (no file) valid".to_owned(),
        },
        "",
    )];
    items.push(mode(settings));
    items.extend(public_url(settings));
    items.extend(tls(settings));
    items.push(store(settings).await);
    let client = match reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .connect_timeout(PROBE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("alemtuzumab-cds-check/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            items.push(item(
                Status::Fail,
                "http client",
                crate::net::client_build_error("the probes", &e),
                "fix what the message names; otherwise report it as a bug",
            ));
            return items;
        }
    };
    items.extend(issuers(settings, &client).await);
    items.extend(fhir(settings, &client).await);
    items
}

/// Whether any line FAILs.
pub fn failed(items: &[Item]) -> bool {
    items.iter().any(|i| i.status == Status::Fail)
}

/// The table: status, check, detail, and the fix under each WARN or FAIL.
pub fn render(items: &[Item]) -> String {
    let width = items
        .iter()
        .map(|i| i.check.chars().count())
        .max()
        .unwrap_or(0)
        .min(48);
    let mut out = String::new();
    let _ = writeln!(out, "{:<6} {:<width$}  DETAIL", "STATUS", "CHECK");
    for i in items {
        let _ = writeln!(
            out,
            "{:<6} {:<width$}  {}",
            i.status.as_str(),
            i.check,
            i.detail
        );
        if i.status != Status::Pass && !i.fix.is_empty() {
            let _ = writeln!(out, "{:<6} {:<width$}  fix: {}", "", "", i.fix);
        }
    }
    let count = |s: Status| items.iter().filter(|i| i.status == s).count();
    let _ = writeln!(
        out,
        "\n{} PASS, {} WARN, {} FAIL: {}",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        if failed(items) {
            "NOT ready to register in the EHR"
        } else {
            "ready to register in the EHR"
        }
    );
    out
}

fn mode(settings: &Settings) -> Item {
    let auth = &settings.auth;
    if auth.enabled() {
        let list: Vec<&str> = auth.issuers.iter().map(|i| i.iss.as_str()).collect();
        item(
            Status::Pass,
            "mode",
            format!("JWT authentication on: issuer(s) {}", list.join(", ")),
            "",
        )
    } else if auth.allow_unauthenticated {
        item(
            Status::Warn,
            "mode",
            format!(
                "auth.allow_unauthenticated: unsigned calls are served on {}",
                settings.bind
            ),
            "for a closed test bench only: configure [[auth.issuers]] before connecting a real EHR",
        )
    } else {
        item(
            Status::Warn,
            "mode",
            format!(
                "local mode: no JWT issuer, served on loopback {} only",
                settings.bind
            ),
            "to serve an EHR, configure its issuer in [[auth.issuers]] (iss, jwks_url or jwks_file) and server.public_url",
        )
    }
}

fn public_url(settings: &Settings) -> Vec<Item> {
    let check = "public_url";
    let Ok(u) = url::Url::parse(&settings.public_url) else {
        return vec![item(
            Status::Fail,
            check,
            format!("`{}` is not a URL", settings.public_url),
            "set server.public_url to the https URL the EHR calls",
        )];
    };
    let host = u.host_str().unwrap_or("");
    let mut out = Vec::new();
    if host == "0.0.0.0" || host == "[::]" || host == "::" {
        out.push(item(
            Status::Fail,
            check,
            format!(
                "`{}` names no host (derived from bind {})",
                u, settings.bind
            ),
            "set server.public_url to the URL the EHR calls, e.g. https://cds.hospital.example",
        ));
        return out;
    }
    match (u.scheme(), settings.tls.is_some()) {
        ("http", true) => out.push(item(
            Status::Fail,
            check,
            format!("`{u}` is http but this service serves HTTPS (server.tls_* set)"),
            "write server.public_url with https://, as the EHR calls it (JWT aud is this URL)",
        )),
        ("https", false) => out.push(item(
            Status::Pass,
            check,
            format!(
                "`{u}`: TLS terminated by a reverse proxy in front of {}",
                settings.bind
            ),
            "",
        )),
        ("https", true) => out.push(item(
            Status::Pass,
            check,
            format!("`{u}`: HTTPS served directly on {}", settings.bind),
            "",
        )),
        _ => {
            let loopback = crate::net::is_loopback_host(&u);
            if loopback && !settings.auth.enabled() {
                out.push(item(
                    Status::Pass,
                    check,
                    format!("`{u}`: plain HTTP on loopback (local mode)"),
                    "",
                ));
            } else {
                out.push(item(
                    Status::Warn,
                    check,
                    format!("`{u}` is plain HTTP: EHR tokens and patient data would cross the network in clear"),
                    "serve HTTPS (server.tls_cert_file/tls_key_file) or put a TLS-terminating proxy in front and write its https URL in server.public_url",
                ));
            }
        }
    }
    if settings.auth.enabled()
        && crate::net::is_loopback_host(&u)
        && !settings.bind.ip().is_loopback()
    {
        out.push(item(
            Status::Warn,
            check,
            format!("`{u}` is a loopback URL, but the EHR calls this service from the network"),
            "set server.public_url to the URL the EHR calls: JWTs signed for another aud are refused",
        ));
    }
    out
}

fn tls(settings: &Settings) -> Vec<Item> {
    let Some(t) = &settings.tls else {
        return Vec::new();
    };
    let check = "tls";
    let mut out = vec![item(
        Status::Pass,
        check,
        format!(
            "`{}` and `{}` match",
            t.cert_file.display(),
            t.key_file.display()
        ),
        "",
    )];
    let cert = match std::fs::read(&t.cert_file) {
        Ok(c) => c,
        Err(e) => {
            out.push(item(
                Status::Fail,
                check,
                format!("`{}`: {e}", t.cert_file.display()),
                "make the certificate readable by the service's user",
            ));
            return out;
        }
    };
    use rustls::pki_types::pem::PemObject;
    let first = rustls::pki_types::CertificateDer::pem_slice_iter(&cert).next();
    let Some(Ok(der)) = first else {
        out.push(item(
            Status::Fail,
            check,
            format!("`{}` holds no PEM certificate", t.cert_file.display()),
            "install the server certificate (PEM, server first, then intermediates)",
        ));
        return out;
    };
    let parsed = x509_parser::parse_x509_certificate(der.as_ref());
    let Ok((_, x509)) = parsed else {
        out.push(item(
            Status::Fail,
            check,
            format!(
                "`{}`: the certificate cannot be read",
                t.cert_file.display()
            ),
            "install a valid X.509 certificate",
        ));
        return out;
    };
    out.push(certificate_expiry(check, &x509));
    // The host the EHR calls must be one the certificate names.
    if let Some(host) = url::Url::parse(&settings.public_url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_owned()))
    {
        out.extend(certificate_host(check, &x509, &host));
    }
    out
}

/// How long the certificate stays valid: FAIL when expired, WARN within
/// `tls::EXPIRY_WARNING_DAYS`.
fn certificate_expiry(check: &str, x509: &x509_parser::certificate::X509Certificate<'_>) -> Item {
    let not_after = x509.validity().not_after.timestamp();
    let left = not_after - chrono::Utc::now().timestamp();
    let until = chrono::DateTime::from_timestamp(not_after, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    if left <= 0 {
        item(
            Status::Fail,
            check,
            format!("certificate EXPIRED on {until}: EHRs will refuse to connect"),
            "install a renewed certificate and key (reloaded within server.tls_reload_secs)",
        )
    } else if left < crate::tls::EXPIRY_WARNING_DAYS * 86_400 {
        item(
            Status::Warn,
            check,
            format!(
                "certificate expires in {} day(s), on {until}",
                left / 86_400
            ),
            "renew the certificate before it expires",
        )
    } else {
        item(
            Status::Pass,
            check,
            format!(
                "certificate valid {} more days (until {until})",
                left / 86_400
            ),
            "",
        )
    }
}

/// The DNS names and IP addresses of the certificate's subjectAltName.
fn certificate_names(x509: &x509_parser::certificate::X509Certificate<'_>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    if let Ok(Some(san)) = x509.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                x509_parser::extensions::GeneralName::DNSName(d) => names.push(d.to_string()),
                x509_parser::extensions::GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b)
                            .ok()
                            .map(|a| std::net::IpAddr::from(a).to_string()),
                        16 => <[u8; 16]>::try_from(*b)
                            .ok()
                            .map(|a| std::net::IpAddr::from(a).to_string()),
                        _ => None,
                    };
                    names.extend(ip);
                }
                _ => {}
            }
        }
    }
    names
}

/// A WARN when the certificate does not name `host` (public_url's host), exactly or by a
/// one-level wildcard.
fn certificate_host(
    check: &str,
    x509: &x509_parser::certificate::X509Certificate<'_>,
    host: &str,
) -> Option<Item> {
    let names = certificate_names(x509);
    let matches = names.iter().any(|n| {
        n.eq_ignore_ascii_case(host)
            || n.strip_prefix("*.").is_some_and(|suffix| {
                host.split_once('.')
                    .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(suffix))
            })
    });
    if matches {
        return None;
    }
    Some(item(
        Status::Warn,
        check,
        format!(
            "the certificate names {} but public_url's host is `{host}`",
            if names.is_empty() {
                "no host".to_owned()
            } else {
                names.join(", ")
            }
        ),
        "use a certificate whose subjectAltName includes public_url's host",
    ))
}

async fn store(settings: &Settings) -> Item {
    let s = &settings.store;
    let check = "store";
    let target = s.backend.describe();
    let fix = match &s.backend {
        crate::store::config::Backend::Sqlite { .. } => {
            "make store.data_dir (or the sqlite:// file's directory) exist and writable by the service's user, on a local disk"
        }
        crate::store::config::Backend::Postgres { .. } => {
            "check store.url: host, port, database, user and password, and that PostgreSQL accepts this host (pg_hba.conf)"
        }
    };
    if let Some(warning) = foreign_sqlite_dir(&s.backend) {
        return item(
            Status::Warn,
            check,
            warning,
            "run check as the service's user, e.g. `runuser -u alemtuzumab-cds -- alemtuzumab-cds check --config …`",
        );
    }
    let wait = s.connect_timeout + Duration::from_secs(5);
    let opened = tokio::time::timeout(wait, crate::store::Store::open(s)).await;
    let store = match opened {
        Ok(Ok(store)) => store,
        Ok(Err(e)) => return item(Status::Fail, check, e.to_string(), fix),
        Err(_) => {
            return item(
                Status::Fail,
                check,
                format!("{target} did not answer within {} s", wait.as_secs()),
                fix,
            )
        }
    };
    let probe = tokio::time::timeout(PROBE_TIMEOUT, store.probe()).await;
    store.close().await;
    match probe {
        Ok(Ok(())) => item(
            Status::Pass,
            check,
            format!("{target}: open, schema migrated to this version, writable"),
            "",
        ),
        Ok(Err(e)) => item(
            Status::Fail,
            check,
            format!("{target} is not writable: {e}"),
            fix,
        ),
        Err(_) => item(
            Status::Fail,
            check,
            format!(
                "{target}: a write did not finish within {} s",
                PROBE_TIMEOUT.as_secs()
            ),
            fix,
        ),
    }
}

/// A SQLite file that does not exist yet, in a directory owned by another user than the one
/// running check (typically root before the first start): creating it here would leave the
/// service a file it cannot write (the store creates it `0600`), so it is not opened.
#[cfg(unix)]
fn foreign_sqlite_dir(backend: &crate::store::config::Backend) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let crate::store::config::Backend::Sqlite { path } = backend else {
        return None;
    };
    if path.exists() {
        return None;
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    let owner = std::fs::metadata(dir).ok()?.uid();
    // The effective uid of this process.
    let me = std::fs::metadata("/proc/self").ok()?.uid();
    (owner != me).then(|| {
        format!(
            "`{}` does not exist yet and `{}` belongs to uid {owner}, not to this check's uid {me}: \
             not created, so that the service can write it",
            path.display(),
            dir.display()
        )
    })
}

#[cfg(not(unix))]
fn foreign_sqlite_dir(_: &crate::store::config::Backend) -> Option<String> {
    None
}

/// kid, algorithm and size of each key, and what is wrong with the set.
fn describe_jwks(set: &JwkSet, accepted: &[jsonwebtoken::Algorithm]) -> (String, Vec<String>) {
    let mut keys = Vec::new();
    let mut problems = Vec::new();
    for k in &set.keys {
        let kid = k
            .common
            .key_id
            .clone()
            .unwrap_or_else(|| "(no kid)".to_owned());
        let alg = k
            .common
            .key_algorithm
            .map(|a| format!("{a:?}"))
            .unwrap_or_else(|| "(alg unset)".to_owned());
        let size = match &k.algorithm {
            AlgorithmParameters::RSA(r) => {
                let bits = r.n.trim_end_matches('=').len() * 6 / 8 * 8;
                if bits < 2048 {
                    problems.push(format!("key `{kid}` is RSA {bits} bits (< 2048)"));
                }
                format!("RSA {bits}")
            }
            AlgorithmParameters::EllipticCurve(e) => format!("EC {:?}", e.curve),
            AlgorithmParameters::OctetKey(_) => {
                problems.push(format!(
                    "key `{kid}` is a shared secret (oct), never accepted"
                ));
                "oct".to_owned()
            }
            AlgorithmParameters::OctetKeyPair(o) => format!("OKP {:?}", o.curve),
            _ => "unknown key type".to_owned(),
        };
        if let Some(a) = k.common.key_algorithm {
            let usable = accepted
                .iter()
                .any(|x| format!("{x:?}") == format!("{a:?}"));
            if !usable {
                problems.push(format!("key `{kid}` is for {a:?}, not in auth.algorithms"));
            }
        }
        keys.push(format!("{kid} ({alg}, {size})"));
    }
    if set.keys.is_empty() {
        problems.push("the set holds no key".to_owned());
    }
    (keys.join("; "), problems)
}

async fn fetch_jwks(client: &reqwest::Client, url: &url::Url) -> Result<JwkSet, String> {
    let resp = client
        .get(url.clone())
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("unreachable: {}", error_chain(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("answered HTTP {status}"));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("body not read: {}", error_chain(&e)))?;
    crate::auth::parse_jwks(&body)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let _ = write!(s, ": {inner}");
        source = inner.source();
    }
    s
}

async fn issuers(settings: &Settings, client: &reqwest::Client) -> Vec<Item> {
    let mut out = Vec::new();
    let accepted = &settings.auth.algorithms;
    for issuer in &settings.auth.issuers {
        let check = format!("jwks {}", issuer.iss);
        let (set, from) = match &issuer.keys {
            KeySource::File(set) => (Ok(set.clone()), "jwks_file".to_owned()),
            KeySource::Url(u) => (fetch_jwks(client, u).await, format!("`{u}`")),
        };
        match set {
            Ok(set) => {
                let (keys, problems) = describe_jwks(&set, accepted);
                if problems.is_empty() {
                    out.push(item(Status::Pass, &check, format!("{from}: {keys}"), ""));
                } else {
                    let fatal = set.keys.is_empty();
                    out.push(item(
                        if fatal { Status::Fail } else { Status::Warn },
                        &check,
                        format!("{from}: {keys} — {}", problems.join("; ")),
                        "ask the EHR team for its signing keys' JWKS (RS/ES 256 or 384, RSA ≥ 2048 bits) and list its algorithms in auth.algorithms",
                    ));
                }
            }
            Err(e) => out.push(item(
                Status::Fail,
                &check,
                format!("{from}: {e}"),
                "check jwks_url (reachable from this host, proxy, firewall) or the jwks_file: calls from this EHR are refused until its keys are read",
            )),
        }
        for u in &issuer.jku_allow {
            let check = format!("jku {}", issuer.iss);
            match fetch_jwks(client, u).await {
                Ok(set) => {
                    let (keys, problems) = describe_jwks(&set, accepted);
                    out.push(item(
                        if problems.is_empty() {
                            Status::Pass
                        } else {
                            Status::Warn
                        },
                        &check,
                        format!(
                            "`{u}`: {keys}{}",
                            if problems.is_empty() {
                                String::new()
                            } else {
                                format!(" — {}", problems.join("; "))
                            }
                        ),
                        "fix or remove this jku_allow entry",
                    ));
                }
                Err(e) => out.push(item(
                    Status::Fail,
                    &check,
                    format!("`{u}`: {e}"),
                    "fix or remove this jku_allow entry: tokens naming it are refused",
                )),
            }
        }
    }
    out
}

/// The searches the prefetch uses (src/wire/discovery.rs), as (resource, search parameters).
const SEARCHES: [(&str, &[&str]); 6] = [
    ("Condition", &["patient"]),
    ("MedicationRequest", &["patient"]),
    ("MedicationStatement", &["patient"]),
    ("MedicationAdministration", &["patient"]),
    ("Observation", &["patient", "code", "_sort"]),
    ("AllergyIntolerance", &["patient"]),
];

/// What a CapabilityStatement lacks of the prefetch's searches.
fn missing_searches(cs: &Value) -> Vec<String> {
    let resources: Vec<&Value> = cs["rest"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["mode"] == "server")
        .flat_map(|r| r["resource"].as_array().into_iter().flatten())
        .collect();
    let mut missing = Vec::new();
    for (ty, params) in SEARCHES {
        let Some(r) = resources.iter().find(|r| r["type"] == ty) else {
            missing.push(format!("{ty} (not listed)"));
            continue;
        };
        let searchable = r["interaction"]
            .as_array()
            .is_some_and(|i| i.iter().any(|x| x["code"] == "search-type"));
        if !searchable {
            missing.push(format!("{ty} search"));
            continue;
        }
        let declared: Vec<&str> = r["searchParam"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for p in params {
            // `_sort` is a result parameter, declared at the server level if at all.
            if *p != "_sort" && !declared.contains(p) {
                missing.push(format!("{ty}?{p}"));
            }
        }
    }
    let medication_read = resources.iter().any(|r| {
        r["type"] == "Medication"
            && r["interaction"]
                .as_array()
                .is_some_and(|i| i.iter().any(|x| x["code"] == "read"))
    });
    if !medication_read {
        missing.push("Medication read".to_owned());
    }
    missing
}

async fn fhir(settings: &Settings, client: &reqwest::Client) -> Vec<Item> {
    let servers = &settings.fhir.allowed_servers;
    if servers.is_empty() {
        return vec![if settings.local_mode() {
            item(
                Status::Pass,
                "fhir",
                "no fhir.allowed_servers: loopback FHIR servers only (local mode), prefetch otherwise",
                "",
            )
        } else {
            item(
                Status::Warn,
                "fhir",
                "fhir.allowed_servers is empty: the EHR's fhirServer is never queried, only its prefetch is used",
                "list the EHR's FHIR base URL in fhir.allowed_servers so missing prefetch can be fetched",
            )
        }];
    }
    let mut out = Vec::new();
    for base in servers {
        let check = format!("fhir {base}");
        out.push(fhir_server(&check, base.as_str(), client).await);
    }
    out
}

/// One `fhir.allowed_servers` base: its CapabilityStatement is FHIR R4 and declares the
/// searches the prefetch uses.
async fn fhir_server(check: &str, base: &str, client: &reqwest::Client) -> Item {
    let url = format!("{}/metadata", base.trim_end_matches('/'));
    let cs = match capability_statement(client, &url).await {
        Ok(cs) => cs,
        Err((detail, fix)) => return item(Status::Fail, check, detail, fix),
    };
    let version = cs["fhirVersion"].as_str().unwrap_or("");
    if !version.starts_with("4.0") {
        return item(
            Status::Fail,
            check,
            format!(
                "CapabilityStatement fhirVersion `{version}`: this service speaks FHIR R4 (4.0.x)"
            ),
            "list the EHR's FHIR R4 endpoint",
        );
    }
    let software = cs["software"]["name"].as_str().unwrap_or("unnamed server");
    let missing = missing_searches(&cs);
    if missing.is_empty() {
        item(
            Status::Pass,
            check,
            format!("FHIR {version} ({software}): every prefetch search declared"),
            "",
        )
    } else {
        item(
            Status::Warn,
            check,
            format!(
                "FHIR {version} ({software}); not declared: {}",
                missing.join(", ")
            ),
            "without these the EHR must send them as prefetch, or the cards say data unavailable; check with the EHR team",
        )
    }
}

/// `GET url` (a base's `/metadata`): the CapabilityStatement, or why not (the FAIL's detail and
/// fix).
async fn capability_statement(
    client: &reqwest::Client,
    url: &str,
) -> Result<Value, (String, &'static str)> {
    let unreachable_fix = "check the URL in fhir.allowed_servers and that this host reaches it (DNS, firewall, proxy, TLS trust)";
    let resp = client
        .get(url)
        .header("Accept", "application/fhir+json")
        .send()
        .await
        .map_err(|e| {
            (
                format!("GET {url}: unreachable: {}", error_chain(&e)),
                unreachable_fix,
            )
        })?;
    let status = resp.status();
    let body: Result<Value, String> = match resp.bytes().await {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("not JSON ({e})")),
        Err(e) => Err(format!("body not read: {}", error_chain(&e))),
    };
    let not_fhir =
        "fhir.allowed_servers must list FHIR R4 base URLs (the URL before /Patient, /metadata…)";
    match body {
        Ok(v) if status.is_success() && v["resourceType"] == "CapabilityStatement" => Ok(v),
        Ok(v) => {
            let what = v["resourceType"].as_str().unwrap_or("no resourceType");
            Err((
                format!("GET {url}: HTTP {status}, {what}: not a FHIR CapabilityStatement"),
                not_fhir,
            ))
        }
        Err(e) => Err((
            format!("GET {url}: HTTP {status}, {e}: not a FHIR server"),
            not_fhir,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_capability_statement_is_read_for_the_prefetch_searches() {
        let full = json!({"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1", "rest": [{
            "mode": "server",
            "resource": SEARCHES.iter().map(|(ty, params)| json!({
                "type": ty,
                "interaction": [{"code": "search-type"}, {"code": "read"}],
                "searchParam": params.iter().map(|p| json!({"name": p})).collect::<Vec<_>>()
            })).chain([json!({"type": "Medication", "interaction": [{"code": "read"}]})]).collect::<Vec<_>>()
        }]});
        assert_eq!(missing_searches(&full), Vec::<String>::new());
        let mut partial = full.clone();
        partial["rest"][0]["resource"][4]["searchParam"] = json!([{"name": "patient"}]);
        partial["rest"][0]["resource"][0]["interaction"] = json!([{"code": "read"}]);
        assert_eq!(
            missing_searches(&partial),
            ["Condition search", "Observation?code"]
        );
        assert_eq!(missing_searches(&json!({})).len(), 7);
    }

    #[test]
    fn the_table_says_ready_or_not() {
        let ok = vec![
            item(Status::Pass, "store", "ok", ""),
            item(Status::Warn, "mode", "local", "do x"),
        ];
        let text = render(&ok);
        assert!(
            text.contains("fix: do x") && text.contains("ready to register"),
            "{text}"
        );
        assert!(!failed(&ok));
        let bad = config_failure("configuration key `x`: y");
        assert!(failed(&bad));
        assert!(render(&bad).contains("NOT ready"));
    }
}
