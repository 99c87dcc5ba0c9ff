//! The command line: `serve` (the default), `simulate`, `report`, `check`.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};

use crate::config::Settings;

#[derive(Debug, Parser)]
#[command(
    name = "alemtuzumab-cds",
    version,
    about = "CDS Hooks 2.0 service that stops unsafe alemtuzumab (Lemtrada) prescribing",
    long_about = "CDS Hooks 2.0 service that checks alemtuzumab (Lemtrada) orders against the ANSM 2019 \
                  restrictions (or the EMA 2020 SmPC). With no configuration it serves on \
                  127.0.0.1:8080 in local mode."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Configuration file (TOML); default: $ALEMTUZUMAB_CDS_CONFIG, else built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the CDS Hooks endpoints (the default command).
    Serve {
        /// Listen address, e.g. 127.0.0.1:8080; port 0 picks a free port (the log says which).
        #[arg(long, value_name = "ADDR:PORT")]
        bind: Option<String>,
    },
    /// Evaluate a hook request file offline (prefetch only) and print the cards.
    Simulate {
        /// A CDS Hooks request (JSON), e.g. fixtures/hooks/naive-one-dmt--order-sign.json.
        request: PathBuf,
        /// Evaluate as of this date (YYYY-MM-DD); default: today.
        #[arg(long, value_name = "DATE", value_parser = parse_day)]
        now: Option<NaiveDate>,
        /// Print the exact JSON response instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Report for the drug committee: cards, overrides by reason and accepted suggestions per
    /// rule, each override linked to its decision (read from the configured store).
    Report {
        /// From this day (YYYY-MM-DD, UTC) or instant (RFC 3339), inclusive.
        #[arg(long, value_name = "DATE", value_parser = parse_since)]
        since: Option<DateTime<Utc>>,
        /// Up to this day (inclusive) or instant (exclusive).
        #[arg(long, value_name = "DATE", value_parser = parse_until)]
        until: Option<DateTime<Utc>>,
        /// Only decisions made under this rule profile (`ansm-2019` or `ema-2020`), and the
        /// feedback about their cards; default: every profile.
        #[arg(long, value_name = "PROFILE", value_parser = crate::report::parse_profile)]
        profile: Option<crate::rules::Profile>,
        /// `html`: one self-contained page with charts, in `rules.language`.
        #[arg(long, value_enum, default_value = "table")]
        format: crate::report::Format,
        /// Write to this file instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Pre-flight for the installer: validate the configuration, then try every dependency
    /// (store, JWKS, jku, TLS pair, FHIR servers, public_url) and print PASS/WARN/FAIL with the
    /// fix for each. Exit code 0 when nothing fails, 1 otherwise.
    Check,
}

/// `--now`: a day. A bad one is clap's usage error naming the option (exit code 2).
fn parse_day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        let shown: String = text
            .chars()
            .take(100)
            .flat_map(char::escape_default)
            .collect();
        format!("`{shown}` is not YYYY-MM-DD")
    })
}

/// `--since`: the first instant reported (a day starts at 00:00 UTC).
fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    crate::report::parse_bound(text, false)
}

/// `--until`: the first instant not reported (a day is included whole).
fn parse_until(text: &str) -> Result<DateTime<Utc>, String> {
    crate::report::parse_bound(text, true)
}

/// Runs the command line; the binary's `main` only turns the result into an exit code.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Simulate { request, now, json }) => {
            let settings = Settings::load(cli.config.as_deref())?;
            let out = crate::simulate::simulate(&request, &settings, now, json)?;
            print!("{out}");
            Ok(())
        }
        Some(Command::Report {
            since,
            until,
            profile,
            format,
            output,
        }) => {
            let settings = Settings::load(cli.config.as_deref())?;
            let text = report(&settings, since, until, profile, format)?;
            match output {
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(())
        }
        Some(Command::Check) => check(cli.config),
        Some(Command::Serve { bind }) => serve(cli.config, bind),
        None => serve(cli.config, None),
    }
}

fn serve(config: Option<PathBuf>, bind: Option<String>) -> anyhow::Result<()> {
    let settings = Settings::load_with(config.as_deref(), bind.as_deref())?;
    crate::telemetry::init(settings.log_format, &settings.log_level);
    if let Some(src) = &settings.source {
        tracing::info!(config = %src.display(), "configuration loaded");
    }
    actix_web::rt::System::new().block_on(async move {
        let app = crate::startup::Application::build(settings)?;
        app.run_until_stopped().await
    })?;
    Ok(())
}

fn check(config: Option<PathBuf>) -> anyhow::Result<()> {
    let items = match Settings::load(config.as_deref()) {
        Ok(settings) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(crate::check::run(&settings)),
        Err(e) => crate::check::config_failure(&e.to_string()),
    };
    print!("{}", crate::check::render(&items));
    let failures = items
        .iter()
        .filter(|i| i.status == crate::check::Status::Fail)
        .count();
    if failures > 0 {
        anyhow::bail!("pre-flight: {failures} check(s) FAIL");
    }
    Ok(())
}

fn report(
    settings: &Settings,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    profile: Option<crate::rules::Profile>,
    format: crate::report::Format,
) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = crate::store::Store::open(&settings.store).await?;
        let scope = crate::report::Scope {
            since,
            until,
            profile,
        };
        let report = crate::report::load(&store, &scope, &settings.cards).await;
        store.close().await;
        let report = report?;
        Ok(match format {
            crate::report::Format::Html => {
                let ctx = crate::report::html::PageContext {
                    language: settings.cards.language,
                    profile: settings.rules.profile.as_str().to_owned(),
                    generated_at: chrono::Utc::now(),
                    form_action: None,
                };
                crate::report::html::page(&report, &ctx)
            }
            other => crate::report::render(&report, other),
        })
    })
}
