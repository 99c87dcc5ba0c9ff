//! The hook path against its floor: a ~240 KB order-sign request parsed by serde_json alone,
//! versus the whole pipeline (parse, gather from prefetch, fhirbolt per resource, rules, cards).
//!
//! `cargo bench --bench hook`. The ratio of the two is what the developers' guide asks to keep
//! small ("a call with a 240 KB prefetch should cost little more than parsing it once").

use std::path::Path;

use alemtuzumab_cds::config::{RawSettings, Settings};
use alemtuzumab_cds::pipeline;
use alemtuzumab_cds::wire::discovery::service;
use alemtuzumab_cds::wire::request::HookRequest;
use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;

/// A realistic large call: a re-treated patient's order-sign, with years of normal monthly
/// liver panels before the fixture's own history, until the body is about 240 KB.
fn large_request() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/hooks/retreated-liver-injury--order-sign.json");
    let text = std::fs::read_to_string(path).expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture JSON");
    let labs = v["prefetch"]["liverLabs"]["entry"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut n = 0;
    while serde_json::to_vec(&v).map(|b| b.len()).unwrap_or(0) < 240_000 && !labs.is_empty() {
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

fn settings() -> Settings {
    let mut raw = RawSettings::default();
    raw.server.fixed_today = "2026-11-25".into();
    raw.validate(None).expect("settings")
}

fn bench(c: &mut Criterion) {
    let body = large_request();
    let settings = settings();
    let svc = service("alemtuzumab-order-sign").expect("service");
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    let mut group = c.benchmark_group("order-sign 240 KB");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("serde_json parse only (floor)", |b| {
        b.iter(|| serde_json::from_slice::<Value>(&body).expect("json"))
    });
    group.bench_function("whole hook pipeline", |b| {
        b.iter(|| {
            let value: Value = serde_json::from_slice(&body).expect("json");
            let req = HookRequest::from_value(value).expect("request");
            let out = futures::executor::block_on(pipeline::run(req, svc, &settings, None, today))
                .expect("answer");
            assert!(!out.response.cards.is_empty());
            out
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
