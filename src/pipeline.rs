//! One hook call from request to response: gather the facts, evaluate the rules, render the
//! cards. Shared by the web layer and `alemtuzumab-cds simulate`.

use std::time::Instant;

use chrono::NaiveDate;

use crate::cards;
use crate::config::Settings;
use crate::fhir::client::FhirClient;
use crate::fhir::{self, HookData};
use crate::rules::{self, Finding, RuleCode};
use crate::services::{hook_name, Service};
pub use crate::store::model::CallInfo;
use crate::store::model::{CardRecord, DecisionRecord, FindingRecord, ReasonCode};
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
    req: HookRequest<'_>,
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

/// The audit record of one hook call: identifiers, codes and uuids only. The request's tokens,
/// resources and names never reach it.
pub fn audit_record(call: CallInfo, outcome: Option<&Outcome>) -> DecisionRecord {
    let mut record = DecisionRecord::from_call(call);
    let Some(outcome) = outcome else {
        return record;
    };
    let data = &outcome.data;
    record.draft_orders = data.draft_orders.clone();
    record.from_prefetch = data.from_prefetch.clone();
    record.from_fhir = data.from_fhir.clone();
    record.gaps = data
        .facts
        .gaps
        .iter()
        .map(|g| g.data.key().to_owned())
        .collect();
    record.findings = outcome
        .findings
        .iter()
        .map(|f| FindingRecord {
            rule: f.rule.as_str().to_owned(),
            severity: f.severity.as_str().to_owned(),
            order: f.order.as_ref().map(|o| o.reference.clone()),
        })
        .collect();
    // cards::render gives one card per finding, in order: the finding names the card's order.
    record.cards = outcome
        .response
        .cards
        .iter()
        .enumerate()
        .filter_map(|(i, card)| {
            let order_from_finding = outcome
                .findings
                .get(i)
                .and_then(|f| f.order.as_ref())
                .map(|o| o.reference.clone());
            let order_from_delete = card
                .suggestions
                .iter()
                .flat_map(|s| &s.actions)
                .find_map(|a| a.resource_id.clone());
            Some(CardRecord {
                uuid: card.uuid.clone()?,
                topic: card
                    .source
                    .topic
                    .as_ref()
                    .map(|t| t.code.clone())
                    .unwrap_or_default(),
                indicator: card.indicator.as_str().to_owned(),
                order_ref: order_from_finding.or(order_from_delete),
                suggestion_uuids: card
                    .suggestions
                    .iter()
                    .filter_map(|s| s.uuid.clone())
                    .collect(),
                override_reasons: card
                    .override_reasons
                    .iter()
                    .map(|c| ReasonCode {
                        system: c.system.clone(),
                        code: c.code.clone(),
                        display: c.display.clone(),
                    })
                    .collect(),
            })
        })
        .collect();
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> CallInfo {
        CallInfo {
            hook_instance: "hi-1".into(),
            service: "alemtuzumab-order-sign".into(),
            hook: "order-sign".into(),
            patient_id: Some("pat-1".into()),
            status: 412,
            profile: "ansm-2019".into(),
            latency: std::time::Duration::from_millis(3),
        }
    }

    #[test]
    fn a_call_without_outcome_keeps_the_identifiers_only() {
        let r = audit_record(call(), None);
        assert_eq!(r.hook_instance, "hi-1");
        assert_eq!(r.patient_id.as_deref(), Some("pat-1"));
        assert_eq!(r.status, 412);
        assert!(r.cards.is_empty() && r.findings.is_empty());
        assert_eq!(r.latency_us, 3000);
    }
}
