//! CDS Hooks 2.0 request shapes (cds-hooks.hl7.org/2.0/#http-request-1), read leniently.
//!
//! The body is parsed once into a `serde_json::Value`; [`HookRequest::from_value`] then takes
//! the fields it needs by hand so that every error names the offending field (the contract's
//! OperationOutcome `diagnostics`), and unknown fields (CDS Hooks 3.0's `version`, vendor
//! extensions) are ignored.

use serde_json::{Map, Value};

use super::context::HookContext;

/// A hook call as the CDS Client sent it.
#[derive(Debug)]
pub struct HookRequest {
    /// The hook that triggered this CDS Service call.
    pub hook: String,
    /// A universally unique identifier (UUID) for this particular hook call.
    pub hook_instance: String,
    /// The base URL of the CDS Client's FHIR server. If fhirAuthorization is provided, this field is REQUIRED.
    pub fhir_server: Option<String>,
    /// A structure holding an OAuth 2.0 bearer access token granting the CDS Service access to FHIR resources.
    pub fhir_authorization: Option<FhirAuthorization>,
    /// Hook-specific contextual data that the CDS service will need.
    pub context: HookContext,
    /// The FHIR data that was prefetched by the CDS Client. A key absent from the map was not
    /// prefetched; a key whose value is JSON `null` means the CDS Client had no data for it.
    pub prefetch: Map<String, Value>,
}

/// The OAuth 2.0 bearer token the CDS Client lends the service. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct FhirAuthorization {
    /// This is the OAuth 2.0 access token that provides access to the FHIR server.
    pub access_token: String,
    /// Fixed value: `Bearer`.
    pub token_type: String,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
    pub subject: Option<String>,
}

impl std::fmt::Debug for FhirAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirAuthorization")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .finish()
    }
}

/// A request field that is missing or malformed; `field` is a FHIRPath-like location
/// (`context.draftOrders`) for the OperationOutcome's `expression`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn missing(field: &str) -> Self {
        Self::new(field, "is required")
    }
}

/// The JSON type of a value, for error messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A required non-empty string field of `obj`.
pub(crate) fn required_string(
    obj: &mut Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<String, FieldError> {
    match obj.remove(key) {
        None | Some(Value::Null) => Err(FieldError::missing(path)),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(FieldError::new(path, "must not be empty"))
        }
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(FieldError::new(
            path,
            format!("must be a string, not {}", json_type(&other)),
        )),
    }
}

/// The longest `hookInstance` accepted: a UUID is 36 characters (issue 17 item 8: a 1 MiB one
/// went into every log line and audit row of its call).
pub const MAX_HOOK_INSTANCE_CHARS: usize = 200;

/// `Err` naming `path` when `s` has more than `max` characters.
pub(crate) fn check_len(s: &str, max: usize, path: &str) -> Result<(), FieldError> {
    if s.chars().count() > max {
        return Err(FieldError::new(
            path,
            format!("is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// An optional string field: absent and `null` are `None`; another type is an error.
pub(crate) fn optional_string(
    obj: &mut Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, FieldError> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(FieldError::new(
            path,
            format!("must be a string, not {}", json_type(&other)),
        )),
    }
}

impl HookRequest {
    /// Reads a hook request out of the parsed body, taking ownership so that prefetched
    /// resources are moved, not copied.
    pub fn from_value(body: Value) -> Result<Self, FieldError> {
        let mut obj = match body {
            Value::Object(o) => o,
            other => {
                return Err(FieldError::new(
                    "(body)",
                    format!("must be a JSON object, not {}", json_type(&other)),
                ))
            }
        };
        let hook = required_string(&mut obj, "hook", "hook")?;
        let hook_instance = required_string(&mut obj, "hookInstance", "hookInstance")?;
        check_len(&hook_instance, MAX_HOOK_INSTANCE_CHARS, "hookInstance")?;
        let fhir_server = optional_string(&mut obj, "fhirServer", "fhirServer")?;
        let fhir_authorization = match obj.remove("fhirAuthorization") {
            None | Some(Value::Null) => None,
            Some(Value::Object(mut a)) => {
                let access_token =
                    required_string(&mut a, "access_token", "fhirAuthorization.access_token")?;
                let token_type =
                    optional_string(&mut a, "token_type", "fhirAuthorization.token_type")?
                        .unwrap_or_else(|| "Bearer".to_owned());
                let expires_in = a.get("expires_in").and_then(Value::as_u64);
                let scope = optional_string(&mut a, "scope", "fhirAuthorization.scope")?;
                let subject = optional_string(&mut a, "subject", "fhirAuthorization.subject")?;
                Some(FhirAuthorization {
                    access_token,
                    token_type,
                    expires_in,
                    scope,
                    subject,
                })
            }
            Some(other) => {
                return Err(FieldError::new(
                    "fhirAuthorization",
                    format!("must be an object, not {}", json_type(&other)),
                ))
            }
        };
        if fhir_authorization.is_some() && fhir_server.is_none() {
            // CDS Hooks 2.0: "If fhirAuthorization is provided, this field is REQUIRED."
            return Err(FieldError::new(
                "fhirServer",
                "is required when fhirAuthorization is present",
            ));
        }
        let context = match obj.remove("context") {
            None | Some(Value::Null) => return Err(FieldError::missing("context")),
            Some(Value::Object(c)) => HookContext::from_object(&hook, c)?,
            Some(other) => {
                return Err(FieldError::new(
                    "context",
                    format!("must be an object, not {}", json_type(&other)),
                ))
            }
        };
        let prefetch = match obj.remove("prefetch") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p,
            Some(other) => {
                return Err(FieldError::new(
                    "prefetch",
                    format!("must be an object, not {}", json_type(&other)),
                ))
            }
        };
        Ok(Self {
            hook,
            hook_instance,
            fhir_server,
            fhir_authorization,
            context,
            prefetch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patient_view() -> Value {
        json!({
            "hook": "patient-view",
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/1", "patientId": "p1"},
            "version": "3.0"
        })
    }

    #[test]
    fn a_minimal_patient_view_is_read_and_unknown_fields_ignored() {
        let req = HookRequest::from_value(patient_view()).unwrap();
        assert_eq!(req.hook, "patient-view");
        assert!(req.prefetch.is_empty());
        assert_eq!(req.context.patient_id(), "p1");
    }

    #[test]
    fn each_missing_required_field_is_named() {
        for (field, path) in [
            ("hook", "hook"),
            ("hookInstance", "hookInstance"),
            ("context", "context"),
        ] {
            let mut body = patient_view();
            body.as_object_mut().unwrap().remove(field);
            let err = HookRequest::from_value(body).unwrap_err();
            assert_eq!(err.field, path);
        }
    }

    #[test]
    fn prefetch_null_values_are_kept_distinct_from_absent_keys() {
        let mut body = patient_view();
        body["prefetch"] = json!({"patient": null});
        let req = HookRequest::from_value(body).unwrap();
        assert_eq!(req.prefetch.get("patient"), Some(&Value::Null));
        assert!(!req.prefetch.contains_key("conditions"));
    }

    #[test]
    fn fhir_authorization_without_server_is_refused_and_token_never_debug_printed() {
        let mut body = patient_view();
        body["fhirAuthorization"] = json!({"access_token": "secret-abc", "token_type": "Bearer"});
        assert_eq!(
            HookRequest::from_value(body.clone()).unwrap_err().field,
            "fhirServer"
        );
        body["fhirServer"] = json!("http://127.0.0.1:9/fhir");
        let req = HookRequest::from_value(body).unwrap();
        assert!(!format!("{req:?}").contains("secret-abc"));
    }
}
