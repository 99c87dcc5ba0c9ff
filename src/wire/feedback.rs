//! CDS Hooks 2.0 feedback (cds-hooks.hl7.org/2.0/#feedback): `POST {baseUrl}/cds-services/{id}/feedback`
//! with `{"feedback": [...]}`, read into [`Feedback`] values. Every error names its field, e.g.
//! `feedback[0].outcome`. Unknown fields are ignored, as everywhere on input.
//!
//! What a CDS Hooks Sandbox sends (tests/data/real-client/): `acceptedSuggestions` with an accepted
//! outcome; an `overrideReason` whose `reason` has no `display`, and no `userComment`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::request::{check_len, json_type, optional_string, required_string, FieldError};
use serde::{Deserialize, Serialize};

/// A Coding as offered in `overrideReasons` or sent in `overrideReason.reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCode {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl ReasonCode {
    /// Whether `self` (sent) is one of `offered`: same code, and same system when both have one.
    pub fn offered_in(&self, offered: &[ReasonCode]) -> bool {
        offered.iter().any(|o| {
            o.code == self.code
                && match (&o.system, &self.system) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                }
        })
    }
}

/// `accepted` or `overridden` (CDS Hooks 2.0 §Feedback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackOutcome {
    Accepted,
    Overridden,
}

impl FeedbackOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackOutcome::Accepted => "accepted",
            FeedbackOutcome::Overridden => "overridden",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "accepted" => Some(FeedbackOutcome::Accepted),
            "overridden" => Some(FeedbackOutcome::Overridden),
            _ => None,
        }
    }
}

/// One validated `feedback[]` item.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub card: String,
    pub outcome: FeedbackOutcome,
    pub accepted_suggestions: Vec<String>,
    pub reason: Option<ReasonCode>,
    pub user_comment: Option<String>,
    /// `outcomeTimestamp` normalised to UTC, RFC 3339.
    pub outcome_timestamp: DateTime<Utc>,
}

/// The longest `userComment` kept: a comment is a sentence or two, not a document.
pub const MAX_USER_COMMENT_CHARS: usize = 4000;
/// The longest identifier (card uuid, suggestion id, code) accepted.
const MAX_ID_CHARS: usize = 256;
/// The longest override reason `system` or `display` accepted (issue 17 item 8).
pub const MAX_REASON_TEXT_CHARS: usize = 500;
/// The most `feedback[]` items one call may carry: an EHR sends one per card acted on
/// (issue 17 item 8: 10 000 items gave 10 005 warning lines).
pub const MAX_FEEDBACK_ITEMS: usize = 100;

/// An optional string no longer than [`MAX_REASON_TEXT_CHARS`].
fn reason_text(
    obj: &mut Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, FieldError> {
    let s = optional_string(obj, key, path)?;
    if let Some(text) = &s {
        check_len(text, MAX_REASON_TEXT_CHARS, path)?;
    }
    Ok(s)
}

fn object(v: Value, path: &str) -> Result<Map<String, Value>, FieldError> {
    match v {
        Value::Object(o) => Ok(o),
        other => Err(FieldError::new(
            path,
            format!("must be an object, not {}", json_type(&other)),
        )),
    }
}

fn id(obj: &mut Map<String, Value>, key: &str, path: &str) -> Result<String, FieldError> {
    let s = required_string(obj, key, path)?;
    if s.chars().count() > MAX_ID_CHARS {
        return Err(FieldError::new(
            path,
            format!("is longer than {MAX_ID_CHARS} characters"),
        ));
    }
    Ok(s)
}

/// Reads the body of a feedback call.
pub fn parse_feedback(body: Value) -> Result<Vec<Feedback>, FieldError> {
    let mut obj = object(body, "(body)")?;
    let items = match obj.remove("feedback") {
        None | Some(Value::Null) => return Err(FieldError::missing("feedback")),
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(FieldError::new("feedback", "must not be empty"))
        }
        Some(Value::Array(a)) if a.len() > MAX_FEEDBACK_ITEMS => {
            return Err(FieldError::new(
                "feedback",
                format!("has more than {MAX_FEEDBACK_ITEMS} items"),
            ))
        }
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(FieldError::new(
                "feedback",
                format!("must be an array, not {}", json_type(&other)),
            ))
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| parse_item(v, &format!("feedback[{i}]")))
        .collect()
}

