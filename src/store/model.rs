//! What the store keeps, as plain Rust values: one decision per hook call with its cards, one
//! feedback per `feedback[]` item. No FHIR resources, no tokens, no names: the patient is only
//! the id the EHR sent in `context.patientId`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

// The feedback a CDS Client sends is read into these wire types; the store keeps them as they are.
pub use crate::wire::feedback::{Feedback, FeedbackOutcome, ReasonCode};

/// What the handler knows about a hook call besides the pipeline outcome.
#[derive(Debug, Clone)]
pub struct CallInfo {
    pub hook_instance: String,
    pub service: String,
    pub hook: String,
    pub patient_id: Option<String>,
    pub status: u16,
    pub profile: String,
    pub latency: std::time::Duration,
}

/// One hook call, as audited (issue 6 §2).
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    pub id: String,
    pub recorded_at: DateTime<Utc>,
    pub hook_instance: String,
    pub service: String,
    pub hook: String,
    /// `context.patientId` as sent, when the request got that far.
    pub patient_id: Option<String>,
    /// The HTTP status answered (200, or 412 when nothing could be said).
    pub status: u16,
    /// The rule profile in force (`ansm-2019`, `ema-2020`).
    pub profile: String,
    /// Every draft order considered, as `MedicationRequest/<id>`.
    pub draft_orders: Vec<String>,
    pub findings: Vec<FindingRecord>,
    /// Prefetch keys used as sent.
    pub from_prefetch: Vec<String>,
    /// Queries sent to the FHIR server.
    pub from_fhir: Vec<String>,
    /// Data sets that could not be obtained.
    pub gaps: Vec<String>,
    pub latency_us: i64,
    pub cards: Vec<CardRecord>,
}

impl DecisionRecord {
    /// The record of a call with its identifiers only (a refused call, or before its findings
    /// are added), stamped now with a fresh id.
    pub fn from_call(call: CallInfo) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            recorded_at: Utc::now(),
            hook_instance: call.hook_instance,
            service: call.service,
            hook: call.hook,
            patient_id: call.patient_id,
            status: call.status,
            profile: call.profile,
            draft_orders: Vec::new(),
            findings: Vec::new(),
            from_prefetch: Vec::new(),
            from_fhir: Vec::new(),
            gaps: Vec::new(),
            latency_us: i64::try_from(call.latency.as_micros()).unwrap_or(i64::MAX),
            cards: Vec::new(),
        }
    }
}

/// A rule finding: rule code, severity, and the order it is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    pub rule: String,
    pub severity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
}

/// A card issued: what feedback about it is checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct CardRecord {
    pub uuid: String,
    /// `source.topic.code`: the rule code.
    pub topic: String,
    pub indicator: String,
    /// The draft order the card is about (`MedicationRequest/<id>`).
    pub order_ref: Option<String>,
    pub suggestion_uuids: Vec<String>,
    pub override_reasons: Vec<ReasonCode>,
}

/// Why a feedback does not match what this service issued. Such feedback is stored all the same:
/// the committee decides what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackFlag {
    /// No card with this uuid was issued (or its audit record was lost or purged).
    UnknownCard,
    /// The override reason was not among the card's `overrideReasons`.
    OverrideReasonNotOffered,
    /// An accepted suggestion id was not a suggestion of the card.
    SuggestionNotOffered,
    /// The card was issued by another of this service's endpoints than the one that received
    /// the feedback (issue 17 item 14): a misrouted or forged feedback.
    CardOfAnotherService,
}

