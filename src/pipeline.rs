//! One hook call from request to response: gather the facts, evaluate the rules, render the
//! cards. Shared by the web layer and `alemtuzumab-cds simulate`.

use std::time::Instant;

use chrono::NaiveDate;

use crate::cards;
use crate::config::Settings;
use crate::fhir::client::FhirClient;
use crate::fhir::{self, HookData};
use crate::rules::{self, Finding, RuleCode};
use crate::wire::discovery::{hook_name, Service};
use crate::wire::request::{FieldError, HookRequest};
use crate::wire::CdsResponse;

/// What a hook call produced, for the response, the log and the metrics.
#[derive(Debug)]
pub struct Outcome {
    pub response: CdsResponse,
    pub findings: Vec<Finding>,
    pub data: HookData,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{0}")]
    Field(#[from] FieldError),
    /// 412: nothing safety-relevant can be said (docs/wire-contract.md §Errors).
    #[error("{0}")]
    Precondition(String),
}

/// Answers one hook call for `service`, as of `today`. Without `client`, only the prefetch is
/// used (`simulate`).
pub async fn run(
    req: HookRequest,
    service: Service,
    settings: &Settings,
    client: Option<&FhirClient>,
    today: NaiveDate,
) -> Result<Outcome, PipelineError> {
    let expected = hook_name(service.hook);
    if req.hook != expected {
        return Err(FieldError::new(
            "hook",
            format!("`{}` sent to a service that answers `{expected}`", req.hook),
        )
        .into());
    }
    if req.context.hook_name() != expected {
        return Err(FieldError::new("hook", "does not match the context").into());
    }
    let patient_id = req.context.patient_id().to_owned();
    let deadline = Instant::now() + settings.fhir.deadline;
    let data = fhir::gather(req, service.hook, &settings.gather, client, deadline).await;
    let findings = rules::evaluate(
        &data.facts,
        &data.orders,
        service.hook,
        &settings.rules,
        today,
    );
    let only_gaps =
        !findings.is_empty() && findings.iter().all(|f| f.rule == RuleCode::DataUnavailable);
    let any_gap = findings.iter().any(|f| f.rule == RuleCode::DataUnavailable);
    // docs/wire-contract.md: 412 only when nothing safety-relevant can be said — the data could not be
    // obtained and no alemtuzumab order is recognisable; `strict_412` gives it for any gap.
    if (only_gaps && !data.has_alemtuzumab_order()) || (settings.strict_412 && any_gap) {
        let missing: Vec<String> = data
            .facts
            .gaps
            .iter()
            .map(|g| g.data.key().to_owned())
            .collect();
        return Err(PipelineError::Precondition(format!(
            "could not obtain {}",
            missing.join(", ")
        )));
    }
    let cards = cards::render(&findings, &patient_id, &settings.cards);
    Ok(Outcome {
        response: CdsResponse {
            cards,
            system_actions: Vec::new(),
        },
        findings,
        data,
    })
}
