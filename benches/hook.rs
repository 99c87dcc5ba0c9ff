//! The hook path against its floor: an order-sign request parsed by serde_json alone into a
//! `Value`, versus the whole pipeline (read, gather from the prefetch, rules, cards), on the
//! ~240 KB call, on a 10x larger record (~2.4 MB) and on one just under the 5 MiB body limit
//! (~4.8 MB): how the cost grows with the record.
//!
//! `cargo bench --bench hook`. The developers' guide asks the pipeline to cost no more than the
//! floor ("a call with a 240 KB prefetch should cost no more than parsing it once"); HTTP figures
//! come from `scripts/bench` (README §Performance).

use alemtuzumab_cds::config::{RawSettings, Settings};
use alemtuzumab_cds::pipeline;
use alemtuzumab_cds::services::service;
use alemtuzumab_cds::wire::request::HookRequest;
use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;

#[path = "support/large_request.rs"]
mod large_request;
use large_request::request_of_size;

fn settings() -> Settings {
    let mut raw = RawSettings::default();
    raw.server.fixed_today = "2026-11-25".into();
    raw.validate(None).expect("settings")
}

fn bench(c: &mut Criterion) {
    let settings = settings();
    let svc = service("alemtuzumab-order-sign").expect("service");
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    for (name, size) in [
        ("order-sign 240 KB", 240_000),
        ("order-sign 2.4 MB", 2_400_000),
        // Just under the 5 MiB body limit (`server.body_limit_bytes`): cost per MB stays flat.
        ("order-sign 4.8 MB", 4_800_000),
    ] {
        let body = request_of_size(size);
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("serde_json parse only (floor)", |b| {
            b.iter(|| serde_json::from_slice::<Value>(&body).expect("json"))
        });
        group.bench_function("whole hook pipeline", |b| {
            b.iter(|| {
                let req = HookRequest::from_slice(&body).expect("request");
                let out =
                    futures::executor::block_on(pipeline::run(req, svc, &settings, None, today))
                        .expect("answer");
                assert!(!out.response.cards.is_empty());
                out
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
