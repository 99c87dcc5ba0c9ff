//! The discovery document's JSON shapes (`GET /cds-services`, CDS Hooks 2.0 §Discovery). The
//! services themselves and their prefetch templates are defined in `crate::services`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// CDS Hooks 2.0 discovery response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discovery {
    pub services: Vec<ServiceDefinition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDefinition {
    /// The hook this service should be invoked on.
    pub hook: String,
    /// The human-friendly name of this service.
    pub title: String,
    /// The description of this service.
    pub description: String,
    /// The {id} portion of the URL to this service which is available at `{baseUrl}/cds-services/{id}`.
    pub id: String,
    /// An object containing key/value pairs of FHIR queries that this service is requesting the CDS Client to perfom and provide on each service call.
    pub prefetch: Map<String, Value>,
    /// Human-friendly description of any preconditions for the use of this CDS Service.
    pub usage_requirements: String,
}
