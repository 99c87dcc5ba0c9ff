//! `alemtuzumab-cds simulate REQUEST.json`: evaluates a hook request offline from its prefetch
//! and prints the cards, so hospital IT can check a configuration and a newcomer can see the
//! service work in one command.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use chrono::NaiveDate;

use crate::config::Settings;
use crate::pipeline::{self, PipelineError};
use crate::services::service_for_hook;
use crate::wire::CdsResponse;

/// Evaluates the request file as `serve` would answer it (the same [`pipeline::call_request`]),
/// as of `now` (default: `fixed_today`, else today).
pub fn simulate(
    path: &Path,
    settings: &Settings,
    now: Option<NaiveDate>,
    json: bool,
) -> anyhow::Result<String> {
    let today = now.unwrap_or_else(|| {
        settings
            .fixed_today
            .unwrap_or_else(|| chrono::Local::now().date_naive())
    });
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let request = pipeline::read(&bytes).map_err(|e| match e {
        PipelineError::NotJson(m) => anyhow::anyhow!("{} is not JSON: {m}", path.display()),
        other => anyhow::Error::from(other),
    })?;
    let service = service_for_hook(&request.hook)
        .with_context(|| format!("no service answers hook `{}`", request.hook))?;
    // Offline: no FHIR client, so nothing here awaits I/O.
    let call = futures::executor::block_on(pipeline::call_request(
        request, service, settings, None, today,
    ));
    let outcome = match call.result {
        Ok(o) => o,
        Err(PipelineError::Precondition(m)) => {
            return Ok(format!(
                "412 Precondition Failed: {m}\n(the request holds no recognisable alemtuzumab order and the data is missing)\n"
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        return Ok(serde_json::to_string_pretty(&outcome.response)? + "\n");
    }
    Ok(table(&outcome.response, service.id, settings, today))
}

/// The cards as a table, then each card's detail.
pub fn table(resp: &CdsResponse, service: &str, settings: &Settings, today: NaiveDate) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{service} · profile {} · language {} · as of {today} · {} card(s)\n",
        settings.rules.profile.as_str(),
        settings.cards.language.as_str(),
        resp.cards.len()
    );
    if resp.cards.is_empty() {
        out.push_str("No cards: nothing to check for this request.\n");
        return out;
    }
    let _ = writeln!(out, "{:<3} {:<9} {:<24} SUMMARY", "#", "INDICATOR", "TOPIC");
    for (i, c) in resp.cards.iter().enumerate() {
        let topic = c
            .source
            .topic
            .as_ref()
            .map(|t| t.code.as_str())
            .unwrap_or("");
        let indicator = c.indicator.as_str();
        let _ = writeln!(
            out,
            "{:<3} {:<9} {:<24} {}",
            i + 1,
            indicator,
            topic,
            c.summary
        );
    }
    for (i, c) in resp.cards.iter().enumerate() {
        let _ = writeln!(out, "\n── card {} ─ {}", i + 1, c.summary);
        if let Some(d) = &c.detail {
            let _ = writeln!(out, "{d}");
        }
        for s in &c.suggestions {
            let _ = writeln!(out, "  ▸ suggestion: {}", s.label);
        }
        if !c.override_reasons.is_empty() {
            let reasons: Vec<_> = c
                .override_reasons
                .iter()
                .map(|r| r.display.clone().unwrap_or_else(|| r.code.clone()))
                .collect();
            let _ = writeln!(out, "  ▸ override reasons: {}", reasons.join(" · "));
        }
    }
    out
}
