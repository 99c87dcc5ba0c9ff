//! The decision audit, off the hook's answer path (issue 6 §3): the handler hands a record to a
//! bounded queue without waiting ([`AuditQueue::record`]); one writer task drains it in batches,
//! one transaction per batch. A full queue never blocks or slows the answer: the record is
//! dropped, counted in `cds_audit_dropped_total` and logged, never silently.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::db::Store;
use super::model::DecisionRecord;

/// Counter of audit records dropped because the queue was full or closed.
pub const DROPPED_METRIC: &str = "cds_audit_dropped_total";
/// Counter of audit records committed.
pub const WRITTEN_METRIC: &str = "cds_audit_written_total";
/// Counter of audit batches that could not be written after retries.
pub const WRITE_ERRORS_METRIC: &str = "cds_audit_write_errors_total";

pub(crate) enum AuditMsg {
    Record(Box<DecisionRecord>),
    /// Answered once every record queued before it is committed (or given up).
    Flush(oneshot::Sender<()>),
}

/// The sending side of the audit queue. Cheap to clone.
#[derive(Clone)]
pub struct AuditQueue {
    tx: mpsc::Sender<AuditMsg>,
}

/// What happened to a record handed to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Queued,
    Dropped,
}

impl AuditQueue {
    pub(crate) fn new(capacity: usize) -> (Self, mpsc::Receiver<AuditMsg>) {
        let (tx, rx) = mpsc::channel(capacity);
        // Make the counters visible at 0 in /metrics, so an alert can be written before the
        // first drop.
        metrics::counter!(DROPPED_METRIC).increment(0);
        metrics::counter!(WRITTEN_METRIC).increment(0);
        metrics::counter!(WRITE_ERRORS_METRIC).increment(0);
        (Self { tx }, rx)
    }

    /// Queues a record without waiting. Never blocks the caller.
    pub fn record(&self, record: DecisionRecord) -> Enqueued {
        match self.tx.try_send(AuditMsg::Record(Box::new(record))) {
            Ok(()) => Enqueued::Queued,
            Err(e) => {
                let (reason, hook_instance) = match &e {
                    mpsc::error::TrySendError::Full(AuditMsg::Record(r)) => {
                        ("queue full", r.hook_instance.clone())
                    }
                    mpsc::error::TrySendError::Closed(AuditMsg::Record(r)) => {
                        ("writer stopped", r.hook_instance.clone())
                    }
                    _ => ("queue unavailable", String::new()),
                };
                metrics::counter!(DROPPED_METRIC).increment(1);
                tracing::warn!(
                    hook_instance = %hook_instance,
                    reason,
                    "decision audit record dropped (store.audit_queue_capacity too small, or \
                     the store is unavailable); counted in cds_audit_dropped_total"
                );
                Enqueued::Dropped
            }
        }
    }

    /// Records (and flush requests) waiting in the queue.
    pub fn pending(&self) -> usize {
        self.tx.max_capacity().saturating_sub(self.tx.capacity())
    }

    /// Waits until every record queued so far is written, at most `timeout`. Returns whether it
    /// was.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        let deadline = tokio::time::Instant::now() + timeout;
        if tokio::time::timeout_at(deadline, self.tx.send(AuditMsg::Flush(tx)))
            .await
            .map_or(true, |r| r.is_err())
        {
            return false;
        }
        matches!(tokio::time::timeout_at(deadline, rx).await, Ok(Ok(())))
    }
}

/// Drains the queue: waits for up to `batch_max` records or `interval`, writes them in one
/// transaction (three attempts), answers flushes. Ends when every sender is gone.
pub(crate) async fn run_writer(
    mut rx: mpsc::Receiver<AuditMsg>,
    store: Store,
    batch_max: usize,
    interval: Duration,
) {
    let mut closed = false;
    while !closed {
        let Some(first) = rx.recv().await else {
            break;
        };
        let mut batch: Vec<DecisionRecord> = Vec::new();
        let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
        take(first, &mut batch, &mut waiters);
        let deadline = tokio::time::Instant::now() + interval;
        // A flush is waited on by a feedback call: write at once rather than wait out the batch.
        while batch.len() < batch_max && waiters.is_empty() {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(msg)) => take(msg, &mut batch, &mut waiters),
                Ok(None) => {
                    closed = true;
                    break;
                }
                Err(_) => break,
            }
        }
        // Whatever is already queued joins this batch too (bounded by batch_max).
        while batch.len() < batch_max {
            match rx.try_recv() {
                Ok(msg) => take(msg, &mut batch, &mut waiters),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            write_with_retries(&store, &batch).await;
        }
        for w in waiters {
            let _ = w.send(());
        }
    }
}

fn take(msg: AuditMsg, batch: &mut Vec<DecisionRecord>, waiters: &mut Vec<oneshot::Sender<()>>) {
    match msg {
        AuditMsg::Record(r) => batch.push(*r),
        AuditMsg::Flush(w) => waiters.push(w),
    }
}

async fn write_with_retries(store: &Store, batch: &[DecisionRecord]) {
    let started = Instant::now();
    let mut last_error = None;
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
        match store.write_decisions(batch).await {
            Ok(()) => {
                metrics::counter!(WRITTEN_METRIC).increment(batch.len() as u64);
                tracing::debug!(
                    records = batch.len(),
                    ms = started.elapsed().as_millis() as u64,
                    "decision audit batch written"
                );
                return;
            }
            Err(e) => last_error = Some(e),
        }
    }
    metrics::counter!(WRITE_ERRORS_METRIC).increment(1);
    metrics::counter!(DROPPED_METRIC).increment(batch.len() as u64);
    if let Some(e) = last_error {
        tracing::error!(
            error = %e,
            records = batch.len(),
            "decision audit batch could not be written; counted in cds_audit_dropped_total"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision_record() -> DecisionRecord {
        DecisionRecord {
            id: "d-1".into(),
            recorded_at: chrono::Utc::now(),
            hook_instance: "hi-1".into(),
            service: "alemtuzumab-order-sign".into(),
            hook: "order-sign".into(),
            patient_id: Some("pat-1".into()),
            status: 412,
            profile: "ansm-2019".into(),
            draft_orders: Vec::new(),
            findings: Vec::new(),
            from_prefetch: Vec::new(),
            from_fhir: Vec::new(),
            gaps: Vec::new(),
            latency_us: 3000,
            cards: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_waiting() {
        // No writer drains this queue: the second record finds it full.
        let (queue, mut rx) = AuditQueue::new(1);
        assert_eq!(queue.record(decision_record()), Enqueued::Queued);
        // `record` is not async: it cannot wait for room. The drop is counted, and the queue
        // still holds the first record only.
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let metrics = recorder.handle();
        let dropped = metrics::with_local_recorder(&recorder, || queue.record(decision_record()));
        assert_eq!(dropped, Enqueued::Dropped);
        let rendered = metrics.render();
        assert!(
            rendered.lines().any(|l| l == format!("{DROPPED_METRIC} 1")),
            "{rendered}"
        );
        assert!(matches!(rx.try_recv(), Ok(AuditMsg::Record(r)) if r.hook_instance == "hi-1"));
        assert!(rx.try_recv().is_err(), "the dropped record was queued");
    }

    #[tokio::test]
    async fn a_closed_queue_drops_too() {
        let (queue, rx) = AuditQueue::new(4);
        drop(rx);
        assert_eq!(queue.record(decision_record()), Enqueued::Dropped);
        assert!(!queue.flush(Duration::from_millis(50)).await);
    }
}
