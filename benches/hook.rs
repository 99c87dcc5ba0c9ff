//! The hook path against its floor: a ~240 KB order-sign request parsed by serde_json alone,
//! versus the whole pipeline (parse, gather from prefetch, fhirbolt per resource, rules, cards).
//!
//! `cargo bench --bench hook`. The ratio of the two is what the developers' guide asks to keep
//! small ("a call with a 240 KB prefetch should cost little more than parsing it once").

use alemtuzumab_cds::config::{RawSettings, Settings};
use alemtuzumab_cds::pipeline;
use alemtuzumab_cds::services::service;
use alemtuzumab_cds::wire::request::HookRequest;
use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;

#[path = "support/large_request.rs"]
mod large_request;
use large_request::large_request;

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
            let req = HookRequest::from_slice(&body).expect("request");
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
