//! The threads that run argon2 for the daemon: a fixed set of them
//! (`identity.max_concurrent_verifications`, default 2), each reusing one block of working
//! memory ([`super::hashing::verify_secret`]).
//!
//! Why not tokio's blocking pool: it may grow to 512 threads, and glibc gives each thread its
//! own malloc arena that keeps freed memory, so 19 MiB allocated per check on ever-changing
//! threads pinned ~800 MB after a few dozen bad passwords. Here memory is bounded by the thread
//! count × the largest kept cost (19 MiB at OWASP parameters), however many checks run.
//!
//! A job takes a permit before it is queued and gives it back when it has run, so at most one
//! job per thread exists at any time, and a request that goes away does not free its slot
//! before its argon2 run has finished.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// One queued check.
type Job = Box<dyn FnOnce() + Send>;

/// The verifier threads, shared by proxy sign-ins and identity-map tokens. Dropping the last
/// handle lets the threads finish their current job and end.
pub struct Verifiers {
    /// Where jobs go; every thread takes the next one.
    jobs: Mutex<mpsc::Sender<Job>>,
    /// One permit per thread: the concurrency bound.
    permits: Arc<tokio::sync::Semaphore>,
    /// How many threads there are.
    threads: usize,
}

impl std::fmt::Debug for Verifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifiers")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

/// The verifier threads could not run a check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifierError {
    /// A thread could not be started.
    #[error("cannot start an argon2 verifier thread: {0}")]
    Spawn(String),
    /// The threads are gone or the check panicked.
    #[error("the argon2 verifier stopped before answering")]
    Gone,
}

impl Verifiers {
    /// Starts `threads` verifier threads (at least one).
    pub fn new(threads: usize) -> Result<Self, VerifierError> {
        let threads = threads.max(1);
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("lychgate-argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job, never while
                        // one runs.
                        let next = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match next {
                            // A check that panics loses its answer (the caller sees `Gone`),
                            // not the thread.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(mpsc::RecvError) => break,
                        }
                    }
                })
                .map_err(|e| VerifierError::Spawn(e.to_string()))?;
        }
        Ok(Self {
            jobs: Mutex::new(sender),
            permits: Arc::new(tokio::sync::Semaphore::new(threads)),
            threads,
        })
    }

    /// How many checks can run at once.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `check` on a verifier thread once one is free, and returns its result.
    pub async fn run<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, VerifierError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| VerifierError::Gone)?;
        let (answer, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let value = check();
            // The permit goes back only now, even when nobody waits for the answer.
            drop(permit);
            let _ = answer.send(value);
        });
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .map_err(|_| VerifierError::Gone)?;
        result.await.map_err(|_| VerifierError::Gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn runs_checks_on_a_bounded_set_of_named_threads() {
        let verifiers = Arc::new(Verifiers::new(2).unwrap());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (verifiers, running, most) = (verifiers.clone(), running.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                verifiers
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5));
                        running.fetch_sub(1, Ordering::SeqCst);
                        std::thread::current().name().map(str::to_string)
                    })
                    .await
            }));
        }
        for t in tasks {
            let name = t.await.unwrap().unwrap().unwrap();
            assert!(name.starts_with("lychgate-argon2-"), "{name}");
        }
        assert!(most.load(Ordering::SeqCst) <= 2);
        assert_eq!(verifiers.threads(), 2);
    }

    #[tokio::test]
    async fn a_panicking_check_is_an_error_and_frees_its_slot() {
        let verifiers = Verifiers::new(1).unwrap();
        assert_eq!(
            verifiers.run(|| -> u8 { panic!("boom") }).await,
            Err(VerifierError::Gone)
        );
        // The permit went back while unwinding, and the one thread is still there.
        let again = tokio::time::timeout(Duration::from_secs(5), verifiers.run(|| 1u8)).await;
        assert_eq!(again, Ok(Ok(1)));
    }
}
