//! One hook call from request to answer, and everything it yields: the response, the findings,
//! the metric labels (cards by topic and indicator, the call's outcome) and the audit record.
//! `serve` (src/web/routes.rs, on the compute pool) and `alemtuzumab-cds simulate` run the same
//! [`call_request`]; the web layer only reads the body, records the metrics and answers.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use tracing::field::Empty;
use tracing::Instrument;

use crate::cards;
use crate::config::Settings;
use crate::fhir::client::FhirClient;
use crate::fhir::{self, HookData};
use crate::rules::{self, Finding, RuleCode};
use crate::services::Service;
pub use crate::store::model::CallInfo;
use crate::store::model::{CardRecord, DecisionRecord, FindingRecord, ReasonCode};
use crate::wire::request::{FieldError, HookRequest, ReadError};
use crate::wire::response::Card;
use crate::wire::CdsResponse;

/// What a hook call produced, for the response, the log, the metrics and the audit.
#[derive(Debug)]
pub struct Outcome {
    pub response: CdsResponse,
    /// The findings, in the order of the cards: `response.cards[i]` was rendered from
    /// `findings[i]` (`cards::render` gives one card per finding, in order).
    pub findings: Vec<Finding>,
    pub data: HookData,
}

impl Outcome {
    /// Each card with the finding it was rendered from.
    pub fn issued(&self) -> impl Iterator<Item = (&Finding, &Card)> {
        self.findings.iter().zip(&self.response.cards)
    }

    /// The labels of `cds_cards_total`: (topic, indicator) of each card. The topic is the rule
    /// the finding's detail is about, as `cards::render` names it.
    pub fn card_labels(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.issued()
            .map(|(f, card)| (f.detail.rule().as_str(), card.indicator.as_str()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The body is not JSON (syntax, truncation, nesting beyond serde_json's 128 levels).
    #[error("{0}")]
    NotJson(String),
    /// Transparent: the field error says it all (no "cause" repeated after it).
    #[error(transparent)]
    Field(#[from] FieldError),
    /// 412: nothing safety-relevant can be said (docs/wire-contract.md §Errors).
    #[error("{0}")]
    Precondition(String),
}

impl PipelineError {
    /// How a call refused with this error ended.
    pub fn outcome(&self) -> CallOutcome {
        match self {
            PipelineError::NotJson(_) | PipelineError::Field(_) => CallOutcome::BadRequest,
            PipelineError::Precondition(_) => CallOutcome::PreconditionFailed,
        }
    }
}

impl From<ReadError> for PipelineError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::NotJson(m) => PipelineError::NotJson(m),
            ReadError::Field(f) => PipelineError::Field(f),
        }
    }
}

/// How a hook call ended: the `outcome` label of `cds_hook_calls_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// Answered with cards (possibly none).
    Ok,
    /// The body was not a hook request for this service.
    BadRequest,
    /// 412: nothing safety-relevant could be said.
    PreconditionFailed,
    /// The body was over `server.body_limit_bytes`.
    TooLarge,
    /// No such service.
    NotFound,
    /// The call's work failed inside the service.
    Error,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::BadRequest => "bad_request",
            CallOutcome::PreconditionFailed => "precondition_failed",
            CallOutcome::TooLarge => "too_large",
            CallOutcome::NotFound => "not_found",
            CallOutcome::Error => "error",
        }
    }
}

/// One hook call as the pipeline ran it: its result and what the audit and the log need.
#[derive(Debug)]
pub struct Call {
    pub service: Service,
    /// `hookInstance` and `context.patientId`, once the body was read as a hook request.
    pub ids: Option<(String, String)>,
    /// The call's `hook` span (service, hook instance); disabled before the request was read.
    pub span: tracing::Span,
    pub result: Result<Outcome, PipelineError>,
}

impl Call {
    /// How the call ended.
    pub fn outcome(&self) -> CallOutcome {
        match &self.result {
            Ok(_) => CallOutcome::Ok,
            Err(e) => e.outcome(),
        }
    }

    /// Logs "hook answered" in the call's span, with its card count and `elapsed`; nothing for
    /// a refused call (the refusal is logged where it becomes an answer).
    pub fn log_answered(&self, elapsed: Duration) {
        let Ok(outcome) = &self.result else {
            return;
        };
        self.span.record("cards", outcome.response.cards.len());
        self.span
            .record("duration_ms", elapsed.as_secs_f64() * 1000.0);
        self.span.in_scope(|| {
            tracing::info!(
                orders = outcome.data.draft_orders.len(),
                alemtuzumab_orders = outcome.data.orders.len(),
                gaps = outcome.data.facts.gaps.len(),
                "hook answered"
            )
        });
    }

    /// The decision audit of the call (issue 6 §2): every call answered 200 or 412, once its
    /// request was read; `None` for a call refused as malformed (no decision was made).
    pub fn audit_record(&self, profile: &str, latency: Duration) -> Option<DecisionRecord> {
        let (hook_instance, patient_id) = self.ids.clone()?;
        let status = match &self.result {
            Ok(_) => 200,
            Err(PipelineError::Precondition(_)) => 412,
            Err(_) => return None,
        };
        let info = CallInfo {
            hook_instance,
            service: self.service.id.to_owned(),
            hook: self.service.hook.as_str().to_owned(),
            patient_id: Some(patient_id),
            status,
            profile: profile.to_owned(),
            latency,
        };
        Some(audit_record(info, self.result.as_ref().ok()))
    }
}

/// Reads a hook request from the body, once: the prefetch stays text borrowed from `body`
/// (issue 13 §2).
pub fn read(body: &[u8]) -> Result<HookRequest<'_>, PipelineError> {
    Ok(HookRequest::from_slice(body)?)
}

