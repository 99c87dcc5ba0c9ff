//! Hook contexts of the three hooks this service answers (cds-hooks.org hook definitions,
//! order-sign 1.1, order-select 1.1, patient-view 1.1).

use serde_json::{Map, Value};

use super::request::{json_type, optional_string, required_string, FieldError};
use crate::rules::HookKind;

/// Most `context.selections` an order-select call may carry (issue 17 item 4): a clinician
/// selects a few orders; 300 000 of them made the matching a CPU-bound denial of service.
pub const MAX_SELECTIONS: usize = 1000;

/// Most entries in `context.draftOrders` (issue 17 item 4), for the same reason.
pub const MAX_DRAFT_ORDER_ENTRIES: usize = 1000;

/// `order-sign`: "fires when a clinician is ready to sign one or more orders for a patient".
#[derive(Debug)]
pub struct OrderSignContext {
    pub user_id: Option<String>,
    /// The FHIR Patient.id of the current patient in context.
    pub patient_id: String,
    pub encounter_id: Option<String>,
    /// R4 FHIR Bundle of DSTU2 NutritionOrder, … MedicationRequest … resources in draft status.
    pub draft_orders: Map<String, Value>,
}

/// `order-select`: "fires when a clinician selects one or more orders to place for a patient".
#[derive(Debug)]
pub struct OrderSelectContext {
    pub user_id: Option<String>,
    pub patient_id: String,
    pub encounter_id: Option<String>,
    /// The FHIR id of the newly selected order(s), e.g. `MedicationRequest/103`.
    pub selections: Vec<String>,
    pub draft_orders: Map<String, Value>,
}

/// `patient-view`: "the user has just opened a patient's record".
#[derive(Debug)]
pub struct PatientViewContext {
    pub user_id: Option<String>,
    pub patient_id: String,
    pub encounter_id: Option<String>,
}

#[derive(Debug)]
pub enum HookContext {
    OrderSign(OrderSignContext),
    OrderSelect(OrderSelectContext),
    PatientView(PatientViewContext),
}

