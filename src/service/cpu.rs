//! The CPU pool: extraction and preparation run on a fixed set of threads
//! (one per core and two more), fed from one queue.
//!
//! Tokio's blocking pool started a thread whenever a job arrived before
//! the last one's thread was back in the pool, so a first ingest spread
//! its pages over a dozen threads: each kept its own zstd context, pattern
//! cache and regex caches warm for a twelfth of the pages, and every job
//! woke a different one. Here a worker takes the next page as soon as it
//! hands back the last, and the queue holds the pages waiting for a core:
//! a first ingest keeps the machine 99 % busy instead of 95 %, with 15 MiB
//! less peak RSS (BENCHMARKS.md).
//!
//! A job that outlives its caller's timeout keeps its thread: the pool
//! starts a replacement, and the stuck worker ends when its job does (a
//! hostile page costs one thread for a while, never a worker for good; the
//! metric `newsledger_extraction_stuck_jobs` counts such jobs). At most
//! [`MAX_STUCK`] stuck jobs get a replacement; beyond that, new jobs wait
//! for the workers left (and time out in the queue, not run), so a flood of
//! hostile pages costs a bounded number of threads. A job whose
//! caller gave up while it was still queued is not run. A job that panics
//! costs its result, not its worker.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicIsize, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A queued job and whether its caller still waits for it.
struct Job {
    work: Box<dyn FnOnce() + Send + 'static>,
    state: Arc<AtomicU8>,
}

/// [`Job::state`]: queued, running, finished, or abandoned by its caller
/// (who started a replacement worker for it).
const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const FINISHED: u8 = 2;
const ABANDONED: u8 = 3;
/// Abandoned while it ran, with no replacement started (the cap of stuck
/// jobs was reached): its worker goes on with the queue when it is done.
const ABANDONED_ALONE: u8 = 4;

/// Stuck jobs that get a replacement worker, at most. Beyond it, jobs wait
/// in the queue for the workers left (and time out there, not run): a
/// flood of hostile pages costs this many threads, never a thread each.
pub const MAX_STUCK: isize = 16;

/// Why a job gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// The job panicked (its message, when it had one).
    Panicked(String),
    /// The job was still running when the caller stopped waiting.
    TimedOut(Duration),
}

struct Pool {
    jobs: Sender<Job>,
    queue: Arc<Mutex<Receiver<Job>>>,
    /// Workers alive, stuck ones included.
    live: Arc<AtomicUsize>,
    /// Jobs whose callers gave up on them while they ran, still running
    /// (briefly below zero while a job ends as its caller gives up).
    stuck: Arc<AtomicIsize>,
}

impl Pool {
    fn new(workers: usize) -> Pool {
        let (jobs, queue) = channel::<Job>();
        let pool = Pool {
            jobs,
            queue: Arc::new(Mutex::new(queue)),
            live: Arc::new(AtomicUsize::new(0)),
            stuck: Arc::new(AtomicIsize::new(0)),
        };
        for _ in 0..workers {
            pool.start_worker();
        }
        pool
    }

    fn start_worker(&self) {
        let (queue, live, stuck) = (self.queue.clone(), self.live.clone(), self.stuck.clone());
        live.fetch_add(1, Ordering::AcqRel);
        let started = std::thread::Builder::new()
            .name("newsledger-cpu".into())
            .spawn(move || {
                work(&queue, &stuck);
                live.fetch_sub(1, Ordering::AcqRel);
            });
        if let Err(e) = started {
            self.live.fetch_sub(1, Ordering::AcqRel);
            tracing::error!(error = %e, "cannot start a CPU worker thread");
        }
    }