/// One hook call from its body, for `service`, as of `today`: [`read`], then [`call_request`].
pub async fn call(
    body: &[u8],
    service: Service,
    settings: &Settings,
    client: Option<&FhirClient>,
    today: NaiveDate,
) -> Call {
    match read(body) {
        Ok(request) => call_request(request, service, settings, client, today).await,
        Err(e) => Call {
            service,
            ids: None,
            span: tracing::Span::none(),
            result: Err(e),
        },
    }
}

/// One hook call from its request: [`run`] in the call's `hook` span.
pub async fn call_request(
    request: HookRequest<'_>,
    service: Service,
    settings: &Settings,
    client: Option<&FhirClient>,
    today: NaiveDate,
) -> Call {
    let ids = (
        request.hook_instance.clone(),
        request.context.patient_id().to_owned(),
    );
    let span = tracing::info_span!(
        "hook",
        service = service.id,
        hook_instance = %request.hook_instance,
        cards = Empty,
        duration_ms = Empty,
    );
    // The span is attached to the future (`Instrument`), never entered across an `.await`: an
    // entered guard stays on the thread's span stack when the future yields, and spans pile up
    // on every later log line of that thread.
    let result = run(request, service, settings, client, today)
        .instrument(span.clone())
        .await;
    Call {
        service,
        ids: Some(ids),
        span,
        result,
    }
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
    let expected = service.hook.as_str();
    if req.hook != expected {
        return Err(FieldError::new(
            "hook",
            format!("`{}` sent to a service that answers `{expected}`", req.hook),
        )
        .into());
    }
    if req.context.kind() != service.hook {
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
    debug_assert_eq!(cards.len(), findings.len(), "one card per finding");
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
/// resources and names never reach it. What the decision was (rules, severities, orders, topics)
/// comes from the findings; a card adds only what exists once rendered: its uuid, indicator,
/// suggestion uuids and the override reasons it offered.
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
            order: order_of(f),
        })
        .collect();
    record.cards = outcome
        .issued()
        .filter_map(|(finding, card)| {
            Some(CardRecord {
                uuid: card.uuid.clone()?,
                topic: finding.detail.rule().as_str().to_owned(),
                indicator: card.indicator.as_str().to_owned(),
                order_ref: order_of(finding),
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

/// The draft order a finding is about, as `MedicationRequest/<id>`.
fn order_of(finding: &Finding) -> Option<String> {
    finding.order.as_ref().map(|o| o.reference.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_info() -> CallInfo {
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
        let r = audit_record(call_info(), None);
        assert_eq!(r.hook_instance, "hi-1");
        assert_eq!(r.patient_id.as_deref(), Some("pat-1"));
        assert_eq!(r.status, 412);
        assert!(r.cards.is_empty() && r.findings.is_empty());
        assert_eq!(r.latency_us, 3000);
    }

    /// Every fixture hook call, offline: one card per finding, in order, so the audit and the
    /// metric labels read from the findings say what the cards say.
    #[test]
    fn every_fixture_card_pairs_with_the_finding_it_was_rendered_from() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hooks");
        let settings = Settings::default();
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let mut cards_seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let body = std::fs::read(&path).unwrap();
            let hook = read(&body).unwrap().hook;
            let service = crate::services::service_for_hook(&hook).unwrap();
            let answered =
                futures::executor::block_on(call(&body, service, &settings, None, today));
            let Ok(outcome) = &answered.result else {
                continue;
            };
            let cards = &outcome.response.cards;
            assert_eq!(cards.len(), outcome.findings.len(), "{}", path.display());
            let labels: Vec<_> = outcome.card_labels().collect();
            let shown: Vec<_> = cards
                .iter()
                .map(|c| {
                    let topic = c.source.topic.as_ref().map(|t| t.code.as_str());
                    (topic.unwrap_or_default(), c.indicator.as_str())
                })
                .collect();
            assert_eq!(labels, shown, "{}", path.display());
            let record = answered.audit_record("ansm-2019", Duration::ZERO).unwrap();
            assert_eq!(record.status, 200);
            assert_eq!(record.cards.len(), cards.len());
            for ((r, card), finding) in record.cards.iter().zip(cards).zip(&outcome.findings) {
                assert_eq!(Some(&r.uuid), card.uuid.as_ref());
                assert_eq!(
                    Some(r.topic.as_str()),
                    card.source.topic.as_ref().map(|t| t.code.as_str())
                );
                // The delete suggestion, when offered, names the finding's order.
                let delete = card
                    .suggestions
                    .iter()
                    .flat_map(|s| &s.actions)
                    .find_map(|a| a.resource_id.as_deref());
                if let Some(id) = delete {
                    assert_eq!(r.order_ref.as_deref().map(str::trim), Some(id));
                }
                assert_eq!(
                    r.order_ref,
                    finding.order.as_ref().map(|o| o.reference.clone())
                );
            }
            cards_seen += cards.len();
        }
        assert!(cards_seen > 0, "no fixture gave a card");
    }

    #[test]
    fn a_body_that_is_not_a_hook_request_is_refused_without_an_audit() {
        let settings = Settings::default();
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let service = crate::services::SERVICES[0];
        let answered = futures::executor::block_on(call(b"{", service, &settings, None, today));
        assert!(matches!(answered.result, Err(PipelineError::NotJson(_))));
        assert_eq!(answered.outcome(), CallOutcome::BadRequest);
        assert!(answered.audit_record("ansm-2019", Duration::ZERO).is_none());
    }
}