fn parse_item(v: Value, path: &str) -> Result<Feedback, FieldError> {
    let mut obj = object(v, path)?;
    let card = id(&mut obj, "card", &format!("{path}.card"))?;
    let outcome_path = format!("{path}.outcome");
    let outcome_text = required_string(&mut obj, "outcome", &outcome_path)?;
    let outcome = FeedbackOutcome::parse(&outcome_text).ok_or_else(|| {
        FieldError::new(
            &outcome_path,
            format!("`{outcome_text}`: expected `accepted` or `overridden`"),
        )
    })?;
    let ts_path = format!("{path}.outcomeTimestamp");
    let ts_text = required_string(&mut obj, "outcomeTimestamp", &ts_path)?;
    let outcome_timestamp = DateTime::parse_from_rfc3339(&ts_text)
        .map_err(|e| {
            FieldError::new(
                &ts_path,
                format!("`{ts_text}` is not an ISO 8601 instant with a time zone ({e})"),
            )
        })?
        .with_timezone(&Utc);

    let sugg_path = format!("{path}.acceptedSuggestions");
    let accepted_suggestions = match obj.remove("acceptedSuggestions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .into_iter()
            .enumerate()
            .map(|(j, s)| {
                let p = format!("{sugg_path}[{j}]");
                let mut o = object(s, &p)?;
                id(&mut o, "id", &format!("{p}.id"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(FieldError::new(
                &sugg_path,
                format!("must be an array, not {}", json_type(&other)),
            ))
        }
    };

    let reason_path = format!("{path}.overrideReason");
    let (reason, user_comment) = match obj.remove("overrideReason") {
        None | Some(Value::Null) => (None, None),
        Some(v) => {
            let mut o = object(v, &reason_path)?;
            let reason = match o.remove("reason") {
                None | Some(Value::Null) => None,
                Some(v) => {
                    let p = format!("{reason_path}.reason");
                    let mut c = object(v, &p)?;
                    Some(ReasonCode {
                        code: id(&mut c, "code", &format!("{p}.code"))?,
                        system: reason_text(&mut c, "system", &format!("{p}.system"))?,
                        display: reason_text(&mut c, "display", &format!("{p}.display"))?,
                    })
                }
            };
            let comment_path = format!("{reason_path}.userComment");
            let comment = optional_string(&mut o, "userComment", &comment_path)?;
            if comment
                .as_ref()
                .is_some_and(|c| c.chars().count() > MAX_USER_COMMENT_CHARS)
            {
                return Err(FieldError::new(
                    &comment_path,
                    format!("is longer than {MAX_USER_COMMENT_CHARS} characters"),
                ));
            }
            if reason.is_none() && comment.is_none() {
                return Err(FieldError::new(
                    &reason_path,
                    "needs a `reason` or a `userComment`",
                ));
            }
            (reason, comment)
        }
    };

    // CDS Hooks 2.0 §Feedback: acceptedSuggestions is required for an accepted outcome, and an
    // override reason explains an override only.
    match outcome {
        FeedbackOutcome::Accepted => {
            if accepted_suggestions.is_empty() {
                return Err(FieldError::new(
                    &sugg_path,
                    "is required (at least one suggestion id) when outcome is `accepted`",
                ));
            }
            if reason.is_some() || user_comment.is_some() {
                return Err(FieldError::new(
                    &reason_path,
                    "is only allowed when outcome is `overridden`",
                ));
            }
        }
        FeedbackOutcome::Overridden => {
            if !accepted_suggestions.is_empty() {
                return Err(FieldError::new(
                    &sugg_path,
                    "is only allowed when outcome is `accepted`",
                ));
            }
        }
    }
    Ok(Feedback {
        card,
        outcome,
        accepted_suggestions,
        reason,
        user_comment,
        outcome_timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(body: Value) -> String {
        parse_feedback(body).unwrap_err().field
    }

    #[test]
    fn the_sandbox_feedback_calls_are_read() {
        // Bodies exactly as the CDS Hooks Sandbox sent them (tests/data/real-client/).
        let accepted = json!({"feedback": [{
            "card": "e015d505-555f-477b-bb1c-01a99f30a4c8",
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": "16649bb8-335e-411b-87f2-1fa9cbf0011e"}],
            "outcomeTimestamp": "2026-11-25T01:10:21.815Z"
        }]});
        let f = parse_feedback(accepted).unwrap();
        assert_eq!(f[0].outcome, FeedbackOutcome::Accepted);
        assert_eq!(
            f[0].accepted_suggestions,
            ["16649bb8-335e-411b-87f2-1fa9cbf0011e"]
        );
        let overridden = json!({"feedback": [{
            "card": "e015d505-555f-477b-bb1c-01a99f30a4c8",
            "outcome": "overridden",
            "outcomeTimestamp": "2026-11-25T01:10:23.110Z",
            "overrideReason": {"reason": {"code": "not-relevant", "system": "http://example.org/reasons"}}
        }]});
        let f = parse_feedback(overridden).unwrap();
        let reason = f[0].reason.as_ref().unwrap();
        assert_eq!(reason.code, "not-relevant");
        assert_eq!(reason.display, None);
        assert_eq!(f[0].user_comment, None);
    }

    #[test]
    fn each_malformed_field_is_named() {
        let ok = json!({
            "card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-25T01:10:23Z",
            "overrideReason": {"reason": {"code": "x"}, "userComment": "ok"}
        });
        let with = |k: &str, v: Value| {
            let mut item = ok.clone();
            item[k] = v;
            json!({ "feedback": [ok.clone(), item] })
        };
        let without = |k: &str| {
            let mut item = ok.clone();
            item.as_object_mut().unwrap().remove(k);
            json!({ "feedback": [item] })
        };
        for (body, field) in [
            (json!([]), "(body)"),
            (json!({}), "feedback"),
            (json!({"feedback": {}}), "feedback"),
            (json!({"feedback": []}), "feedback"),
            (json!({"feedback": [3]}), "feedback[0]"),
            (without("card"), "feedback[0].card"),
            (with("card", json!(42)), "feedback[1].card"),
            (without("outcome"), "feedback[0].outcome"),
            (with("outcome", json!("ignored")), "feedback[1].outcome"),
            (without("outcomeTimestamp"), "feedback[0].outcomeTimestamp"),
            (
                with("outcomeTimestamp", json!("yesterday")),
                "feedback[1].outcomeTimestamp",
            ),
            (
                with("outcomeTimestamp", json!("2026-11-25T01:10:23")),
                "feedback[1].outcomeTimestamp",
            ),
            (
                with("overrideReason", json!("because")),
                "feedback[1].overrideReason",
            ),
            (
                with("overrideReason", json!({})),
                "feedback[1].overrideReason",
            ),
            (
                with("overrideReason", json!({"reason": {"system": "s"}})),
                "feedback[1].overrideReason.reason.code",
            ),
            (
                with("overrideReason", json!({"userComment": 7})),
                "feedback[1].overrideReason.userComment",
            ),
            (
                with("acceptedSuggestions", json!([{"id": "s"}])),
                "feedback[1].acceptedSuggestions",
            ),
            (
                with("acceptedSuggestions", json!([{}])),
                "feedback[1].acceptedSuggestions[0].id",
            ),
        ] {
            assert_eq!(field_of(body.clone()), field, "{body}");
        }
        let accepted_without_suggestion = json!({"feedback": [{
            "card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-25T01:10:23Z"
        }]});
        assert_eq!(
            field_of(accepted_without_suggestion),
            "feedback[0].acceptedSuggestions"
        );
        let accepted_with_reason = json!({"feedback": [{
            "card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-25T01:10:23Z",
            "acceptedSuggestions": [{"id": "s"}], "overrideReason": {"userComment": "x"}
        }]});
        assert_eq!(field_of(accepted_with_reason), "feedback[0].overrideReason");
    }

    #[test]
    fn a_comment_longer_than_the_limit_is_refused() {
        let body = json!({"feedback": [{
            "card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-25T01:10:23+01:00",
            "overrideReason": {"userComment": "x".repeat(MAX_USER_COMMENT_CHARS + 1)}
        }]});
        assert_eq!(field_of(body), "feedback[0].overrideReason.userComment");
    }
}
