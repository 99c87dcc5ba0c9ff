//! CDS Hooks 2.0 response shapes (cds-hooks.hl7.org/2.0/#cds-service-response).
//!
//! Output is strict: every optional field is omitted when absent, never `null`.

use serde::{Deserialize, Serialize};

/// The body of a hook response: `{"cards": [...]}`; `systemActions` only when there are some
/// (CDS Hooks 2.0.1: no empty arrays other than `cards`, issue 17).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdsResponse {
    /// An array of Cards. Cards can provide a combination of information, suggested actions, and links.
    pub cards: Vec<Card>,
    /// An array of Actions that the CDS Service proposes to auto-apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    /// Unique identifier of the card, used for reference in feedback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// One-sentence, <140-character summary message for display to the user inside of this card.
    pub summary: String,
    /// Optional detailed information to display; GitHub Flavored Markdown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Urgency/importance of what this card conveys: info, warning, critical.
    pub indicator: Indicator,
    /// Grouping structure for the Source of the information displayed on this card.
    pub source: Source,
    /// Allows a service to suggest a set of changes in the context of the current activity.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<Suggestion>,
    /// Describes the intended selection behavior of the suggestions in the card: `at-most-one` or `any`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection_behavior: Option<SelectionBehavior>,
    /// Override reasons can be selected by the end user when overriding a card without taking the suggested recommendations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub override_reasons: Vec<Coding>,
    /// Allows a service to suggest a link to an app that the user might want to run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Indicator {
    Info,
    Warning,
    Critical,
}

impl Indicator {
    /// The wire spelling (`info`, `warning`, `critical`), also used in metrics and the audit.
    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::Info => "info",
            Indicator::Warning => "warning",
            Indicator::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectionBehavior {
    AtMostOne,
    Any,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// A short, human-readable label to display for the source of the information displayed on this card.
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// A topic describes the content of the card by providing a high-level categorization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<Coding>,
}

/// A FHIR Coding as CDS Hooks uses it (topic, override reasons).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coding {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    /// Human-readable label to display for this suggestion.
    pub label: String,
    /// Unique identifier, used for auditing and logging suggestions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// When there are multiple suggestions, allows a service to indicate that a specific suggestion is recommended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_recommended: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// `create`, `update` or `delete`.
    #[serde(rename = "type")]
    pub kind: ActionType,
    /// Human-readable description of the suggested action.
    pub description: String,
    /// A FHIR resource (create, update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<serde_json::Value>,
    /// A relative reference to the resource to delete (`MedicationRequest/<id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionType {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    pub label: String,
    pub url: String,
    /// `absolute` or `smart`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_context: Option<String>,
}
