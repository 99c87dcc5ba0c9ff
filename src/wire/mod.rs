//! CDS Hooks 2.0 JSON shapes, serde only: requests, contexts, responses, discovery, feedback.
//!
//! Input is lenient (unknown fields ignored, 3.0 fields such as `version` tolerated); output is
//! strict (absent optionals omitted, never `null`).

pub mod response;

pub use response::*;
pub mod context;
pub mod discovery;
pub mod feedback;
pub mod request;
