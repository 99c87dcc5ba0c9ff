//! [`check_card`]: every invariant of docs/wire-contract.md §Cards (and of CDS Hooks 2.0) on one card.

use serde_json::Value;

use crate::rules::RuleCode;
use crate::wire::{Action, ActionType, Card, Coding, Indicator};

use super::allowed_indicators;
use super::format::{is_relative_reference, SUMMARY_MAX_CHARS};

fn check_uuid(what: &str, uuid: Option<&str>) -> Result<(), String> {
    let Some(u) = uuid else {
        return Err(format!("{what}: uuid missing"));
    };
    let parsed =
        uuid::Uuid::parse_str(u).map_err(|e| format!("{what}: uuid {u:?} invalid: {e}"))?;
    if parsed.get_version_num() != 4 {
        return Err(format!("{what}: uuid {u:?} is not a v4 uuid"));
    }
    Ok(())
}

fn non_blank(what: &str, value: Option<&str>) -> Result<(), String> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(()),
        Some(_) => Err(format!("{what} is blank")),
        None => Err(format!("{what} missing")),
    }
}

fn has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.iter().any(has_null),
        Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

fn check_coding(what: &str, c: &Coding) -> Result<(), String> {
    non_blank(&format!("{what}.system"), c.system.as_deref())?;
    non_blank(&format!("{what}.code"), Some(&c.code))?;
    non_blank(&format!("{what}.display"), c.display.as_deref())
}

/// The `ServiceRequest` of a create suggestion: draft order with a code and a patient subject.
fn check_service_request(what: &str, r: &Value) -> Result<(), String> {
    let field = |name: &str| r.get(name).and_then(Value::as_str);
    if field("status") != Some("draft") {
        return Err(format!("{what}: ServiceRequest.status must be \"draft\""));
    }
    if field("intent") != Some("order") {
        return Err(format!("{what}: ServiceRequest.intent must be \"order\""));
    }
    let code = r
        .get("code")
        .ok_or_else(|| format!("{what}: ServiceRequest.code missing"))?;
    let has_coding = code
        .get("coding")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            !cs.is_empty()
                && cs.iter().all(|c| {
                    c.get("system")
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty())
                        && c.get("code")
                            .and_then(Value::as_str)
                            .is_some_and(|s| !s.is_empty())
                })
        });
    let has_text = code
        .get("text")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty());
    if !has_coding && !has_text {
        return Err(format!(
            "{what}: ServiceRequest.code has neither coding nor text"
        ));
    }
    let subject = r
        .get("subject")
        .and_then(|s| s.get("reference"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !is_relative_reference(subject, Some("Patient")) {
        return Err(format!(
            "{what}: ServiceRequest.subject.reference {subject:?} is not Patient/<id>"
        ));
    }
    Ok(())
}

/// Checks one card against the service's wire contract. `Err` names the first broken rule.
pub fn check_card(card: &Card) -> Result<(), String> {
    check_uuid("card", card.uuid.as_deref())?;
    check_summary(card)?;
    non_blank("detail", card.detail.as_deref())?;
    let rule = check_source(card)?;
    check_suggestions(card, rule)?;
    check_override_reasons(card, rule)?;
    check_links(card)?;

    // Serialised: no null anywhere.
    let json = serde_json::to_value(card).map_err(|e| format!("card does not serialise: {e}"))?;
    if has_null(&json) {
        return Err("serialised card contains null".into());
    }
    Ok(())
}

/// Summary: one line, non-empty, at most 139 characters.
fn check_summary(card: &Card) -> Result<(), String> {
    if card.summary.trim().is_empty() {
        return Err("summary is empty".into());
    }
    let len = card.summary.chars().count();
    if len > SUMMARY_MAX_CHARS {
        return Err(format!(
            "summary has {len} characters (max {SUMMARY_MAX_CHARS}): {:?}",
            card.summary
        ));
    }
    if card.summary.chars().any(char::is_control) {
        return Err("summary contains a line break or control character".into());
    }
    Ok(())
}

/// Source: label, url and topic with one of the rule codes, and an indicator that rule allows.
/// Returns the rule.
fn check_source(card: &Card) -> Result<RuleCode, String> {
    non_blank("source.label", Some(&card.source.label))?;
    // source.url: the profile's reference document, an absolute URL (issue 12 item 4).
    let url = card.source.url.as_deref().ok_or("source.url missing")?;
    non_blank("source.url", Some(url))?;
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => {}
        _ => return Err(format!("source.url {url:?} is not an absolute http(s) URL")),
    }
    let topic = card.source.topic.as_ref().ok_or("source.topic missing")?;
    non_blank("source.topic.system", topic.system.as_deref())?;
    let rule = RuleCode::from_code(&topic.code)
        .ok_or_else(|| format!("source.topic.code {:?} is not a rule code", topic.code))?;
    if !allowed_indicators(rule).contains(&card.indicator) {
        return Err(format!(
            "indicator {:?} not allowed for {}",
            card.indicator,
            rule.as_str()
        ));
    }
    Ok(rule)
}

