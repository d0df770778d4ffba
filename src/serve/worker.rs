//! One thread per served run: it loads the model once, keeps it, and answers the jobs sent to
//! it in order. Classify jobs that are waiting together (up to `--batch-size`, collected for
//! at most `--batch-wait-ms`) go through the network as one batch.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use serde::Serialize;
use zoo_train::ZooError;
use zoo_train::inference::{Capability, Served};

use super::Settings;

/// Loads a run's model: a registry row's `serve`.
pub type Loader = fn(&Path, &burn::prelude::Device) -> zoo_train::Result<Box<dyn Served>>;

/// What a worker reports once its model is loaded.
pub struct Loaded {
    pub capabilities: Vec<Capability>,
    pub latent: usize,
    pub canvas_side: usize,
    pub conditional: bool,
}

/// Classes of one picture, most likely first.
pub type Classes = Vec<(String, f32)>;

/// A question for the model, answered in the worker's thread.
type Ask = Box<dyn FnOnce(&dyn Served) + Send>;

enum Job {
    Classify { pixels: Vec<f32>, reply: tokio::sync::oneshot::Sender<zoo_train::Result<Classes>> },
    Call(Ask),
}

/// How many classify requests the worker answered and in how many forward passes.
#[derive(Default, Serialize)]
pub struct Counts {
    pub requests: AtomicU64,
    pub passes: AtomicU64,
}

/// The handle to a run's worker thread; cheap to clone.
#[derive(Clone)]
pub struct Worker {
    jobs: mpsc::Sender<Job>,
    pub counts: Arc<Counts>,
}

/// A worker whose model is still loading.
pub struct Starting {
    worker: Worker,
    ready: Receiver<Result<Loaded, String>>,
}

impl Starting {
    /// Waits for the model: the worker and what it can do, or why it could not load.
    pub fn ready(self) -> Result<(Worker, Loaded), String> {
        match self.ready.recv() {
            Ok(Ok(loaded)) => Ok((self.worker, loaded)),
            Ok(Err(problem)) => Err(problem),
            Err(_) => Err("its model could not be loaded (the loading thread stopped)".into()),
        }
    }
}

fn stopped() -> ZooError {
    ZooError::runtime("this run's worker stopped after an internal error; restart zoo serve")
}

/// The same error again, for every request of a batch.
fn copy(error: &ZooError) -> ZooError {
    match error {
        ZooError::Usage(m) => ZooError::Usage(m.clone()),
        ZooError::Runtime(m) => ZooError::Runtime(m.clone()),
    }
}

impl Worker {
    pub fn start(path: &Path, load: Loader, device: &burn::prelude::Device, settings: &Settings) -> Starting {
        let (jobs, queue) = mpsc::channel();
        let (report, ready) = mpsc::channel();
        let counts = Arc::new(Counts::default());
        let (path, device, batch_size, wait) =
            (path.to_path_buf(), device.clone(), settings.batch_size, settings.batch_wait);
        let thread_counts = counts.clone();
        let spawned = std::thread::Builder::new().name(format!("serve {}", path.display())).spawn(move || {
            let model = match load(&path, &device) {
                Ok(model) => model,
                Err(e) => {
                    let _ = report.send(Err(e.to_string()));
                    return;
                }
            };
            let loaded = Loaded {
                capabilities: model.capabilities().to_vec(),
                latent: model.latent(),
                canvas_side: model.canvas_side(),
                conditional: model.conditional(),
            };
            let _ = report.send(Ok(loaded));
            answer_jobs(model.as_ref(), &queue, batch_size, wait, &thread_counts);
        });
        if let Err(e) = spawned {
            let (report, ready) = mpsc::channel();
            let _ = report.send(Err(format!("cannot start its worker thread: {e}")));
            return Starting { worker: Worker { jobs, counts }, ready };
        }
        Starting { worker: Worker { jobs, counts }, ready }
    }

    /// The classes of one picture prepared as MNIST is (`[28 * 28]` in `[0, 1]`).
    pub async fn classify(&self, pixels: Vec<f32>) -> zoo_train::Result<Classes> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs.send(Job::Classify { pixels, reply }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs `ask` on the model in the worker's thread and returns what it returns.
    pub async fn call<T: Send + 'static>(
        &self,
        ask: impl FnOnce(&dyn Served) -> zoo_train::Result<T> + Send + 'static,
    ) -> zoo_train::Result<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job::Call(Box::new(move |model| {
            let _ = reply.send(ask(model));
        }));
        self.jobs.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Sends `job` without waiting for it (one that answers through its own channel).
    pub fn send(&self, job: impl FnOnce(&dyn Served) + Send + 'static) -> zoo_train::Result<()> {
        self.jobs.send(Job::Call(Box::new(job))).map_err(|_| stopped())
    }
}

/// The worker's loop: until the server drops its handles.
fn answer_jobs(model: &dyn Served, queue: &Receiver<Job>, batch_size: usize, wait: Duration, counts: &Counts) {
    // Jobs that arrived while a batch was being collected, answered next in their order.
    let mut deferred: VecDeque<Job> = VecDeque::new();
    loop {
        let job = match deferred.pop_front() {
            Some(job) => job,
            None => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        match job {
            // A panic inside Burn answers nothing (the request gets 500) but keeps the model.
            Job::Call(ask) => {
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| ask(model)));
            }
            Job::Classify { pixels, reply } => {
                let mut batch = vec![(pixels, reply)];
                let deadline = Instant::now() + wait;
                while batch.len() < batch_size {
                    // Those already queued first, then those that arrive before the deadline.
                    let next = match queue.try_recv() {
                        Ok(job) => Some(job),
                        Err(TryRecvError::Disconnected) => None,
                        Err(TryRecvError::Empty) => {
                            let left = deadline.saturating_duration_since(Instant::now());
                            queue.recv_timeout(left).ok()
                        }
                    };
                    match next {
                        Some(Job::Classify { pixels, reply }) => batch.push((pixels, reply)),
                        Some(other) => deferred.push_back(other),
                        None => break,
                    }
                }
                classify_batch(model, batch, counts);
            }
        }
    }
}

type Reply = tokio::sync::oneshot::Sender<zoo_train::Result<Classes>>;

fn classify_batch(model: &dyn Served, batch: Vec<(Vec<f32>, Reply)>, counts: &Counts) {
    let n = batch.len();
    let mut pixels = Vec::with_capacity(batch.iter().map(|(p, _)| p.len()).sum());
    for (p, _) in &batch {
        pixels.extend_from_slice(p);
    }
    let answered = std::panic::catch_unwind(AssertUnwindSafe(|| model.classify(&pixels, n)));
    counts.requests.fetch_add(n as u64, Ordering::Relaxed);
    counts.passes.fetch_add(1, Ordering::Relaxed);
    match answered {
        Ok(Ok(classes)) => {
            for ((_, reply), classes) in batch.into_iter().zip(classes) {
                let _ = reply.send(Ok(classes));
            }
        }
        Ok(Err(error)) => {
            for (_, reply) in batch {
                let _ = reply.send(Err(copy(&error)));
            }
        }
        // The replies drop: each request gets the worker's "internal error".
        Err(_) => {}
    }
}
