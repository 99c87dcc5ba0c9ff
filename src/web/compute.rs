//! The hook calls' CPU work runs on threads of its own, never on the actix worker that accepted
//! the call (issue 17 item 4).
//!
//! Reading a body and walking its prefetch has no `.await` inside: run on the actix worker, a
//! large call held that worker until it was done, so `server.request_timeout_ms` (a timer polled
//! by the same worker) could not fire and `/healthz` on that worker waited behind it. Here the
//! worker reads the body (I/O), hands it to this pool, and awaits the result: the timeout in
//! `web::limits` fires on time, the worker keeps answering other calls, and a call given up
//! (timed out, client gone) is aborted at its next `.await` (a FHIR request).
//!
//! The pool is a multi-thread tokio runtime with one thread per actix worker
//! (`server.workers`, 0 = one per core); FHIR requests of the hook calls run on it too.

use std::future::Future;
use std::io;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

/// The pool of threads the hook calls' work runs on.
#[derive(Debug)]
pub struct ComputePool {
    runtime: Option<Runtime>,
}

impl ComputePool {
    /// A pool of `threads` threads (at least one), named `cds-compute`.
    pub fn new(threads: usize) -> io::Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("cds-compute")
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// One thread per actix worker: `workers`, or the number of cores when 0.
    pub fn for_workers(workers: usize) -> io::Result<Self> {
        let threads = if workers > 0 {
            workers
        } else {
            std::thread::available_parallelism().map_or(1, usize::from)
        };
        Self::new(threads)
    }

    fn handle(&self) -> Option<&Handle> {
        self.runtime.as_ref().map(Runtime::handle)
    }

    /// Runs `work` on the pool; the answer is awaited wherever the caller runs. Dropping the
    /// returned future (the call timed out, the client went away) aborts the work at its next
    /// `.await`. `Err` when the work panicked or the pool is shutting down.
    pub async fn run<F>(&self, work: F) -> Result<F::Output, String>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = self.handle().ok_or("the compute pool is shut down")?;
        let task = AbortOnDrop(handle.spawn(work));
        task.await
    }
}

impl Drop for ComputePool {
    fn drop(&mut self) {
        // Dropped from inside actix's runtime when the server stops: a plain drop would block
        // there (and panic); the threads end on their own once idle.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A spawned task that is aborted when its handle is dropped before it finished.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, String>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.map_err(|e| e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[tokio::test(flavor = "current_thread")]
    async fn work_runs_on_the_pool_threads_and_a_panic_is_an_error() {
        let pool = ComputePool::new(1).unwrap();
        let name = pool
            .run(async { std::thread::current().name().map(str::to_owned) })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("cds-compute"));
        let err = pool
            .run(async {
                panic!("boom");
            })
            .await;
        assert!(err.is_err());
        // The pool still works after a panicking task.
        assert_eq!(pool.run(async { 2 + 2 }).await, Ok(4));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn work_given_up_is_aborted_at_its_next_await() {
        /// Sets its flag when the work's future is dropped (aborted or finished).
        struct Dropped(Arc<AtomicBool>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let pool = ComputePool::new(1).unwrap();
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = Dropped(dropped.clone());
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let call = pool.run(async move {
            let _guard = guard;
            let _ = started_tx.send(());
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        });
        // Started, then given up (as the request timeout does).
        tokio::select! {
            _ = call => panic!("the work cannot finish"),
            _ = started_rx => {}
        }
        for _ in 0..500 {
            if dropped.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the work given up was not aborted");
    }
}
