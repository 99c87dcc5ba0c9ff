//! CDS Hooks 2.0 request shapes (cds-hooks.hl7.org/2.0/#http-request-1), read leniently.
//!
//! The body is read once ([`HookRequest::from_slice`]): each top-level member is kept as its
//! JSON text (`&RawValue`, no tree built), the small ones (`hook`, `hookInstance`, `fhirServer`,
//! `fhirAuthorization`, `context`) are then read by hand so that every error names the offending
//! field (the contract's OperationOutcome `diagnostics`), and each `prefetch` value stays JSON
//! text borrowed from the body until `fhir::prefetch` reads what the rules need of it (issue 13
//! §2). Unknown fields (CDS Hooks 3.0's `version`, vendor extensions) are skipped unread.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::context::HookContext;

/// The `prefetch` object: each key's value as JSON text borrowed from the request body.
pub type Prefetch<'a> = HashMap<Cow<'a, str>, &'a RawValue>;

/// A hook call as the CDS Client sent it, borrowing the prefetch from the request body.
#[derive(Debug)]
pub struct HookRequest<'a> {
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
    pub prefetch: Prefetch<'a>,
}

/// Why a request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Not JSON at all (syntax, truncation).
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("{0}")]
    Field(#[from] FieldError),
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

impl<'a> HookRequest<'a> {
    /// Reads a hook request from the request body. The prefetch values are not parsed here: they
    /// stay JSON text borrowed from `body`.
    pub fn from_slice(body: &'a [u8]) -> Result<Self, ReadError> {
        let top: HashMap<Cow<'a, str>, &'a RawValue> = match serde_json::from_slice(body) {
            Ok(top) => top,
            Err(e) if e.is_data() => {
                // Valid JSON of another type: name it (only on this error path is it parsed).
                let kind = serde_json::from_slice::<Value>(body)
                    .map(|v| json_type(&v))
                    .unwrap_or("not an object");
                return Err(FieldError::new(
                    "(body)",
                    format!("must be a JSON object, not {kind}"),
                )
                .into());
            }
            Err(e) => return Err(ReadError::NotJson(e.to_string())),
        };
        let mut obj = Map::new();
        let mut prefetch_raw = None;
        for (key, raw) in top {
            match key.as_ref() {
                "prefetch" => prefetch_raw = Some(raw),
                "hook" | "hookInstance" | "fhirServer" | "fhirAuthorization" | "context" => {
                    let value: Value = serde_json::from_str(raw.get())
                        .map_err(|e| FieldError::new(key.as_ref(), e.to_string()))?;
                    obj.insert(key.into_owned(), value);
                }
                _ => {} // unknown members are skipped unread
            }
        }
        let mut request = Self::from_members(obj)?;
        request.prefetch = match prefetch_raw {
            None => Prefetch::new(),
            Some(raw) if raw.get().trim() == "null" => Prefetch::new(),
            Some(raw) => match serde_json::from_str::<Prefetch<'a>>(raw.get()) {
                Ok(p) => p,
                Err(_) => {
                    let kind = serde_json::from_str::<Value>(raw.get())
                        .map(|v| json_type(&v))
                        .unwrap_or("not an object");
                    return Err(FieldError::new(
                        "prefetch",
                        format!("must be an object, not {kind}"),
                    )
                    .into());
                }
            },
        };
        Ok(request)
    }

    /// The request from its small members (everything but `prefetch`), each field checked.
    fn from_members(mut obj: Map<String, Value>) -> Result<Self, FieldError> {
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
        Ok(Self {
            hook,
            hook_instance,
            fhir_server,
            fhir_authorization,
            context,
            prefetch: Prefetch::new(),
        })
    }
}

/// Reads a request from a JSON value, its bytes leaked so that it borrows for `'static`
/// (unit tests only).
#[cfg(test)]
pub(crate) fn read_leaked(v: &Value) -> Result<HookRequest<'static>, ReadError> {
    let bytes: &'static [u8] = Box::leak(serde_json::to_vec(v).unwrap().into_boxed_slice());
    HookRequest::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: &Value) -> Result<HookRequest<'static>, ReadError> {
        read_leaked(v)
    }

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
        let req = read(&patient_view()).unwrap();
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
            let err = read(&body).unwrap_err();
            assert_eq!(err, ReadError::Field(FieldError::missing(path)));
        }
    }

    #[test]
    fn prefetch_null_values_are_kept_distinct_from_absent_keys() {
        let mut body = patient_view();
        body["prefetch"] = json!({"patient": null});
        let req = read(&body).unwrap();
        assert_eq!(req.prefetch.get("patient").map(|r| r.get()), Some("null"));
        assert!(!req.prefetch.contains_key("conditions"));
    }

    #[test]
    fn fhir_authorization_without_server_is_refused_and_token_never_debug_printed() {
        let mut body = patient_view();
        body["fhirAuthorization"] = json!({"access_token": "secret-abc", "token_type": "Bearer"});
        let ReadError::Field(err) = read(&body).unwrap_err() else {
            panic!("a field error")
        };
        assert_eq!(err.field, "fhirServer");
        body["fhirServer"] = json!("http://127.0.0.1:9/fhir");
        let req = read(&body).unwrap();
        assert!(!format!("{req:?}").contains("secret-abc"));
    }

    #[test]
    fn a_body_that_is_not_an_object_or_not_json_is_named() {
        let err = HookRequest::from_slice(b"[1, 2]").unwrap_err();
        assert_eq!(
            err,
            ReadError::Field(FieldError::new(
                "(body)",
                "must be a JSON object, not an array"
            ))
        );
        assert!(matches!(
            HookRequest::from_slice(b"{\"hook\": "),
            Err(ReadError::NotJson(_))
        ));
        let mut body = patient_view();
        body["prefetch"] = json!([1]);
        let ReadError::Field(err) = read(&body).unwrap_err() else {
            panic!("a field error")
        };
        assert_eq!(err.field, "prefetch");
        assert_eq!(err.message, "must be an object, not an array");
    }

    #[test]
    fn prefetch_values_are_borrowed_from_the_body_unparsed() {
        let body = br#"{"hook": "patient-view", "hookInstance": "h",
            "context": {"patientId": "p"},
            "prefetch": {"conditions": {"resourceType": "Bundle", "entry": [{"resource": {"x": [1,2]}}]}}}"#;
        let req = HookRequest::from_slice(body).unwrap();
        let raw = req.prefetch["conditions"].get();
        assert!(raw.starts_with(r#"{"resourceType": "Bundle""#), "{raw}");
        let inside = std::str::from_utf8(body).unwrap();
        let at = inside.find(raw).unwrap();
        assert_eq!(raw.as_ptr(), inside[at..].as_ptr(), "not a copy");
    }
}