impl HookContext {
    /// Reads the context of `hook`; every required field missing is named.
    pub fn from_object(hook: &str, mut c: Map<String, Value>) -> Result<Self, FieldError> {
        let user_id = optional_string(&mut c, "userId", "context.userId")?;
        let patient_id = required_string(&mut c, "patientId", "context.patientId")?;
        let encounter_id = optional_string(&mut c, "encounterId", "context.encounterId")?;
        let kind = HookKind::from_name(hook).ok_or_else(|| {
            FieldError::new(
                "hook",
                format!("`{hook}` is not a hook this service answers"),
            )
        })?;
        match kind {
            HookKind::OrderSign => Ok(HookContext::OrderSign(OrderSignContext {
                user_id,
                patient_id,
                encounter_id,
                draft_orders: draft_orders(&mut c)?,
            })),
            HookKind::OrderSelect => {
                let draft_orders = draft_orders(&mut c)?;
                let selections = match c.remove("selections") {
                    None | Some(Value::Null) => {
                        return Err(FieldError::missing("context.selections"))
                    }
                    Some(Value::Array(items)) if items.len() > MAX_SELECTIONS => {
                        return Err(FieldError::new(
                            "context.selections",
                            format!("more than {MAX_SELECTIONS} selections"),
                        ))
                    }
                    Some(Value::Array(items)) => items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| match v {
                            Value::String(s) => Ok(s),
                            other => Err(FieldError::new(
                                format!("context.selections[{i}]"),
                                format!("must be a string, not {}", json_type(&other)),
                            )),
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                    Some(other) => {
                        return Err(FieldError::new(
                            "context.selections",
                            format!("must be an array, not {}", json_type(&other)),
                        ))
                    }
                };
                Ok(HookContext::OrderSelect(OrderSelectContext {
                    user_id,
                    patient_id,
                    encounter_id,
                    selections,
                    draft_orders,
                }))
            }
            HookKind::PatientView => Ok(HookContext::PatientView(PatientViewContext {
                user_id,
                patient_id,
                encounter_id,
            })),
        }
    }

    pub fn patient_id(&self) -> &str {
        match self {
            HookContext::OrderSign(c) => &c.patient_id,
            HookContext::OrderSelect(c) => &c.patient_id,
            HookContext::PatientView(c) => &c.patient_id,
        }
    }

    /// The hook this context belongs to.
    pub fn kind(&self) -> HookKind {
        match self {
            HookContext::OrderSign(_) => HookKind::OrderSign,
            HookContext::OrderSelect(_) => HookKind::OrderSelect,
            HookContext::PatientView(_) => HookKind::PatientView,
        }
    }
}

/// `context.draftOrders`: a Bundle. A missing `type` is tolerated (the CDS Hooks Sandbox omits it).
fn draft_orders(c: &mut Map<String, Value>) -> Result<Map<String, Value>, FieldError> {
    match c.remove("draftOrders") {
        None | Some(Value::Null) => Err(FieldError::missing("context.draftOrders")),
        Some(Value::Object(b)) => {
            if b.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
                return Err(FieldError::new(
                    "context.draftOrders.resourceType",
                    "must be `Bundle`",
                ));
            }
            match b.get("entry") {
                Some(Value::Array(entries)) if entries.len() > MAX_DRAFT_ORDER_ENTRIES => {
                    Err(FieldError::new(
                        "context.draftOrders.entry",
                        format!("more than {MAX_DRAFT_ORDER_ENTRIES} entries"),
                    ))
                }
                None | Some(Value::Array(_)) | Some(Value::Null) => Ok(b),
                Some(other) => Err(FieldError::new(
                    "context.draftOrders.entry",
                    format!("must be an array, not {}", json_type(other)),
                )),
            }
        }
        Some(other) => Err(FieldError::new(
            "context.draftOrders",
            format!("must be a Bundle object, not {}", json_type(&other)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn order_sign_requires_draft_orders_and_patient_id() {
        let err =
            HookContext::from_object("order-sign", obj(json!({"patientId": "p"}))).unwrap_err();
        assert_eq!(err.field, "context.draftOrders");
        let err = HookContext::from_object(
            "order-sign",
            obj(json!({"draftOrders": {"resourceType": "Bundle"}})),
        )
        .unwrap_err();
        assert_eq!(err.field, "context.patientId");
    }

    #[test]
    fn order_select_requires_selections() {
        let err = HookContext::from_object(
            "order-select",
            obj(json!({"patientId": "p", "draftOrders": {"resourceType": "Bundle", "entry": []}})),
        )
        .unwrap_err();
        assert_eq!(err.field, "context.selections");
    }

    #[test]
    fn selections_and_draft_order_entries_are_bounded() {
        let entries = |n: usize| {
            (0..n)
                .map(|i| json!({"resource": {"resourceType": "MedicationRequest", "id": format!("m{i}")}}))
                .collect::<Vec<_>>()
        };
        let call = |sel: usize, n: usize| {
            HookContext::from_object(
                "order-select",
                obj(json!({"patientId": "p",
                    "draftOrders": {"resourceType": "Bundle", "entry": entries(n)},
                    "selections": (0..sel).map(|i| format!("MedicationRequest/m{i}")).collect::<Vec<_>>()})),
            )
        };
        match call(MAX_SELECTIONS, MAX_DRAFT_ORDER_ENTRIES).unwrap() {
            HookContext::OrderSelect(c) => assert_eq!(c.selections.len(), MAX_SELECTIONS),
            other => panic!("{other:?}"),
        }
        let err = call(MAX_SELECTIONS + 1, 1).unwrap_err();
        assert_eq!(err.field, "context.selections");
        let err = call(1, MAX_DRAFT_ORDER_ENTRIES + 1).unwrap_err();
        assert_eq!(err.field, "context.draftOrders.entry");
    }

    #[test]
    fn draft_orders_must_be_a_bundle() {
        let err = HookContext::from_object(
            "order-sign",
            obj(json!({"patientId": "p", "draftOrders": {"resourceType": "Patient"}})),
        )
        .unwrap_err();
        assert_eq!(err.field, "context.draftOrders.resourceType");
    }
}