    async fn run<T, F>(&self, timeout: Duration, job: F) -> Result<T, Failed>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (reply, result) = tokio::sync::oneshot::channel();
        let state = Arc::new(AtomicU8::new(QUEUED));
        let job = Job {
            work: Box::new(move || {
                let out =
                    catch_unwind(AssertUnwindSafe(job)).map_err(|p| panic_message(p.as_ref()));
                let _ = reply.send(out);
            }),
            state: state.clone(),
        };
        if self.jobs.send(job).is_err() {
            return Err(Failed::Panicked("the CPU pool is gone".into()));
        }
        match tokio::time::timeout(timeout, result).await {
            Ok(Ok(out)) => out.map_err(Failed::Panicked),
            Ok(Err(_)) => Err(Failed::Panicked("the job was dropped".into())),
            Err(_) => {
                // Still queued or running: the pool gets a worker in its
                // place, and the worker that meets it (at its start or its
                // end) leaves.
                let replace = self.stuck.load(Ordering::Acquire) < MAX_STUCK;
                let was = state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| match s {
                    QUEUED => Some(ABANDONED),
                    RUNNING if replace => Some(ABANDONED),
                    RUNNING => Some(ABANDONED_ALONE),
                    _ => None,
                });
                match was {
                    Ok(RUNNING) if !replace => {
                        self.stuck.fetch_add(1, Ordering::AcqRel);
                        tracing::warn!(
                            stuck = MAX_STUCK,
                            "extractions stuck past their timeout reached the cap: no more threads are started for them; jobs wait for the workers left"
                        );
                    }
                    Ok(was) => {
                        if was == RUNNING {
                            self.stuck.fetch_add(1, Ordering::AcqRel);
                        }
                        self.start_worker();
                    }
                    Err(_) => {}
                }
                Err(Failed::TimedOut(timeout))
            }
        }
    }
}

/// A worker's loop: jobs from the queue until the queue is gone or the
/// worker meets a job its caller abandoned.
fn work(queue: &Mutex<Receiver<Job>>, stuck: &AtomicIsize) {
    loop {
        // The lock is held only while waiting: an idle worker
        // waits for the queue, the others wait for the lock.
        let job = match queue.lock() {
            Ok(q) => q.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = job else { return };
        let started =
            job.state
                .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire);
        if started.is_err() {
            // Abandoned while queued: not run; its replacement worker
            // already took this one's place.
            return;
        }
        (job.work)();
        let done =
            job.state
                .compare_exchange(RUNNING, FINISHED, Ordering::AcqRel, Ordering::Acquire);
        if let Err(now) = done {
            stuck.fetch_sub(1, Ordering::AcqRel);
            if now == ABANDONED {
                // Abandoned while it ran: the replacement stays.
                return;
            }
            // Abandoned with no replacement (the cap): this worker goes on.
        }
    }
}

/// Jobs still running after their callers gave up on them (a page whose
/// extraction outlived its timeout): each holds a thread of its own.
pub fn stuck() -> usize {
    POOL.get().map_or(0, |p| {
        usize::try_from(p.stuck.load(Ordering::Acquire)).unwrap_or(0)
    })
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn pool() -> &'static Pool {
    POOL.get_or_init(|| Pool::new(workers(std::thread::available_parallelism().ok())))
}

/// Workers in the pool: one per core and two more (four when the core
/// count is unknown). Measured on the nginx ingest bench (2 cores, paired
/// runs): one per core ran the first ingest at 0.94x the rate of one
/// more, and one more at 0.97x the rate of two more (BENCHMARKS.md): the
/// writer thread and the HTTP side share the cores with the workers.
fn workers(cores: Option<std::num::NonZero<usize>>) -> usize {
    cores.map_or(2, std::num::NonZero::get) + 2
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string())
}