/// Suggestions: `selectionBehavior` exactly when there are some, unique uuids, labels, valid
/// actions; a delete only on a critical card; a liver-function card only creates a
/// `ServiceRequest`.
fn check_suggestions(card: &Card, rule: RuleCode) -> Result<(), String> {
    if card.suggestions.is_empty() != card.selection_behavior.is_none() {
        return Err("selectionBehavior must be present exactly when there are suggestions".into());
    }
    let mut uuids = vec![card.uuid.clone().unwrap_or_default()];
    let mut has_delete = false;
    for (i, s) in card.suggestions.iter().enumerate() {
        let what = format!("suggestion {i}");
        check_uuid(&what, s.uuid.as_deref())?;
        let u = s.uuid.clone().unwrap_or_default();
        if uuids.contains(&u) {
            return Err(format!("{what}: uuid {u} is not unique"));
        }
        uuids.push(u);
        non_blank(&format!("{what}.label"), Some(&s.label))?;
        if s.actions.is_empty() {
            return Err(format!("{what} has no action"));
        }
        for (j, a) in s.actions.iter().enumerate() {
            has_delete |= check_action(&format!("{what} action {j}"), a, rule)?;
        }
    }
    if has_delete && card.indicator != Indicator::Critical {
        return Err("only a critical card may suggest deleting the order".into());
    }
    if rule == RuleCode::LiverFunction {
        for s in &card.suggestions {
            for a in &s.actions {
                let is_sr = a
                    .resource
                    .as_ref()
                    .and_then(|r| r.get("resourceType"))
                    .and_then(Value::as_str)
                    == Some("ServiceRequest");
                if a.kind != ActionType::Create || !is_sr {
                    return Err("liver-function suggestions must create a ServiceRequest".into());
                }
            }
        }
    }
    Ok(())
}

/// One action of a suggestion; `Ok(true)` when it is a delete.
fn check_action(what: &str, a: &Action, rule: RuleCode) -> Result<bool, String> {
    non_blank(&format!("{what}.description"), Some(&a.description))?;
    match a.kind {
        ActionType::Delete => {
            let id = a.resource_id.as_deref().unwrap_or_default();
            if !is_relative_reference(id, None) {
                return Err(format!(
                    "{what}: delete needs a resourceId Type/id, got {id:?}"
                ));
            }
            if rule != RuleCode::DataUnavailable
                && !is_relative_reference(id, Some("MedicationRequest"))
            {
                return Err(format!(
                    "{what}: delete of {id:?} is not a MedicationRequest"
                ));
            }
            Ok(true)
        }
        ActionType::Create | ActionType::Update => {
            let r = a
                .resource
                .as_ref()
                .ok_or_else(|| format!("{what}: create/update needs a resource"))?;
            let ty = r
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if ty.is_empty() {
                return Err(format!("{what}: resource has no resourceType"));
            }
            if ty == "ServiceRequest" {
                check_service_request(what, r)?;
            }
            if has_null(r) {
                return Err(format!("{what}: resource contains null"));
            }
            Ok(false)
        }
    }
}

/// Override reasons: complete codings, each code once; a critical initiation,
/// re-administration or contraindication card must offer some.
fn check_override_reasons(card: &Card, rule: RuleCode) -> Result<(), String> {
    let mut codes: Vec<&str> = Vec::new();
    for (i, r) in card.override_reasons.iter().enumerate() {
        check_coding(&format!("overrideReasons[{i}]"), r)?;
        if codes.contains(&r.code.as_str()) {
            return Err(format!("overrideReasons: code {} repeated", r.code));
        }
        codes.push(&r.code);
    }
    let needs_reasons = card.indicator == Indicator::Critical
        && matches!(
            rule,
            RuleCode::InitiationEligibility
                | RuleCode::ReAdministration
                | RuleCode::Contraindication
        );
    if needs_reasons && card.override_reasons.is_empty() {
        return Err(format!(
            "critical {} card without overrideReasons",
            rule.as_str()
        ));
    }
    Ok(())
}

/// Links (none today, but keep them valid).
fn check_links(card: &Card) -> Result<(), String> {
    for l in &card.links {
        non_blank("link.label", Some(&l.label))?;
        non_blank("link.url", Some(&l.url))?;
        if l.kind != "absolute" && l.kind != "smart" {
            return Err(format!("link.type {:?} is not absolute or smart", l.kind));
        }
    }
    Ok(())
}
