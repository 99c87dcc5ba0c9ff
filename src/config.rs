//! Configuration: built-in defaults (local mode), then one TOML file, then the environment.
//!
//! The file is `--config FILE` or `$ALEMTUZUMAB_CDS_CONFIG`; every key can be overridden by
//! `ALEMTUZUMAB_CDS__SECTION__KEY` (e.g. `ALEMTUZUMAB_CDS__RULES__PROFILE=ema-2020`; lists as
//! TOML, e.g. `ALEMTUZUMAB_CDS__FHIR__ALLOWED_SERVERS='["https://ehr/fhir/r4"]'`). Unknown keys
//! and bad values stop startup with a message that names the key. `cds-hooks/config.example.toml`
//! lists every key with its default and `cds-hooks/configuration.md` explains them.
//!
//! | Key | Default | Meaning |
//! |---|---|---|
//! | `server.bind` | `127.0.0.1:8080` | listen address; port 0 picks a free port |
//! | `server.public_url` | `http://<bind>` | this service's public base URL (JWT `aud` = it + the path called, `crate::web::auth`) |
//! | `server.body_limit_bytes` | 5 MiB | larger hook bodies get 413 |
//! | `server.workers` | 0 (one per core) | actix worker threads |
//! | `server.shutdown_timeout_secs` | 30 | SIGTERM/SIGINT: calls in flight answered, audit written, exit within it |
//! | `server.strict_412` | false | answer 412 instead of data-unavailable cards (docs/wire-contract.md) |
//! | `server.fixed_today` | unset | evaluate as if today were this date (test benches only; logged) |
//! | `server.max_concurrent_hooks` | 64 | hook/feedback calls in progress at once; beyond it 503 |
//! | `server.request_timeout_ms` | 10000 | a hook/feedback call taking longer gets 503 |
//! | `auth.allow_unauthenticated` | false | serve unsigned calls on a non-loopback address (test benches) |
//! | `auth.*` | see `crate::auth` | JWT issuers, algorithms, leeway, lifetime, JWKS refresh, CORS origins |
//! | `log.format` | `auto` | `json`, `pretty`, or `auto` (pretty on a terminal, JSON otherwise) |
//! | `log.level` | `info` | a tracing filter, e.g. `info,alemtuzumab_cds=debug` |
//! | `rules.profile` | `ansm-2019` | `ansm-2019` or `ema-2020` |
//! | `rules.language` | `fr` | card language, `fr` or `en` |
//! | `rules.topic_system` | `urn:alemtuzumab-cds:rule` | system of `source.topic` |
//! | `rules.override_reason_system` | `urn:alemtuzumab-cds:override-reason` | system of override reasons |
//! | `rules.source_url_ansm_2019` | the ANSM letter's page | `source.url` of `ansm-2019` cards (absolute https URL) |
//! | `rules.source_url_ema_2020` | EMA's Lemtrada page | `source.url` of `ema-2020` cards (absolute https URL) |
//! | `rules.campath_orders` | true | treat Campath products as alemtuzumab |
//! | `rules.<threshold>` | see `RuleConfig` | every threshold of the rules (config.example.toml) |
//! | `terminology.local_codes` | `[]` | `{ concept, system, code }` local codes added to the value sets |
//! | `fhir.allowed_servers` | `[]` | `fhirServer` must start with one of these (local mode: loopback only) |
//! | `fhir.deadline_ms` | 3000 | all FHIR queries of one hook call share this deadline |
//! | `fhir.max_pages` | 10 | `next` links followed per query |
//! | `fhir.max_response_bytes` | 20 MiB | FHIR response bodies larger than this are refused |
//! | `fhir.max_call_response_bytes` | 64 MiB | FHIR response bytes of one hook call, all responses together |
//! | `fhir.max_medication_reads` | 50 | distinct `Medication` reads per hook call; the rest is one gap |
//! | `fhir.max_concurrent_requests` | 64 | FHIR requests in flight at once, all hook calls together |
//! | `store.url` | empty: SQLite `<data_dir>/alemtuzumab-cds.db` | or `sqlite://FILE`, or `postgres://…` for replicas |
//! | `store.data_dir` | `./data` | directory of the default SQLite file |
//! | `store.audit_retention_days` | 3650 | decisions, cards and feedback older than this are purged; 0 keeps all |
//! | `store.audit_queue_capacity` | 10000 | audit records waiting for the batch writer; overflow is counted |
//! | `store.audit_batch_max` / `store.audit_flush_interval_ms` | 64 / 50 | audit batch size and delay (small batches keep the answers' tail latency down, README §Performance) |
//! | `store.max_connections` / `store.connect_timeout_ms` | 5 / 5000 | database pool |
//! | `admin.tokens` / `admin.tokens_file` | none | bearer tokens of `GET /admin/report` (src/admin.rs) |

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub use crate::config_error::ConfigError;
pub use crate::fhir::client::FhirSettings;