/// Runs `job` on the CPU pool and waits for it, at most `timeout`.
pub async fn run<T, F>(timeout: Duration, job: F) -> Result<T, Failed>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    pool().run(timeout, job).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_workers_more_than_cores() {
        assert_eq!(workers(std::num::NonZero::new(2)), 4);
        assert_eq!(workers(std::num::NonZero::new(8)), 10);
        assert_eq!(workers(None), 4);
    }

    #[tokio::test]
    async fn a_panic_costs_the_result_not_the_worker() {
        let r: Result<(), Failed> = run(Duration::from_secs(10), || panic!("boom")).await;
        assert_eq!(r, Err(Failed::Panicked("boom".into())));
        // Every worker still answers: more jobs than workers, all done.
        let mut all = Vec::new();
        for i in 0..16u64 {
            all.push(tokio::spawn(run(Duration::from_secs(10), move || i * 2)));
        }
        let mut sum = 0;
        for j in all {
            sum += j.await.expect("task").expect("job");
        }
        assert_eq!(sum, (0..16).map(|i| i * 2).sum::<u64>());
    }

    /// Waits (up to 10 s) for the pool to have `n` live workers.
    async fn settles_at(pool: &Pool, n: usize) -> bool {
        for _ in 0..200 {
            if pool.live.load(Ordering::Acquire) == n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    #[tokio::test]
    async fn stuck_jobs_are_replaced_and_their_workers_retire() {
        let pool = Pool::new(2);
        assert!(settles_at(&pool, 2).await);
        // Three stuck jobs on two workers: the first two time out running,
        // the third sooner, queued behind them, and is never run.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let ran = Arc::new(AtomicUsize::new(0));
        let stuck = |gate: Arc<Mutex<std::sync::mpsc::Receiver<()>>>, ran: Arc<AtomicUsize>| {
            move || {
                ran.fetch_add(1, Ordering::AcqRel);
                let _ = gate.lock().map(|g| g.recv_timeout(Duration::from_secs(20)));
            }
        };
        let (long, short) = (Duration::from_millis(400), Duration::from_millis(100));
        let (a, b, c) = tokio::join!(
            pool.run(long, stuck(gate.clone(), ran.clone())),
            pool.run(long, stuck(gate.clone(), ran.clone())),
            pool.run(short, stuck(gate.clone(), ran.clone())),
        );
        assert_eq!(a, Err(Failed::TimedOut(long)));
        assert_eq!(b, Err(Failed::TimedOut(long)));
        assert_eq!(c, Err(Failed::TimedOut(short)));
        // Three replacements beside the two stuck workers; the one that
        // meets the abandoned queued job leaves without running it.
        assert!(settles_at(&pool, 4).await, "live: {:?}", pool.live);
        assert_eq!(pool.stuck.load(Ordering::Acquire), 2, "the two that ran");
        // The pool still works while two of its threads are stuck.
        assert_eq!(pool.run(Duration::from_secs(10), || 7).await, Ok(7));
        drop(release);
        // Released, the stuck workers leave: back to two.
        assert!(settles_at(&pool, 2).await, "live: {:?}", pool.live);
        assert_eq!(pool.stuck.load(Ordering::Acquire), 0);
        assert_eq!(ran.load(Ordering::Acquire), 2, "the queued job never ran");
        assert_eq!(pool.run(Duration::from_secs(10), || 8).await, Ok(8));
    }

    /// What a step of the model sends to the pool.
    #[derive(Debug, Clone)]
    enum Step {
        /// A job that returns its value.
        Quick(u32),
        /// A job that panics.
        Panics,
        /// A job that waits for the gate: its caller times out.
        Stuck,
        /// The gate opens: every stuck job ends.
        Release,
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            3 => any::<u32>().prop_map(Step::Quick),
            1 => Just(Step::Panics),
            2 => Just(Step::Stuck),
            1 => Just(Step::Release),
        ]
    }

    /// A gate that stuck jobs wait on until it opens again.
    #[derive(Default)]
    struct Gate {
        opened: Mutex<u64>,
        changed: std::sync::Condvar,
    }

    impl Gate {
        fn wait(&self) {
            let Ok(mut g) = self.opened.lock() else {
                return;
            };
            let seen = *g;
            while *g == seen {
                match self.changed.wait_timeout(g, Duration::from_secs(30)) {
                    Ok((next, t)) if !t.timed_out() => g = next,
                    _ => return,
                }
            }
        }

        fn open(&self) {
            if let Ok(mut g) = self.opened.lock() {
                *g += 1;
            }
            self.changed.notify_all();
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Against a model of the pool: every job's caller gets its value,
        /// its panic or its timeout; a pool with stuck jobs still runs the
        /// others, with never more threads than its size plus the jobs
        /// abandoned; once the gate opens the pool is back at its size and
        /// no job counts as stuck.
        #[test]
        fn the_pool_keeps_its_size_whatever_its_jobs_do(
            workers in 1usize..4,
            steps in proptest::collection::vec(step(), 1..12),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let pool = Pool::new(workers);
                let gate = Arc::new(Gate::default());
                let submitted = &mut 0usize;
                let patience = Duration::from_secs(10);
                let short = Duration::from_millis(30);
                for s in &steps {
                    match s {
                        Step::Quick(v) => {
                            let v = *v;
                            proptest::prop_assert_eq!(pool.run(patience, move || v).await, Ok(v));
                        }
                        Step::Panics => {
                            let r: Result<(), Failed> =
                                pool.run(patience, || panic!("hostile page")).await;
                            proptest::prop_assert_eq!(r, Err(Failed::Panicked("hostile page".into())));
                        }
                        Step::Stuck => {
                            let g = gate.clone();
                            let r = pool.run(short, move || g.wait()).await;
                            *submitted += 1;
                            proptest::prop_assert_eq!(r, Err(Failed::TimedOut(short)));
                        }
                        Step::Release => {
                            gate.open();
                            proptest::prop_assert!(settles_at(&pool, workers).await);
                            proptest::prop_assert_eq!(pool.stuck.load(Ordering::Acquire), 0);
                        }
                    }
                    // Stuck or not, `workers` threads are free for the next job.
                    let live = pool.live.load(Ordering::Acquire);
                    proptest::prop_assert!(live >= workers && live <= workers + *submitted);
                    let stuck = pool.stuck.load(Ordering::Acquire);
                    proptest::prop_assert!(stuck <= *submitted as isize);
                }
                gate.open();
                proptest::prop_assert!(settles_at(&pool, workers).await);
                proptest::prop_assert_eq!(pool.stuck.load(Ordering::Acquire), 0);
                Ok(())
            })?;
        }
    }

    #[tokio::test]
    async fn stuck_jobs_beyond_the_cap_start_no_thread_and_the_pool_recovers() {
        let pool = Pool::new(2);
        assert!(settles_at(&pool, 2).await);
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let hold = |gate: Arc<Mutex<std::sync::mpsc::Receiver<()>>>| {
            move || {
                let _ = gate.lock().map(|g| g.recv_timeout(Duration::from_secs(30)));
            }
        };
        // Far more stuck jobs than the cap, each started and abandoned in turn.
        let n = MAX_STUCK as usize + 10;
        for _ in 0..n {
            let _ = pool
                .run(Duration::from_millis(150), hold(gate.clone()))
                .await;
        }
        let live = pool.live.load(Ordering::Acquire);
        // Workers, the cap, and at most one replacement of a job abandoned
        // while queued that has not met its job yet.
        assert!(
            live <= 2 + MAX_STUCK as usize + 1,
            "{live} threads for {n} stuck jobs: the cap holds"
        );
        assert!(pool.stuck.load(Ordering::Acquire) <= n as isize);
        // Released: the stuck jobs end, and the pool answers again.
        for _ in 0..n {
            let _ = release.send(());
        }
        drop(release);
        let r = pool.run(Duration::from_secs(10), || 21 * 2).await;
        assert_eq!(r, Ok(42));
        assert!(settles_at(&pool, 2).await, "back to its two workers");
    }
}