impl FeedbackFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackFlag::UnknownCard => "unknown-card",
            FeedbackFlag::OverrideReasonNotOffered => "override-reason-not-offered",
            FeedbackFlag::SuggestionNotOffered => "suggestion-not-offered",
            FeedbackFlag::CardOfAnotherService => "card-of-another-service",
        }
    }

    /// The flag of its stored spelling ([`FeedbackFlag::as_str`]).
    pub fn parse(s: &str) -> Option<Self> {
        [
            FeedbackFlag::UnknownCard,
            FeedbackFlag::OverrideReasonNotOffered,
            FeedbackFlag::SuggestionNotOffered,
            FeedbackFlag::CardOfAnotherService,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

impl Feedback {
    /// The flags of this feedback given the card it names (`None`: never issued) and the
    /// service that issued it, for a feedback received by `service`.
    pub fn flags(&self, card: Option<(&CardRecord, &str)>, service: &str) -> Vec<FeedbackFlag> {
        let Some((card, issued_by)) = card else {
            return vec![FeedbackFlag::UnknownCard];
        };
        let mut flags = Vec::new();
        if issued_by != service {
            flags.push(FeedbackFlag::CardOfAnotherService);
        }
        if let Some(reason) = &self.reason {
            if !reason.offered_in(&card.override_reasons) {
                flags.push(FeedbackFlag::OverrideReasonNotOffered);
            }
        }
        if self
            .accepted_suggestions
            .iter()
            .any(|s| !card.suggestion_uuids.contains(s))
        {
            flags.push(FeedbackFlag::SuggestionNotOffered);
        }
        flags
    }

    /// What makes two feedback items the same (issue 17 item 7): card uuid, outcome, override
    /// reason code, accepted suggestion ids (as a set) and `outcomeTimestamp`. The comment, the
    /// reason's display and system are not part of it: an EHR retrying a call sends the same
    /// item, and a second decision on a card has its own `outcomeTimestamp`. A SHA-256 in hex,
    /// so the unique index stays small whatever the lengths sent.
    pub fn dedup_key(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut accepted: Vec<&str> = self
            .accepted_suggestions
            .iter()
            .map(String::as_str)
            .collect();
        accepted.sort_unstable();
        accepted.dedup();
        let parts = serde_json::json!([
            self.card,
            self.outcome.as_str(),
            self.reason.as_ref().map(|r| r.code.as_str()),
            accepted,
            self.outcome_timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        ]);
        format!("{:x}", Sha256::digest(parts.to_string().as_bytes()))
    }
}

/// A feedback as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRecord {
    pub id: String,
    pub received_at: DateTime<Utc>,
    /// The service (endpoint id) that received it.
    pub service: String,
    /// The `iss` of the verified JWT it came with; `None` in local mode (unsigned calls).
    pub issuer: Option<String>,
    pub feedback: Feedback,
    pub flags: Vec<FeedbackFlag>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGN: &str = "alemtuzumab-order-sign";

    fn card() -> CardRecord {
        CardRecord {
            uuid: "c1".into(),
            topic: "initiation-eligibility".into(),
            indicator: "critical".into(),
            order_ref: Some("MedicationRequest/mr-1".into()),
            suggestion_uuids: vec!["s1".into()],
            override_reasons: vec![ReasonCode {
                system: Some("urn:alemtuzumab-cds:override-reason".into()),
                code: "committee-approved".into(),
                display: None,
            }],
        }
    }

    fn feedback(reason: Option<(&str, Option<&str>)>, accepted: &[&str]) -> Feedback {
        Feedback {
            card: "c1".into(),
            outcome: if reason.is_some() {
                FeedbackOutcome::Overridden
            } else {
                FeedbackOutcome::Accepted
            },
            accepted_suggestions: accepted.iter().map(|s| s.to_string()).collect(),
            reason: reason.map(|(code, system)| ReasonCode {
                system: system.map(str::to_owned),
                code: code.into(),
                display: None,
            }),
            user_comment: None,
            outcome_timestamp: Utc::now(),
        }
    }

    #[test]
    fn the_same_item_has_the_same_key_and_any_identifying_field_changes_it() {
        let base = feedback(Some(("committee-approved", None)), &["s1", "s2"]);
        let mut same = base.clone();
        same.accepted_suggestions = vec!["s2".into(), "s1".into()];
        same.user_comment = Some("sent again".into());
        assert_eq!(base.dedup_key(), same.dedup_key());
        let mut other_card = base.clone();
        other_card.card = "c2".into();
        let mut other_reason = base.clone();
        other_reason.reason = Some(ReasonCode {
            system: None,
            code: "not-relevant".into(),
            display: None,
        });
        let mut other_time = base.clone();
        other_time.outcome_timestamp += chrono::Duration::milliseconds(1);
        let mut other_outcome = base.clone();
        other_outcome.outcome = FeedbackOutcome::Accepted;
        let mut other_suggestions = base.clone();
        other_suggestions.accepted_suggestions = vec!["s1".into()];
        for other in [
            other_card,
            other_reason,
            other_time,
            other_outcome,
            other_suggestions,
        ] {
            assert_ne!(base.dedup_key(), other.dedup_key(), "{other:?}");
        }
    }

    #[test]
    fn feedback_on_a_card_never_issued_is_flagged_unknown() {
        assert_eq!(
            feedback(None, &["s1"]).flags(None, SIGN),
            vec![FeedbackFlag::UnknownCard]
        );
    }

    #[test]
    fn an_offered_reason_is_clean_with_or_without_its_system() {
        let c = card();
        let sys = Some("urn:alemtuzumab-cds:override-reason");
        assert!(feedback(Some(("committee-approved", sys)), &[])
            .flags(Some((&c, SIGN)), SIGN)
            .is_empty());
        assert!(feedback(Some(("committee-approved", None)), &[])
            .flags(Some((&c, SIGN)), SIGN)
            .is_empty());
    }

    #[test]
    fn a_reason_not_offered_or_from_another_system_is_flagged() {
        let c = card();
        assert_eq!(
            feedback(Some(("not-relevant", None)), &[]).flags(Some((&c, SIGN)), SIGN),
            vec![FeedbackFlag::OverrideReasonNotOffered]
        );
        assert_eq!(
            feedback(
                Some(("committee-approved", Some("http://example.org"))),
                &[]
            )
            .flags(Some((&c, SIGN)), SIGN),
            vec![FeedbackFlag::OverrideReasonNotOffered]
        );
    }

    #[test]
    fn an_accepted_suggestion_that_the_card_did_not_offer_is_flagged() {
        let c = card();
        assert!(feedback(None, &["s1"])
            .flags(Some((&c, SIGN)), SIGN)
            .is_empty());
        assert_eq!(
            feedback(None, &["s2"]).flags(Some((&c, SIGN)), SIGN),
            vec![FeedbackFlag::SuggestionNotOffered]
        );
    }

    #[test]
    fn feedback_about_a_card_of_another_service_is_flagged() {
        let c = card();
        assert_eq!(
            feedback(Some(("committee-approved", None)), &[])
                .flags(Some((&c, SIGN)), "alemtuzumab-order-select"),
            vec![FeedbackFlag::CardOfAnotherService]
        );
    }

    #[test]
    fn every_flag_reads_back_from_its_spelling() {
        for f in [
            FeedbackFlag::UnknownCard,
            FeedbackFlag::OverrideReasonNotOffered,
            FeedbackFlag::SuggestionNotOffered,
            FeedbackFlag::CardOfAnotherService,
        ] {
            assert_eq!(FeedbackFlag::parse(f.as_str()), Some(f));
        }
        assert_eq!(FeedbackFlag::parse("nonsense"), None);
    }
}