use crate::cards::{CardSettings, Language};
use crate::fhir::GatherSettings;
use crate::rules::{Profile, RuleConfig};
use crate::terminology::{LocalCode, Terminology};

/// Environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "ALEMTUZUMAB_CDS_CONFIG";
/// Prefix of the per-key environment overrides.
pub const ENV_PREFIX: &str = "ALEMTUZUMAB_CDS__";

/// The configuration as written (serde). Field names are the TOML keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSettings {
    pub server: RawServer,
    pub auth: RawAuth,
    pub log: RawLog,
    pub rules: RawRules,
    pub terminology: RawTerminology,
    pub fhir: RawFhir,
    pub store: crate::store::config::RawStore,
    pub admin: crate::admin::RawAdmin,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub bind: String,
    pub public_url: String,
    pub body_limit_bytes: u64,
    pub workers: u32,
    pub shutdown_timeout_secs: u64,
    pub strict_412: bool,
    pub fixed_today: String,
    pub max_concurrent_hooks: u32,
    pub request_timeout_ms: u64,
    pub tls_cert_file: String,
    pub tls_key_file: String,
    pub tls_reload_secs: u64,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".to_owned(),
            public_url: String::new(),
            body_limit_bytes: 5 * 1024 * 1024,
            workers: 0,
            shutdown_timeout_secs: 30,
            strict_412: false,
            fixed_today: String::new(),
            max_concurrent_hooks: 64,
            request_timeout_ms: 10_000,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_reload_secs: 60,
        }
    }
}

pub use crate::auth::{AuthSettings, RawAuth, RawIssuer};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    pub format: String,
    pub level: String,
}

