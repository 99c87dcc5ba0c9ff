//! CDS Hooks 2.0 feedback (cds-hooks.hl7.org/2.0/#feedback): `POST {baseUrl}/cds-services/{id}/feedback`
//! with `{"feedback": [...]}`, read into [`Feedback`] values: serde derives the shapes,
//! `serde_path_to_error` names the field of a wrong type, the checks after it name theirs, e.g.
//! `feedback[0].outcome`. Unknown fields are ignored, as everywhere on input.
//!
//! What a CDS Hooks Sandbox sends (tests/data/real-client/): `acceptedSuggestions` with an accepted
//! outcome; an `overrideReason` whose `reason` has no `display`, and no `userComment`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::request::{check_len, FieldError};

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

/// A `feedback[]` item as sent: read by serde (a wrong type is named by its path, e.g.
/// `feedback[0].overrideReason.reason.code`), then checked by [`parse_item`]. Absent and `null`
/// are both `None`; unknown fields are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an object")]
struct ItemIn {
    #[serde(default)]
    card: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    outcome_timestamp: Option<String>,
    #[serde(default)]
    accepted_suggestions: Option<Vec<Obj<SuggestionIn>>>,
    #[serde(default)]
    override_reason: Option<Obj<OverrideReasonIn>>,
}

#[derive(Debug, Deserialize)]
#[serde(expecting = "an object")]
struct SuggestionIn {
    #[serde(default)]
    id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an object")]
struct OverrideReasonIn {
    #[serde(default)]
    reason: Option<Obj<CodingIn>>,
    #[serde(default)]
    user_comment: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(expecting = "an object")]
struct CodingIn {
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    display: Option<String>,
}

/// The body: `feedback` kept as JSON values until its length is checked, so a call with too
/// many items is refused as such before any item is read.
#[derive(Debug, Deserialize)]
#[serde(expecting = "an object")]
struct BodyIn {
    #[serde(default)]
    feedback: Option<Vec<Value>>,
}

/// A JSON object read as `T`. serde's derived structs also take an array of their fields in
/// order; the wire has objects only.
#[derive(Debug)]
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectOnly<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ObjectOnly<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(ObjectOnly(std::marker::PhantomData))
            .map(Obj)
    }
}

/// Reads `value` as `T`; an error names the field at fault under `prefix` (`(body)` at the top).
fn read<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix, path.as_str()) {
            ("", "." | "") => "(body)".to_owned(),
            (prefix, "." | "") => prefix.to_owned(),
            ("", path) => path.to_owned(),
            (prefix, path) => format!("{prefix}.{path}"),
        };
        FieldError::new(field, e.into_inner().to_string())
    })
}

/// A required, non-blank identifier no longer than [`MAX_ID_CHARS`].
fn id(value: Option<String>, path: &str) -> Result<String, FieldError> {
    let s = value.ok_or_else(|| FieldError::missing(path))?;
    if s.trim().is_empty() {
        return Err(FieldError::new(path, "must not be empty"));
    }
    check_len(&s, MAX_ID_CHARS, path)?;
    Ok(s)
}

/// An optional text no longer than `max`.
fn bounded(value: Option<String>, max: usize, path: &str) -> Result<Option<String>, FieldError> {
    if let Some(text) = &value {
        check_len(text, max, path)?;
    }
    Ok(value)
}

/// Reads the body of a feedback call.
pub fn parse_feedback(body: Value) -> Result<Vec<Feedback>, FieldError> {
    let Obj(body): Obj<BodyIn> = read(body, "")?;
    let items = match body.feedback {
        None => return Err(FieldError::missing("feedback")),
        Some(a) if a.is_empty() => return Err(FieldError::new("feedback", "must not be empty")),
        Some(a) if a.len() > MAX_FEEDBACK_ITEMS => {
            return Err(FieldError::new(
                "feedback",
                format!("has more than {MAX_FEEDBACK_ITEMS} items"),
            ))
        }
        Some(a) => a,
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let path = format!("feedback[{i}]");
            let Obj(item) = read(v, &path)?;
            parse_item(item, &path)
        })
        .collect()
}

fn parse_item(item: ItemIn, path: &str) -> Result<Feedback, FieldError> {
    let card = id(item.card, &format!("{path}.card"))?;
    let outcome_path = format!("{path}.outcome");
    let outcome_text = required(item.outcome, &outcome_path)?;
    let outcome = FeedbackOutcome::parse(&outcome_text).ok_or_else(|| {
        FieldError::new(
            &outcome_path,
            format!("`{outcome_text}`: expected `accepted` or `overridden`"),
        )
    })?;
    let ts_path = format!("{path}.outcomeTimestamp");
    let ts_text = required(item.outcome_timestamp, &ts_path)?;
    let outcome_timestamp = DateTime::parse_from_rfc3339(&ts_text)
        .map_err(|e| {
            FieldError::new(
                &ts_path,
                format!("`{ts_text}` is not an ISO 8601 instant with a time zone ({e})"),
            )
        })?
        .with_timezone(&Utc);

    let sugg_path = format!("{path}.acceptedSuggestions");
    let accepted_suggestions = item
        .accepted_suggestions
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(j, Obj(s))| id(s.id, &format!("{sugg_path}[{j}].id")))
        .collect::<Result<Vec<_>, _>>()?;

    let reason_path = format!("{path}.overrideReason");
    let (reason, user_comment) = match item.override_reason {
        None => (None, None),
        Some(Obj(o)) => {
            let reason = match o.reason {
                None => None,
                Some(Obj(c)) => {
                    let p = format!("{reason_path}.reason");
                    Some(ReasonCode {
                        code: id(c.code, &format!("{p}.code"))?,
                        system: bounded(c.system, MAX_REASON_TEXT_CHARS, &format!("{p}.system"))?,
                        display: bounded(
                            c.display,
                            MAX_REASON_TEXT_CHARS,
                            &format!("{p}.display"),
                        )?,
                    })
                }
            };
            let comment = bounded(
                o.user_comment,
                MAX_USER_COMMENT_CHARS,
                &format!("{reason_path}.userComment"),
            )?;
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

/// A required, non-blank string.
fn required(value: Option<String>, path: &str) -> Result<String, FieldError> {
    match value {
        None => Err(FieldError::missing(path)),
        Some(s) if s.trim().is_empty() => Err(FieldError::new(path, "must not be empty")),
        Some(s) => Ok(s),
    }
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
    fn a_wrong_type_is_named_with_what_was_expected() {
        let body = json!({"feedback": [{
            "card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-25T01:10:23Z",
            "overrideReason": {"reason": {"code": ["x"]}}
        }]});
        let e = parse_feedback(body).unwrap_err();
        assert_eq!(e.field, "feedback[0].overrideReason.reason.code");
        assert!(e.message.contains("expected a string"), "{e}");
        let e = parse_feedback(json!("feedback")).unwrap_err();
        assert_eq!(e.field, "(body)");
        assert!(e.message.contains("expected an object"), "{e}");
        // The count is checked before any item is read.
        let many = json!({ "feedback": vec![json!(3); MAX_FEEDBACK_ITEMS + 1] });
        assert_eq!(field_of(many), "feedback");
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
