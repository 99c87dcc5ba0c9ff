//! TEMPORARY STUB, replaced by the rules branch.
use super::facts::*;
#[derive(Debug, Clone, Default)]
pub struct Terminology;
pub struct LocalCode { pub concept: String, pub system: String, pub code: String }
#[derive(Debug, thiserror::Error)]
pub enum TerminologyError { #[error("unknown concept `{0}`")] UnknownConcept(String) }
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VitalSign { BloodPressurePanel, Systolic, Diastolic }
impl Terminology {
    pub fn with_local_codes(self, _codes: &[LocalCode]) -> Result<Self, TerminologyError> { Ok(self) }
    pub fn concept_ids() -> Vec<String> { vec![] }
    pub fn medication_class(&self, codes: &[Code], text: Option<&str>) -> MedicationClass {
        let t = text.unwrap_or("").to_lowercase();
        if codes.iter().any(|c| c.code == "1594658") || t.contains("lemtrada") || t.contains("alemtuzumab") { MedicationClass::Alemtuzumab { campath: false } } else { MedicationClass::Other }
    }
    pub fn condition_classes(&self, _codes: &[Code], _text: Option<&str>) -> Vec<ConditionClass> { vec![] }
    pub fn lab_test(&self, codes: &[Code]) -> Option<LabTest> { if codes.iter().any(|c| c.code == "1742-6") { Some(LabTest::Alt) } else { None } }
    pub fn vital_sign(&self, _codes: &[Code]) -> Option<VitalSign> { None }
    pub fn stop_reason(&self, _codes: &[Code], _text: Option<&str>) -> StopReason { StopReason::None }
    pub fn liver_panel_order_code(&self) -> Code { Code::new("http://loinc.org", "24325-3") }
    pub fn lab_code(&self, _test: LabTest) -> Code { Code::new("http://loinc.org", "1742-6") }
}