impl Default for RawLog {
    fn default() -> Self {
        Self {
            format: "auto".to_owned(),
            level: "info".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRules {
    pub profile: String,
    pub language: String,
    pub topic_system: String,
    pub override_reason_system: String,
    pub source_url_ansm_2019: String,
    pub source_url_ema_2020: String,
    pub campath_orders: bool,
    pub min_age_years: u32,
    pub required_dmts_ansm_2019: u32,
    pub required_dmts_ema_2020: u32,
    pub dmt_min_course_months: u32,
    pub liver_panel_max_age_days: u32,
    pub liver_monitoring_interval_days: u32,
    pub liver_monitoring_months: u32,
    pub transaminase_uln_factor: f64,
    pub bilirubin_uln_factor: f64,
    pub default_uln_alt: f64,
    pub default_uln_ast: f64,
    pub default_uln_bilirubin_umol_l: f64,
    pub default_uln_bilirubin_mg_dl: f64,
    pub course_gap_days: u32,
    pub min_course_interval_months: u32,
    pub bp_systolic_threshold: f64,
    pub bp_diastolic_threshold: f64,
    pub thyroid_disease_critical: bool,
    pub antithrombotic_recent_days: u32,
    pub campath_exposure: bool,
    pub first_course_days: u32,
    pub later_course_days: u32,
    pub max_courses: u32,
}

impl Default for RawRules {
    fn default() -> Self {
        let r = RuleConfig::default();
        let c = CardSettings::default();
        Self {
            profile: r.profile.as_str().to_owned(),
            language: c.language.as_str().to_owned(),
            topic_system: c.topic_system,
            override_reason_system: c.override_reason_system,
            source_url_ansm_2019: c.source_url_ansm_2019,
            source_url_ema_2020: c.source_url_ema_2020,
            campath_orders: true,
            min_age_years: r.min_age_years,
            required_dmts_ansm_2019: r.required_dmts_ansm_2019,
            required_dmts_ema_2020: r.required_dmts_ema_2020,
            dmt_min_course_months: r.dmt_min_course_months,
            liver_panel_max_age_days: r.liver_panel_max_age_days,
            liver_monitoring_interval_days: r.liver_monitoring_interval_days,
            liver_monitoring_months: r.liver_monitoring_months,
            transaminase_uln_factor: r.transaminase_uln_factor,
            bilirubin_uln_factor: r.bilirubin_uln_factor,
            default_uln_alt: r.default_uln_alt,
            default_uln_ast: r.default_uln_ast,
            default_uln_bilirubin_umol_l: r.default_uln_bilirubin_umol_l,
            default_uln_bilirubin_mg_dl: r.default_uln_bilirubin_mg_dl,
            course_gap_days: r.course_gap_days,
            min_course_interval_months: r.min_course_interval_months,
            bp_systolic_threshold: r.bp_systolic_threshold,
            bp_diastolic_threshold: r.bp_diastolic_threshold,
            thyroid_disease_critical: r.thyroid_disease_critical,
            antithrombotic_recent_days: r.antithrombotic_recent_days,
            campath_exposure: r.campath_exposure,
            first_course_days: r.first_course_days,
            later_course_days: r.later_course_days,
            max_courses: r.max_courses,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTerminology {
    pub local_codes: Vec<RawLocalCode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLocalCode {
    pub concept: String,
    pub system: String,
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFhir {
    pub allowed_servers: Vec<String>,
    pub deadline_ms: u64,
    pub max_pages: u32,
    pub max_response_bytes: u64,
    pub max_call_response_bytes: u64,
    pub max_medication_reads: u32,
    pub max_concurrent_requests: u32,
}

impl Default for RawFhir {
    fn default() -> Self {
        Self {
            allowed_servers: Vec::new(),
            deadline_ms: 3000,
            max_pages: 10,
            max_response_bytes: 20 * 1024 * 1024,
            max_call_response_bytes: 64 * 1024 * 1024,
            max_medication_reads: 50,
            max_concurrent_requests: 64,
        }
    }
}

/// `[server] tls_*`: both files or neither; relative paths are relative to the configuration
/// file's directory; the pair is read and checked now so a bad one refuses to start.
fn tls_settings(
    s: &RawServer,
    source: Option<&Path>,
) -> Result<Option<crate::tls::TlsSettings>, ConfigError> {
    let (cert, key) = (s.tls_cert_file.trim(), s.tls_key_file.trim());
    match (cert.is_empty(), key.is_empty()) {
        (true, true) => return Ok(None),
        (false, true) => {
            return Err(invalid(
                "server.tls_key_file",
                "is required when server.tls_cert_file is set (HTTPS needs the certificate \
                 chain and its private key)",
            ))
        }
        (true, false) => {
            return Err(invalid(
                "server.tls_cert_file",
                "is required when server.tls_key_file is set (HTTPS needs the certificate \
                 chain and its private key)",
            ))
        }
        (false, false) => {}
    }
    if s.tls_reload_secs > 86_400 {
        return Err(invalid(
            "server.tls_reload_secs",
            "must be at most 86400 (0 turns reloading off)",
        ));
    }
    let base_dir = source.and_then(Path::parent).unwrap_or(Path::new(""));
    let settings = crate::tls::TlsSettings {
        cert_file: base_dir.join(cert),
        key_file: base_dir.join(key),
        reload_interval: (s.tls_reload_secs > 0)
            .then(|| std::time::Duration::from_secs(s.tls_reload_secs)),
    };
    crate::tls::check(&settings).map_err(|e| invalid(e.key, e.message))?;
    Ok(Some(settings))
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::invalid(key, message)
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    /// Public base URL without a trailing slash.
    pub public_url: String,
    pub body_limit_bytes: usize,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    pub strict_412: bool,
    pub fixed_today: Option<NaiveDate>,
    pub allow_unauthenticated: bool,
    /// Hook and feedback calls in progress at once (beyond: 503).
    pub max_concurrent_hooks: usize,
    /// Time allowed for one hook or feedback call (beyond: 503).
    pub request_timeout: std::time::Duration,
    /// HTTPS served directly (`server.tls_cert_file` and `tls_key_file`); `None`: plain HTTP for a
    /// reverse proxy that terminates TLS.
    pub tls: Option<crate::tls::TlsSettings>,
    /// `[auth]`: JWT issuers (none: local mode), CORS origins.
    pub auth: AuthSettings,
    pub log_format: LogFormat,
    pub log_level: String,
    pub rules: RuleConfig,
    pub cards: CardSettings,
    pub gather: GatherSettings,
    pub fhir: FhirSettings,
    /// Feedback, decision audit and `jti` store (issue 6).
    pub store: crate::store::config::StoreSettings,
    /// `[admin]`: bearer tokens of `GET /admin/report` (src/admin.rs); none: the route is off.
    pub admin: crate::admin::AdminSettings,
    /// Where the configuration came from, for the start-up log.
    pub source: Option<PathBuf>,
}

impl Default for Settings {
    /// The built-in defaults: local mode.
    fn default() -> Self {
        match RawSettings::default().validate(None) {
            Ok(s) => s,
            // The defaults are checked by a unit test; this cannot happen.
            Err(e) => unreachable!("built-in defaults are invalid: {e}"),
        }
    }
}

impl Settings {
    /// Loads defaults, then `file` (or `$ALEMTUZUMAB_CDS_CONFIG`), then `ALEMTUZUMAB_CDS__*`.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with(file, None)
    }

    /// As [`Settings::load`], with `--bind` from the command line taking precedence over all.
    pub fn load_with(file: Option<&Path>, bind: Option<&str>) -> Result<Self, ConfigError> {
        let env_file = std::env::var_os(CONFIG_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(env_file);
        let mut figment = Figment::from(Serialized::defaults(RawSettings::default()));
        if let Some(path) = &file {
            if !path.exists() {
                return Err(ConfigError::MissingFile(path.clone()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        if let Some(bind) = bind {
            figment = figment.merge(Serialized::default("server.bind", bind));
        }
        let raw: RawSettings = figment.extract().map_err(Box::new)?;
        raw.validate(file)
    }

    /// Whether the service runs in local mode (no JWT authentication configured).
    pub fn local_mode(&self) -> bool {
        !self.auth.enabled()
    }
}

impl RawSettings {
    /// Turns the raw configuration into validated settings; every error names its key.
    pub fn validate(self, source: Option<PathBuf>) -> Result<Settings, ConfigError> {
        let s = self.server;
        let bind: SocketAddr = s.bind.parse().map_err(|e| {
            invalid(
                "server.bind",
                format!("`{}` is not ADDR:PORT ({e})", s.bind),
            )
        })?;
        let auth = self.auth.validate(source.as_deref())?;
        if !bind.ip().is_loopback() && !auth.enabled() && !auth.allow_unauthenticated {
            return Err(invalid(
                "server.bind",
                format!(
                    "{bind} is not a loopback address and no JWT authentication is configured. \
                     Only the hospital's EHR may call this service: configure its issuer in \
                     `[[auth.issuers]]` (iss, jwks_url or jwks_file) and `server.public_url`, or \
                     bind to 127.0.0.1 behind a reverse proxy that authenticates the EHR, or set \
                     `auth.allow_unauthenticated = true` for a closed test bench."
                ),
            ));
        }
        let tls = tls_settings(&s, source.as_deref())?;
        let public_url = if s.public_url.trim().is_empty() {
            let scheme = if tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{bind}")
        } else {
            let u = url::Url::parse(s.public_url.trim())
                .map_err(|e| invalid("server.public_url", e.to_string()))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(invalid("server.public_url", "must be an http(s) URL"));
            }
            u.as_str().trim_end_matches('/').to_owned()
        };
        if !(1..=3600).contains(&s.shutdown_timeout_secs) {
            return Err(invalid(
                "server.shutdown_timeout_secs",
                "must be between 1 and 3600",
            ));
        }
        if s.max_concurrent_hooks == 0 {
            return Err(invalid("server.max_concurrent_hooks", "must be at least 1"));
        }
        if !(100..=300_000).contains(&s.request_timeout_ms) {
            return Err(invalid(
                "server.request_timeout_ms",
                "must be between 100 and 300000",
            ));
        }
        if s.body_limit_bytes < 1024 {
            return Err(invalid("server.body_limit_bytes", "must be at least 1024"));
        }
        let fixed_today = if s.fixed_today.trim().is_empty() {
            None
        } else {
            Some(
                NaiveDate::parse_from_str(s.fixed_today.trim(), "%Y-%m-%d")
                    .map_err(|e| invalid("server.fixed_today", format!("not YYYY-MM-DD: {e}")))?,
            )
        };
        let log_format = match self.log.format.as_str() {
            "auto" => LogFormat::Auto,
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => {
                return Err(invalid(
                    "log.format",
                    format!("`{other}`: expected auto, json or pretty"),
                ))
            }
        };
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(invalid("log.level", e.to_string()));
        }

        let r = self.rules;
        let profile = Profile::parse(&r.profile).ok_or_else(|| {
            invalid(
                "rules.profile",
                format!("`{}`: expected ansm-2019 or ema-2020", r.profile),
            )
        })?;
        let language = Language::parse(&r.language).ok_or_else(|| {
            invalid(
                "rules.language",
                format!("`{}`: expected fr or en", r.language),
            )
        })?;
        for (key, v) in [
            ("rules.topic_system", &r.topic_system),
            ("rules.override_reason_system", &r.override_reason_system),
        ] {
            if v.trim().is_empty() || !v.contains(':') {
                return Err(invalid(key, "must be a URI"));
            }
        }
        // Each card's `source.url`, which the EHR shows as a link: an absolute https URL.
        for (key, v) in [
            ("rules.source_url_ansm_2019", &r.source_url_ansm_2019),
            ("rules.source_url_ema_2020", &r.source_url_ema_2020),
        ] {
            match url::Url::parse(v.trim()) {
                Ok(u) if u.scheme() == "https" && u.host().is_some() => {}
                _ => {
                    return Err(invalid(
                        key,
                        format!("`{v}`: must be an absolute https URL"),
                    ))
                }
            }
        }
        let positive = [
            ("rules.transaminase_uln_factor", r.transaminase_uln_factor),
            ("rules.bilirubin_uln_factor", r.bilirubin_uln_factor),
            ("rules.default_uln_alt", r.default_uln_alt),
            ("rules.default_uln_ast", r.default_uln_ast),
            (
                "rules.default_uln_bilirubin_umol_l",
                r.default_uln_bilirubin_umol_l,
            ),
            (
                "rules.default_uln_bilirubin_mg_dl",
                r.default_uln_bilirubin_mg_dl,
            ),
            ("rules.bp_systolic_threshold", r.bp_systolic_threshold),
            ("rules.bp_diastolic_threshold", r.bp_diastolic_threshold),
        ];
        for (key, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(invalid(key, format!("must be a positive number, not {v}")));
            }
        }
        for (key, v) in [
            ("rules.required_dmts_ansm_2019", r.required_dmts_ansm_2019),
            ("rules.required_dmts_ema_2020", r.required_dmts_ema_2020),
            (
                "rules.liver_monitoring_interval_days",
                r.liver_monitoring_interval_days,
            ),
            ("rules.course_gap_days", r.course_gap_days),
            ("rules.first_course_days", r.first_course_days),
            ("rules.later_course_days", r.later_course_days),
            ("rules.max_courses", r.max_courses),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        let rules = RuleConfig {
            profile,
            min_age_years: r.min_age_years,
            required_dmts_ansm_2019: r.required_dmts_ansm_2019,
            required_dmts_ema_2020: r.required_dmts_ema_2020,
            dmt_min_course_months: r.dmt_min_course_months,
            liver_panel_max_age_days: r.liver_panel_max_age_days,
            liver_monitoring_interval_days: r.liver_monitoring_interval_days,
            liver_monitoring_months: r.liver_monitoring_months,
            transaminase_uln_factor: r.transaminase_uln_factor,
            bilirubin_uln_factor: r.bilirubin_uln_factor,
            default_uln_alt: r.default_uln_alt,
            default_uln_ast: r.default_uln_ast,
            default_uln_bilirubin_umol_l: r.default_uln_bilirubin_umol_l,
            default_uln_bilirubin_mg_dl: r.default_uln_bilirubin_mg_dl,
            course_gap_days: r.course_gap_days,
            min_course_interval_months: r.min_course_interval_months,
            bp_systolic_threshold: r.bp_systolic_threshold,
            bp_diastolic_threshold: r.bp_diastolic_threshold,
            thyroid_disease_critical: r.thyroid_disease_critical,
            antithrombotic_recent_days: r.antithrombotic_recent_days,
            campath_exposure: r.campath_exposure,
            first_course_days: r.first_course_days,
            later_course_days: r.later_course_days,
            max_courses: r.max_courses,
        };

        let local: Vec<LocalCode> = self
            .terminology
            .local_codes
            .into_iter()
            .map(|c| LocalCode {
                concept: c.concept,
                system: c.system,
                code: c.code,
            })
            .collect();
        let terminology = Terminology::default()
            .with_local_codes(&local)
            .map_err(|e| invalid("terminology.local_codes", e.to_string()))?;

        let mut cards = CardSettings {
            language,
            profile,
            topic_system: r.topic_system,
            override_reason_system: r.override_reason_system,
            source_url_ansm_2019: r.source_url_ansm_2019.trim().to_owned(),
            source_url_ema_2020: r.source_url_ema_2020.trim().to_owned(),
            ..CardSettings::default()
        };
        cards.liver_panel_code = terminology.liver_panel_order_code();

        let f = self.fhir;
        let mut allowed_servers = Vec::new();
        for (i, s) in f.allowed_servers.iter().enumerate() {
            let key = format!("fhir.allowed_servers[{i}]");
            let u = url::Url::parse(s).map_err(|e| invalid(&key, format!("`{s}`: {e}")))?;
            let loopback = crate::net::is_loopback_host(&u);
            match u.scheme() {
                "https" => {}
                "http" if loopback => {}
                _ => {
                    return Err(invalid(
                        &key,
                        format!("`{s}`: https is required unless the host is loopback"),
                    ))
                }
            }
            allowed_servers.push(u);
        }
        if f.deadline_ms == 0 || f.deadline_ms > 60_000 {
            return Err(invalid("fhir.deadline_ms", "must be between 1 and 60000"));
        }
        if f.max_pages == 0 {
            return Err(invalid("fhir.max_pages", "must be at least 1"));
        }
        if f.max_call_response_bytes == 0 {
            return Err(invalid(
                "fhir.max_call_response_bytes",
                "must be at least 1",
            ));
        }
        if f.max_medication_reads > 10_000 {
            return Err(invalid(
                "fhir.max_medication_reads",
                "must be between 0 and 10000",
            ));
        }
        if f.max_concurrent_requests == 0 || f.max_concurrent_requests > 10_000 {
            return Err(invalid(
                "fhir.max_concurrent_requests",
                "must be between 1 and 10000",
            ));
        }
        let store = self.store.validate()?;
        let admin = self.admin.validate(source.as_deref())?;

        Ok(Settings {
            bind,
            public_url,
            body_limit_bytes: usize::try_from(s.body_limit_bytes)
                .map_err(|_| invalid("server.body_limit_bytes", "too large"))?,
            workers: s.workers as usize,
            shutdown_timeout_secs: s.shutdown_timeout_secs,
            strict_412: s.strict_412,
            fixed_today,
            allow_unauthenticated: auth.allow_unauthenticated,
            max_concurrent_hooks: s.max_concurrent_hooks as usize,
            request_timeout: std::time::Duration::from_millis(s.request_timeout_ms),
            tls,
            auth,
            log_format,
            log_level: self.log.level,
            rules,
            cards,
            gather: GatherSettings::new(terminology, r.campath_orders),
            fhir: FhirSettings {
                allowed_servers,
                deadline: std::time::Duration::from_millis(f.deadline_ms),
                max_pages: f.max_pages,
                max_response_bytes: f.max_response_bytes,
                max_call_response_bytes: f.max_call_response_bytes,
                max_medication_reads: f.max_medication_reads,
                max_concurrent_requests: f.max_concurrent_requests as usize,
            },
            store,
            admin,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml(toml: &str) -> Result<Settings, ConfigError> {
        let raw: RawSettings = Figment::from(Serialized::defaults(RawSettings::default()))
            .merge(Toml::string(toml))
            .extract()
            .map_err(Box::new)?;
        raw.validate(None)
    }

    #[test]
    fn defaults_are_local_mode_on_loopback_8080_ansm_in_french() {
        let s = Settings::default();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.rules.profile, Profile::Ansm2019);
        assert_eq!(s.cards.language, Language::Fr);
        assert!(s.fhir.allowed_servers.is_empty());
        assert!(s.local_mode());
    }

    #[test]
    fn errors_name_the_key() {
        for (toml, key) in [
            ("[rules]\nprofile = \"ema-2021\"", "rules.profile"),
            ("[rules]\nlanguage = \"de\"", "rules.language"),
            ("[server]\nbind = \"nowhere\"", "server.bind"),
            ("[rules]\ndefault_uln_alt = -4.0", "rules.default_uln_alt"),
            (
                "[fhir]\nallowed_servers = [\"http://ehr.example/fhir\"]",
                "fhir.allowed_servers[0]",
            ),
            (
                "[server]\nfixed_today = \"25/11/2026\"",
                "server.fixed_today",
            ),
            ("[log]\nformat = \"xml\"", "log.format"),
            (
                "[fhir]\nmax_call_response_bytes = 0",
                "fhir.max_call_response_bytes",
            ),
            (
                "[fhir]\nmax_medication_reads = 10001",
                "fhir.max_medication_reads",
            ),
            (
                "[fhir]\nmax_concurrent_requests = 0",
                "fhir.max_concurrent_requests",
            ),
            (
                "[rules]\nsource_url_ansm_2019 = \"http://ansm.sante.fr/x\"",
                "rules.source_url_ansm_2019",
            ),
            (
                "[rules]\nsource_url_ema_2020 = \"lemtrada.pdf\"",
                "rules.source_url_ema_2020",
            ),
            (
                "[rules]\nsource_url_ema_2020 = \"\"",
                "rules.source_url_ema_2020",
            ),
        ] {
            let err = from_toml(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
        let err = from_toml("[rules]\nprofil = \"ema-2020\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("profil"), "{err}");
    }

    #[test]
    fn the_annotated_example_lists_every_key_with_its_default() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/cds-hooks/config.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        // Every key present (deny_unknown_fields would reject extras) ...
        let example: RawSettings = toml_value(&text);
        // ... with the built-in default.
        assert_eq!(example, RawSettings::default());
        let defaults = serde_json::to_value(RawSettings::default()).unwrap();
        for (section, keys) in defaults.as_object().unwrap() {
            for key in keys.as_object().unwrap().keys() {
                // `key = default`, or for a list of tables its commented `[[section.key]]` example.
                let line = format!("\n{key} = ");
                let table = format!("[[{section}.{key}]]");
                assert!(
                    text.contains(&line) || text.contains(&table),
                    "config.example.toml lacks `{section}.{key}`"
                );
            }
        }
    }

    #[test]
    fn tls_needs_both_files_read_relative_to_the_configuration_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["cds.hospital.test".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::create_dir(dir.path().join("tls")).unwrap();
        std::fs::write(dir.path().join("tls/server.crt"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("tls/server.key"), key.serialize_pem()).unwrap();
        let config_file = dir.path().join("alemtuzumab-cds.toml");
        let raw = |toml: &str| -> RawSettings {
            Figment::from(Serialized::defaults(RawSettings::default()))
                .merge(Toml::string(toml))
                .extract()
                .unwrap()
        };

        let both =
            "[server]\ntls_cert_file = \"tls/server.crt\"\ntls_key_file = \"tls/server.key\"";
        let s = raw(both).validate(Some(config_file.clone())).unwrap();
        let tls = s.tls.expect("HTTPS on");
        assert_eq!(tls.cert_file, dir.path().join("tls/server.crt"));
        assert_eq!(
            tls.reload_interval,
            Some(std::time::Duration::from_secs(60))
        );
        assert_eq!(
            s.public_url, "https://127.0.0.1:8080",
            "HTTPS implies an https URL"
        );

        let no_reload = format!("{both}\ntls_reload_secs = 0");
        let s = raw(&no_reload).validate(Some(config_file.clone())).unwrap();
        assert_eq!(s.tls.unwrap().reload_interval, None);

        for (toml, key) in [
            (
                "[server]\ntls_cert_file = \"tls/server.crt\"",
                "server.tls_key_file",
            ),
            (
                "[server]\ntls_key_file = \"tls/server.key\"",
                "server.tls_cert_file",
            ),
            (
                "[server]\ntls_cert_file = \"tls/absent.crt\"\ntls_key_file = \"tls/server.key\"",
                "server.tls_cert_file",
            ),
            (
                "[server]\ntls_cert_file = \"tls/server.crt\"\ntls_key_file = \"tls/server.crt\"",
                "server.tls_key_file",
            ),
            (
                &format!("{both}\ntls_reload_secs = 100000"),
                "server.tls_reload_secs",
            ),
        ] {
            let err = raw(toml)
                .validate(Some(config_file.clone()))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
        // Without a configuration file, relative paths are relative to the working directory
        // (where these files are not).
        let err = raw(both).validate(None).unwrap_err().to_string();
        assert!(err.contains("server.tls_cert_file"), "{err}");
        // Neither: plain HTTP.
        assert!(from_toml("").unwrap().tls.is_none());
    }

    fn toml_value(text: &str) -> RawSettings {
        Figment::from(Toml::string(text)).extract().unwrap()
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
    fn environment_variables_override_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "[rules]\nprofile = \"ansm-2019\"\nlanguage = \"en\"",
            )?;
            jail.set_env("ALEMTUZUMAB_CDS__RULES__PROFILE", "ema-2020");
            jail.set_env(
                "ALEMTUZUMAB_CDS__FHIR__ALLOWED_SERVERS",
                "[\"https://ehr.example/fhir\"]",
            );
            jail.set_env("ALEMTUZUMAB_CDS__RULES__MIN_AGE_YEARS", "21");
            let s = Settings::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.rules.profile, Profile::Ema2020);
            assert_eq!(s.cards.language, Language::En);
            assert_eq!(s.rules.min_age_years, 21);
            assert_eq!(s.fhir.allowed_servers.len(), 1);
            jail.set_env("ALEMTUZUMAB_CDS__RULES__MIN_AGE_YEARS", "eighteen");
            let err = Settings::load(Some(Path::new("c.toml")))
                .unwrap_err()
                .to_string();
            assert!(err.to_lowercase().contains("rules.min_age_years"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_public_bind_without_authentication_is_refused_with_the_way_out() {
        let err = from_toml("[server]\nbind = \"0.0.0.0:8080\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_unauthenticated"), "{err}");
        let ok =
            from_toml("[server]\nbind = \"0.0.0.0:8080\"\n[auth]\nallow_unauthenticated = true");
        let ok = ok.unwrap();
        assert!(ok.allow_unauthenticated);
        assert_eq!(ok.bind.to_string(), "0.0.0.0:8080");
    }

    #[test]
    fn profile_language_and_thresholds_are_read() {
        let s = from_toml(
            "[rules]\nprofile = \"ema-2020\"\nlanguage = \"en\"\nmin_age_years = 21\n\
             source_url_ema_2020 = \"https://intranet.example/ema.pdf\"\n\
             [fhir]\nallowed_servers = [\"https://ehr.example/fhir/r4\", \"http://127.0.0.1:9/fhir\"]",
        )
        .unwrap();
        assert_eq!(s.rules.profile, Profile::Ema2020);
        assert_eq!(s.cards.language, Language::En);
        assert_eq!(s.rules.min_age_years, 21);
        assert_eq!(
            s.cards.source_url_ema_2020,
            "https://intranet.example/ema.pdf"
        );
        assert_eq!(
            s.cards.source_url_ansm_2019,
            crate::cards::DEFAULT_SOURCE_URL_ANSM_2019
        );
        assert_eq!(s.fhir.allowed_servers.len(), 2);
    }

    #[test]
    fn the_example_configuration_parses_and_equals_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cds-hooks/config.example.toml");
        let raw: RawSettings = Figment::from(Toml::file_exact(&path))
            .extract()
            .map_err(Box::new)
            .unwrap();
        assert_eq!(raw, RawSettings::default());
    }

    #[test]
    fn issuers_turn_authentication_on_and_allow_a_public_bind() {
        let dir = tempfile::tempdir().unwrap();
        let jwks = dir.path().join("ehr-jwks.json");
        std::fs::write(&jwks, r#"{"keys": []}"#).unwrap();
        let s = from_toml(&format!(
            "[server]\nbind = \"0.0.0.0:8443\"\npublic_url = \"https://cds.example/\"\n\
             [[auth.issuers]]\niss = \"https://ehr.example\"\njwks_file = {:?}\n\
             [[auth.issuers]]\niss = \"https://sandbox.cds-hooks.org\"\n\
             jwks_url = \"https://sandbox.cds-hooks.org/.well-known/jwks.json\"\n\
             jku_allow = [\"https://sandbox.cds-hooks.org/.well-known/jwks.json\"]\n\
             audiences = [\" https://cds.example \", \"urn:epic:cds\", \"urn:epic:cds\"]",
            jwks.display().to_string()
        ))
        .unwrap();
        assert!(!s.local_mode());
        assert_eq!(s.public_url, "https://cds.example");
        assert_eq!(s.auth.issuers.len(), 2);
        assert!(s.auth.issuers[0].audiences.is_empty());
        // Trimmed, duplicates dropped.
        assert_eq!(
            s.auth.issuers[1].audiences,
            vec!["https://cds.example", "urn:epic:cds"]
        );
        assert_eq!(
            s.auth.algorithms,
            vec![
                jsonwebtoken::Algorithm::ES384,
                jsonwebtoken::Algorithm::RS384
            ]
        );
    }

    #[test]
    fn auth_errors_name_the_key() {
        for (toml, key) in [
            ("[auth]\nalgorithms = [\"HS256\"]", "auth.algorithms[0]"),
            ("[auth]\nalgorithms = [\"ES384\", \"none\"]", "auth.algorithms[1]"),
            ("[auth]\nalgorithms = []", "auth.algorithms"),
            ("[[auth.issuers]]\niss = \"https://e\"", "auth.issuers[0].jwks_url"),
            (
                "[[auth.issuers]]\niss = \"https://e\"\njwks_url = \"https://e/j\"\njwks_file = \"f\"",
                "auth.issuers[0].jwks_url",
            ),
            (
                "[[auth.issuers]]\niss = \"https://e\"\njwks_file = \"/nonexistent/jwks.json\"",
                "auth.issuers[0].jwks_file",
            ),
            (
                "[[auth.issuers]]\niss = \"https://e\"\njwks_url = \"http://e.example/jwks\"",
                "auth.issuers[0].jwks_url",
            ),
            (
                "[[auth.issuers]]\niss = \"https://e\"\njwks_url = \"https://e/j\"\njku_allow = [\"http://x.example/j\"]",
                "auth.issuers[0].jku_allow[0]",
            ),
            ("[[auth.issuers]]\njwks_url = \"https://e/j\"", "auth.issuers[0].iss"),
            (
                "[[auth.issuers]]\niss = \"https://e\"\njwks_url = \"https://e/j\"\naudiences = [\"https://a\", \" \"]",
                "auth.issuers[0].audiences[1]",
            ),
            (
                "[[auth.issuers]]\niss = \"https://e\"\njwks_url = \"https://e/j\"\naudiences = [\"two words\"]",
                "auth.issuers[0].audiences[0]",
            ),
            ("[auth]\nallowed_origins = [\"not a url\"]", "auth.allowed_origins[0]"),
            ("[server]\nmax_concurrent_hooks = 0", "server.max_concurrent_hooks"),
            ("[server]\nshutdown_timeout_secs = 0", "server.shutdown_timeout_secs"),
            ("[server]\nrequest_timeout_ms = 1", "server.request_timeout_ms"),
        ] {
            let err = from_toml(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }
}
