//! The ~240 KB order-sign request of the hook benchmark, shared by `benches/hook.rs` and
//! `examples/large_request.rs` (which writes it out for load tools).

use std::path::Path;

use chrono::NaiveDate;
use serde_json::Value;

/// A realistic large call: a re-treated patient's order-sign, with years of normal monthly
/// liver panels before the fixture's own history, until the body is about 240 KB.
#[allow(dead_code)] // used by examples/large_request.rs, not by benches/hook.rs
pub fn large_request() -> Vec<u8> {
    request_of_size(240_000)
}

/// The same call grown until its body is at least `bytes` long (more monthly panels).
#[allow(dead_code)] // used by benches/hook.rs, not by examples/large_request.rs
pub fn request_of_size(bytes: usize) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/hooks/retreated-liver-injury--order-sign.json");
    let text = std::fs::read_to_string(path).expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture JSON");
    let labs = v["prefetch"]["liverLabs"]["entry"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut n = 0;
    while serde_json::to_vec(&v).map(|b| b.len()).unwrap_or(0) < bytes && !labs.is_empty() {
        for e in &labs {
            let mut e = e.clone();
            n += 1;
            let id = format!("bench-lab-{n}");
            e["resource"]["id"] = Value::String(id.clone());
            // One panel a month going back from 2024: distinct dates, values within range.
            let months_back = (n / 3) as i64;
            let date = NaiveDate::from_ymd_opt(2024, 1, 15)
                .and_then(|d| d.checked_sub_months(chrono::Months::new(months_back as u32)))
                .expect("date");
            e["resource"]["effectiveDateTime"] = Value::String(date.to_string());
            e["resource"]["valueQuantity"]["value"] = serde_json::json!(12);
            e["fullUrl"] = Value::String(format!("Observation/{id}"));
            if let Some(entries) = v["prefetch"]["liverLabs"]["entry"].as_array_mut() {
                entries.push(e);
            }
        }
    }
    serde_json::to_vec(&v).expect("serialise")
}
