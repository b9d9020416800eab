//! Dynamic batching for one model version: requests wait in a bounded queue, batches form up to
//! a size or a delay, a pool of workers runs them, and each caller gets its own rows back.
//!
//! Why this shape:
//! - The queue is bounded and `infer` never waits for room: a full queue is an immediate
//!   `Overloaded` error, so overload costs the server nothing and memory stays flat.
//! - A batch forms only once a worker is free. Under load the queue has filled by then, so
//!   batches are full. While other batches run, a new one waits for company up to `max_delay`
//!   or until one of them finishes, whichever comes first: past that point waiting would leave a
//!   core idle, and with few clients the company a full delay waits for is mostly the callers of
//!   the running batch, who cannot ask again before it ends. An idle deployment runs a lone
//!   request at once.
//! - A worker that finishes a batch takes the next one from the queue itself while requests are
//!   queued, so under load batches run back to back on the worker threads instead of waiting
//!   for the former, an async task among the request handlers, to be scheduled.
//! - Requests whose inputs cannot stack (other trailing dimensions or names) run in separate
//!   groups; a batch the model rejects is retried request by request, so one bad request fails
//!   alone.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use galley_onnx::{DType, Tensor};
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::rows;
use crate::scaling::Load;
use galley_serving::ServingError;

pub type Inputs = Vec<(String, Tensor)>;
pub type Outputs = Vec<(String, Tensor)>;

/// Something that turns a batch of inputs into outputs: an ONNX model, or a test double.
pub trait Predict: Send + Sync + 'static {
    fn predict(&self, inputs: Inputs) -> Result<Outputs, ServingError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Rows (first-axis length, summed over requests) in one batch at most.
    pub max_batch_size: usize,
    /// How long the first request of a batch waits for company.
    pub max_delay: Duration,
    /// Requests waiting at most; more are refused with `Overloaded`.
    pub queue_capacity: usize,
}

/// What each finished batch reports, for metrics and autoscaling.
pub trait BatchObserver: Send + Sync + 'static {
    fn batch_done(&self, rows: usize, requests: usize, run_time: Duration);
    fn request_queued_for(&self, wait: Duration);
}

/// A request the batcher did not take, with its inputs handed back.
pub struct Refused {
    pub error: ServingError,
    pub inputs: Inputs,
}

struct Job {
    inputs: Inputs,
    enqueued: Instant,
    reply: oneshot::Sender<Result<Outputs, ServingError>>,
}

/// The queue and workers of one model version. Dropping it without `drain` abandons queued
/// requests (their callers see `Unavailable`); running batches finish.
pub struct Batcher {
    label: String,
    sender: mpsc::Sender<Job>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
    draining: AtomicBool,
    workers: Arc<WorkerPool>,
    former: JoinHandle<()>,
}

impl Drop for Batcher {
    fn drop(&mut self) {
        // Queued callers see `Unavailable` as their reply channels close.
        self.former.abort();
    }
}

impl Batcher {
    /// Starts the batch former for `model`, with `replicas` workers. `label` names the deployment
    /// in errors.
    pub fn start(
        label: impl Into<String>,
        model: Arc<dyn Predict>,
        policy: BatchPolicy,
        replicas: usize,
        observer: Arc<dyn BatchObserver>,
    ) -> Batcher {
        let (sender, receiver) = mpsc::channel(policy.queue_capacity.max(1));
        let queued = Arc::new(AtomicUsize::new(0));
        let workers = Arc::new(WorkerPool::new(replicas.max(1)));
        let former = tokio::spawn(form_batches(Arc::new(Pipeline {
            receiver: tokio::sync::Mutex::new(receiver),
            model,
            policy,
            queued: queued.clone(),
            workers: workers.clone(),
            observer,
        })));
        Batcher {
            label: label.into(),
            sender,
            queued,
            capacity: policy.queue_capacity.max(1),
            draining: AtomicBool::new(false),
            workers,
            former,
        }
    }

    /// Queues `inputs` and waits for their outputs.
    pub async fn infer(&self, inputs: Inputs) -> Result<Outputs, ServingError> {
        match self.submit(inputs) {
            Ok(answer) => answer.await,
            Err(refused) => Err(refused.error),
        }
    }

    /// Queues `inputs` and returns the wait for their outputs; a request refused at the door
    /// (queue full, draining) comes back with its inputs, so the caller can try elsewhere
    /// without having copied them.
    pub fn submit(
        &self,
        inputs: Inputs,
    ) -> Result<impl Future<Output = Result<Outputs, ServingError>> + '_, Refused> {
        if self.draining.load(Ordering::SeqCst) {
            return Err(Refused {
                error: self.unavailable(),
                inputs,
            });
        }
        let (reply, answer) = oneshot::channel();
        let job = Job {
            inputs,
            enqueued: Instant::now(),
            reply,
        };
        self.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(refused) = self.sender.try_send(job) {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            let (error, job) = match refused {
                mpsc::error::TrySendError::Full(job) => {
                    (ServingError::Overloaded(self.label.clone()), job)
                }
                mpsc::error::TrySendError::Closed(job) => (self.unavailable(), job),
            };
            return Err(Refused {
                error,
                inputs: job.inputs,
            });
        }
        Ok(async move { answer.await.unwrap_or_else(|_| Err(self.unavailable())) })
    }

    fn unavailable(&self) -> ServingError {
        ServingError::Unavailable(format!("deployment '{}' is shutting down", self.label))
    }

    /// Requests waiting for a worker.
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Whether the queue holds as many requests as it takes: the next one would be refused.
    pub fn is_full(&self) -> bool {
        self.queue_depth() >= self.capacity
    }

    /// Batches running now.
    pub fn busy_workers(&self) -> usize {
        self.workers.busy()
    }

    pub fn replicas(&self) -> usize {
        self.workers.size()
    }

    /// The load since the last call, which was `interval` ago: mean busy workers (worker time
    /// spent running batches per second) and mean queue depth (request time spent queued per
    /// second), for the autoscaler.
    pub fn load_over(&self, interval: Duration) -> Load {
        let seconds = interval.as_secs_f64().max(1e-3);
        let busy = self.workers.busy_nanos.swap(0, Ordering::Relaxed);
        let queued = self.workers.queued_nanos.swap(0, Ordering::Relaxed);
        Load {
            replicas: self.replicas(),
            busy: busy as f64 / 1e9 / seconds,
            queued: queued as f64 / 1e9 / seconds,
        }
    }

    /// Resizes the worker pool; running batches finish on the workers they hold.
    pub fn set_replicas(&self, replicas: usize) {
        self.workers.resize(replicas.max(1));
    }

    /// Stops taking requests, then returns once every queued and running one has finished:
    /// the old version's half of a hot swap.
    pub async fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        // Drains are rare (version swaps, deletes); polling keeps the hot path free of wakeups.
        // The former counts a batch busy before it stops counting its jobs queued, so the two
        // are never both zero while a request is in flight.
        while self.queue_depth() > 0 || self.workers.busy() > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// A resizable set of worker slots: a semaphore whose permit count is the replica count.
struct WorkerPool {
    slots: Arc<Semaphore>,
    size: AtomicUsize,
    busy: AtomicUsize,
    /// Worker time spent running batches, and request time spent queued, since the autoscaler
    /// last looked: averaged over its interval they are the mean busy workers and the mean queue
    /// depth, which a look at the instant misses between bursts.
    busy_nanos: AtomicU64,
    queued_nanos: AtomicU64,
    /// Signalled as each batch finishes: a batch waiting for company stops waiting.
    batch_finished: Notify,
}

impl WorkerPool {
    fn new(size: usize) -> WorkerPool {
        WorkerPool {
            slots: Arc::new(Semaphore::new(size)),
            size: AtomicUsize::new(size),
            busy: AtomicUsize::new(0),
            busy_nanos: AtomicU64::new(0),
            queued_nanos: AtomicU64::new(0),
            batch_finished: Notify::new(),
        }
    }

    fn size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    fn busy(&self) -> usize {
        self.busy.load(Ordering::SeqCst)
    }

    fn resize(&self, target: usize) {
        let current = self.size.swap(target, Ordering::Relaxed);
        if target > current {
            self.slots.add_permits(target - current);
        } else if target < current {
            // Retire slots as they come free, without interrupting running batches.
            let slots = self.slots.clone();
            let retire = (current - target) as u32;
            tokio::spawn(async move {
                if let Ok(permits) = slots.acquire_many(retire).await {
                    permits.forget();
                }
            });
        }
    }
}

/// What the batch former and the workers share: the queue's receiving end, the model and the
/// counters.
struct Pipeline {
    /// Held by the former while it forms a batch; a worker finishing a batch takes the next one
    /// from it only when the former is not forming one.
    receiver: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    model: Arc<dyn Predict>,
    policy: BatchPolicy,
    queued: Arc<AtomicUsize>,
    workers: Arc<WorkerPool>,
    observer: Arc<dyn BatchObserver>,
}

async fn form_batches(pipeline: Arc<Pipeline>) {
    let policy = pipeline.policy;
    let workers = &pipeline.workers;
    loop {
        let Ok(slot) = workers.slots.clone().acquire_owned().await else {
            return;
        };
        let mut receiver = pipeline.receiver.lock().await;
        let Some(first) = receiver.recv().await else {
            return;
        };
        let deadline = tokio::time::Instant::now() + policy.max_delay;
        // Registered before `busy` is read, so a batch finishing in between still ends the wait.
        let another_finished = workers.batch_finished.notified();
        tokio::pin!(another_finished);
        // Waiting for company only pays while other batches are running: an idle deployment
        // answers a lone request at once instead of adding the delay to its latency.
        let wait_for_company = workers.busy() > 0;
        let mut batch_rows = job_rows(&first);
        let mut jobs = vec![first];
        while batch_rows < policy.max_batch_size {
            let next = match receiver.try_recv() {
                Ok(job) => Some(job),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) if !wait_for_company => None,
                Err(mpsc::error::TryRecvError::Empty) => tokio::select! {
                    job = tokio::time::timeout_at(deadline, receiver.recv()) => job.unwrap_or_default(),
                    () = &mut another_finished => None,
                },
            };
            let Some(job) = next else { break };
            batch_rows += job_rows(&job);
            jobs.push(job);
        }
        drop(receiver);
        workers.busy.fetch_add(1, Ordering::SeqCst);
        pipeline.dequeued(&jobs);
        let pipeline = pipeline.clone();
        tokio::task::spawn_blocking(move || pipeline.work(slot, jobs));
    }
}

impl Pipeline {
    /// Runs `jobs` on a worker, then, while requests are queued and the former is not forming a
    /// batch, the next batch from the queue: under load the worker goes on from batch to batch
    /// instead of waiting for the former, an async task among the request handlers, to be
    /// scheduled (on a busy server that wait left workers idle with requests queued).
    fn work(&self, slot: tokio::sync::OwnedSemaphorePermit, mut jobs: Vec<Job>) {
        loop {
            self.run(jobs);
            jobs = self.take_queued();
            if jobs.is_empty() {
                break;
            }
        }
        self.workers.busy.fetch_sub(1, Ordering::SeqCst);
        drop(slot);
        self.workers.batch_finished.notify_waiters();
    }

    fn run(&self, jobs: Vec<Job>) {
        let started = Instant::now();
        let (rows, requests) = (jobs.iter().map(job_rows).sum(), jobs.len());
        run_batch(self.model.as_ref(), jobs);
        let run_time = started.elapsed();
        self.observer.batch_done(rows, requests, run_time);
        self.workers
            .busy_nanos
            .fetch_add(nanos(run_time), Ordering::Relaxed);
    }

    /// A batch of what is queued now, without waiting; empty when nothing is, or when the former
    /// holds the queue.
    fn take_queued(&self) -> Vec<Job> {
        let Ok(mut receiver) = self.receiver.try_lock() else {
            return Vec::new();
        };
        let mut jobs = Vec::new();
        let mut rows = 0;
        while rows < self.policy.max_batch_size {
            let Ok(job) = receiver.try_recv() else { break };
            rows += job_rows(&job);
            jobs.push(job);
        }
        drop(receiver);
        self.dequeued(&jobs);
        jobs
    }

    /// Counts `jobs` out of the queue (the caller already counts their batch busy, so the two
    /// counts are never both zero while a request is in flight) and records their waits.
    fn dequeued(&self, jobs: &[Job]) {
        self.queued.fetch_sub(jobs.len(), Ordering::SeqCst);
        let mut queued_nanos = 0;
        for job in jobs {
            let waited = job.enqueued.elapsed();
            queued_nanos += nanos(waited);
            self.observer.request_queued_for(waited);
        }
        self.workers
            .queued_nanos
            .fetch_add(queued_nanos, Ordering::Relaxed);
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn job_rows(job: &Job) -> usize {
    job.inputs.first().map_or(1, |(_, t)| rows::rows(t))
}

/// What must agree for requests to stack: input names, dtypes, ranks and trailing dimensions.
fn stack_key(inputs: &Inputs) -> Vec<(&str, DType, &[usize])> {
    inputs
        .iter()
        .map(|(name, t)| (name.as_str(), t.dtype, t.shape.get(1..).unwrap_or(&[])))
        .collect()
}

fn run_batch(model: &dyn Predict, jobs: Vec<Job>) {
    let mut groups: Vec<Vec<Job>> = Vec::new();
    for job in jobs {
        let key = stack_key(&job.inputs);
        let scalar = job.inputs.iter().any(|(_, t)| t.shape.is_empty());
        match groups
            .iter_mut()
            .find(|g| !scalar && stack_key(&g[0].inputs) == key)
        {
            Some(group) => group.push(job),
            None => groups.push(vec![job]),
        }
    }
    for group in groups {
        run_group(model, group);
    }
}

fn run_group(model: &dyn Predict, group: Vec<Job>) {
    if group.len() == 1 {
        return run_alone(model, group);
    }
    let counts: Vec<usize> = group.iter().map(job_rows).collect();
    let stacked = stack_inputs(&group);
    let outputs = stacked.and_then(|inputs| model.predict(inputs).ok());
    match outputs.and_then(|outputs| split_outputs(outputs, &counts)) {
        Some(per_job) => {
            for (job, outputs) in group.into_iter().zip(per_job) {
                let _ = job.reply.send(Ok(outputs));
            }
        }
        // A batch that failed or whose outputs do not follow the batch axis: run each request on
        // its own, so only a faulty one fails and every caller gets its own answer.
        None => run_alone(model, group),
    }
}

fn run_alone(model: &dyn Predict, jobs: Vec<Job>) {
    for job in jobs {
        let result = model.predict(job.inputs);
        let _ = job.reply.send(result);
    }
}

fn stack_inputs(group: &[Job]) -> Option<Inputs> {
    let first = &group[0].inputs;
    (0..first.len())
        .map(|i| {
            let parts: Vec<&Tensor> = group.iter().map(|job| &job.inputs[i].1).collect();
            rows::concat(&parts).map(|t| (first[i].0.clone(), t))
        })
        .collect()
}

/// Per job, its slice of every output.
fn split_outputs(outputs: Outputs, counts: &[usize]) -> Option<Vec<Outputs>> {
    let mut per_job: Vec<Outputs> = vec![Vec::with_capacity(outputs.len()); counts.len()];
    for (name, tensor) in outputs {
        for (job, piece) in per_job.iter_mut().zip(rows::split(tensor, counts)?) {
            job.push((name.clone(), piece));
        }
    }
    Some(per_job)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Doubles its input, records batch sizes, rejects any batch holding a negative value, and
    /// optionally sleeps to simulate work.
    struct Doubler {
        batches: Mutex<Vec<usize>>,
        work: Duration,
    }

    impl Doubler {
        fn new(work: Duration) -> Arc<Doubler> {
            Arc::new(Doubler {
                batches: Mutex::new(Vec::new()),
                work,
            })
        }
    }

    impl Predict for Doubler {
        fn predict(&self, inputs: Inputs) -> Result<Outputs, ServingError> {
            std::thread::sleep(self.work);
            let (_, x) = &inputs[0];
            let values = x.data.as_f32().unwrap();
            self.batches.lock().unwrap().push(x.shape[0]);
            if values.iter().any(|v| *v < 0.0) {
                return Err(ServingError::InvalidInput("negative input".into()));
            }
            let doubled: Vec<f32> = values.iter().map(|v| v * 2.0).collect();
            Ok(vec![(
                "y".into(),
                Tensor::new(x.shape.clone(), doubled).unwrap(),
            )])
        }
    }

    struct Quiet;
    impl BatchObserver for Quiet {
        fn batch_done(&self, _: usize, _: usize, _: Duration) {}
        fn request_queued_for(&self, _: Duration) {}
    }

    fn policy(max_batch_size: usize, delay_ms: u64, queue_capacity: usize) -> BatchPolicy {
        BatchPolicy {
            max_batch_size,
            max_delay: Duration::from_millis(delay_ms),
            queue_capacity,
        }
    }

    fn row(values: &[f32]) -> Inputs {
        vec![(
            "x".into(),
            Tensor::new(vec![1, values.len()], values.to_vec()).unwrap(),
        )]
    }

    fn value(outputs: &Outputs) -> Vec<f32> {
        outputs[0].1.data.as_f32().unwrap().to_vec()
    }

    #[tokio::test]
    async fn batches_form_and_answers_go_back_to_their_callers() {
        // Slow enough that the others queue while the first request runs.
        let model = Doubler::new(Duration::from_millis(30));
        let batcher = Arc::new(Batcher::start(
            "d",
            model.clone(),
            policy(8, 50, 100),
            1,
            Arc::new(Quiet),
        ));
        let calls: Vec<_> = (0..8)
            .map(|i| {
                let b = batcher.clone();
                tokio::spawn(async move { b.infer(row(&[i as f32, 1.0])).await })
            })
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            let outputs = call.await.unwrap().unwrap();
            assert_eq!(value(&outputs), vec![2.0 * i as f32, 2.0]);
            assert_eq!(outputs[0].1.shape, vec![1, 2]);
        }
        let batches = model.batches.lock().unwrap().clone();
        assert!(batches.len() < 8, "requests were batched: {batches:?}");
        assert_eq!(batches.iter().sum::<usize>(), 8);
    }

    #[tokio::test]
    async fn an_idle_deployment_runs_a_lone_request_at_once() {
        let model = Doubler::new(Duration::ZERO);
        let batcher = Batcher::start("d", model.clone(), policy(64, 30, 10), 1, Arc::new(Quiet));
        let started = Instant::now();
        let outputs = batcher.infer(row(&[1.0])).await.unwrap();
        assert_eq!(value(&outputs), vec![2.0]);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(
            *model.batches.lock().unwrap(),
            vec![1],
            "a partial batch ran"
        );
    }

    #[tokio::test]
    async fn a_forming_batch_stops_waiting_for_company_when_a_running_one_finishes() {
        let model = Doubler::new(Duration::from_millis(50));
        let batcher = Arc::new(Batcher::start(
            "d",
            model.clone(),
            policy(8, 60_000, 10),
            2,
            Arc::new(Quiet),
        ));
        let first = {
            let b = batcher.clone();
            tokio::spawn(async move { b.infer(row(&[1.0])).await })
        };
        while batcher.busy_workers() == 0 {
            tokio::task::yield_now().await;
        }
        // Another batch is running, so this one waits for company, but not the whole minute.
        let second = tokio::time::timeout(Duration::from_secs(30), batcher.infer(row(&[2.0])))
            .await
            .expect("the second request waited for the full batch delay");
        assert_eq!(value(&second.unwrap()), vec![4.0]);
        assert_eq!(value(&first.await.unwrap().unwrap()), vec![2.0]);
        assert_eq!(*model.batches.lock().unwrap(), vec![1, 1]);
    }

    #[tokio::test]
    async fn one_failing_request_fails_alone() {
        let model = Doubler::new(Duration::ZERO);
        let batcher = Arc::new(Batcher::start(
            "d",
            model.clone(),
            policy(4, 50, 10),
            1,
            Arc::new(Quiet),
        ));
        let inputs = [1.0f32, -1.0, 3.0, 4.0];
        let calls: Vec<_> = inputs
            .iter()
            .map(|&v| {
                let b = batcher.clone();
                tokio::spawn(async move { b.infer(row(&[v])).await })
            })
            .collect();
        let mut results = Vec::new();
        for call in calls {
            results.push(call.await.unwrap());
        }
        assert!(matches!(results[1], Err(ServingError::InvalidInput(_))));
        for i in [0, 2, 3] {
            assert_eq!(value(results[i].as_ref().unwrap()), vec![inputs[i] * 2.0]);
        }
    }

    #[tokio::test]
    async fn incompatible_shapes_run_in_separate_groups() {
        let model = Doubler::new(Duration::ZERO);
        let batcher = Arc::new(Batcher::start(
            "d",
            model.clone(),
            policy(8, 50, 10),
            1,
            Arc::new(Quiet),
        ));
        let (a, b) = tokio::join!(batcher.infer(row(&[1.0, 2.0])), batcher.infer(row(&[3.0])));
        assert_eq!(value(&a.unwrap()), vec![2.0, 4.0]);
        assert_eq!(value(&b.unwrap()), vec![6.0]);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let model = Doubler::new(Duration::from_millis(200));
        let batcher = Arc::new(Batcher::start(
            "busy",
            model,
            policy(1, 0, 2),
            1,
            Arc::new(Quiet),
        ));
        let calls: Vec<_> = (0..10)
            .map(|_| {
                let b = batcher.clone();
                tokio::spawn(async move { b.infer(row(&[1.0])).await })
            })
            .collect();
        let mut refused = 0;
        let mut served = 0;
        for call in calls {
            match call.await.unwrap() {
                Ok(outputs) => {
                    assert_eq!(value(&outputs), vec![2.0]);
                    served += 1;
                }
                Err(ServingError::Overloaded(label)) => {
                    assert_eq!(label, "busy");
                    refused += 1;
                }
                Err(other) => panic!("unexpected {other}"),
            }
        }
        assert!(
            refused > 0 && served > 0,
            "served {served}, refused {refused}"
        );
    }

    #[tokio::test]
    async fn drain_finishes_queued_requests_then_refuses() {
        let model = Doubler::new(Duration::from_millis(20));
        let batcher = Arc::new(Batcher::start(
            "d",
            model.clone(),
            policy(1, 0, 100),
            2,
            Arc::new(Quiet),
        ));
        let calls: Vec<_> = (0..6)
            .map(|i| {
                let b = batcher.clone();
                tokio::spawn(async move { b.infer(row(&[i as f32])).await })
            })
            .collect();
        // Every caller has queued (or already been answered) before the drain starts.
        while batcher.queue_depth() + batcher.busy_workers() + model.batches.lock().unwrap().len()
            < 6
        {
            tokio::task::yield_now().await;
        }
        batcher.drain().await;
        assert_eq!(model.batches.lock().unwrap().len(), 6);
        assert!(matches!(
            batcher.infer(row(&[1.0])).await,
            Err(ServingError::Unavailable(_))
        ));
        for call in calls {
            assert!(call.await.unwrap().is_ok());
        }
    }

    #[tokio::test]
    async fn the_autoscaler_adds_replicas_under_load_and_retires_them_when_idle() {
        use crate::scaling::{next_replicas, IDLE_TICKS_BEFORE_SCALE_DOWN};
        let model = Doubler::new(Duration::from_millis(5));
        let batcher = Arc::new(Batcher::start(
            "d",
            model,
            policy(1, 0, 100),
            1,
            Arc::new(Quiet),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let callers: Vec<_> = (0..16)
            .map(|i| {
                let (b, stop) = (batcher.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let outputs = b.infer(row(&[i as f32])).await.unwrap();
                        assert_eq!(value(&outputs), vec![2.0 * i as f32]);
                    }
                })
            })
            .collect();
        // The service's loop, ticked by hand: one replica more per look while saturated.
        let tick = Duration::from_millis(100);
        let mut idle = 0;
        let mut looked = tokio::time::Instant::now();
        let mut tick_once = |batcher: &Batcher, idle: &mut u32| {
            let load = batcher.load_over(looked.elapsed());
            looked = tokio::time::Instant::now();
            let replicas;
            (replicas, *idle) = next_replicas(load, 1, 3, *idle);
            batcher.set_replicas(replicas);
            load
        };
        let mut looks = Vec::new();
        for _ in 0..50 {
            tokio::time::sleep(tick).await;
            looks.push(tick_once(&batcher, &mut idle));
            if batcher.replicas() == 3 {
                break;
            }
        }
        assert_eq!(batcher.replicas(), 3, "loads seen: {looks:?}");
        stop.store(true, Ordering::Relaxed);
        for caller in callers {
            caller.await.unwrap();
        }
        for _ in 0..3 * IDLE_TICKS_BEFORE_SCALE_DOWN {
            tokio::time::sleep(tick).await;
            tick_once(&batcher, &mut idle);
            if batcher.replicas() == 1 {
                break;
            }
        }
        assert_eq!(batcher.replicas(), 1, "idle, it went back to min");
    }

    #[tokio::test]
    async fn replicas_resize() {
        let batcher = Batcher::start(
            "d",
            Doubler::new(Duration::ZERO),
            policy(1, 0, 10),
            2,
            Arc::new(Quiet),
        );
        batcher.set_replicas(4);
        assert_eq!(batcher.replicas(), 4);
        batcher.set_replicas(1);
        assert_eq!(batcher.replicas(), 1);
        assert_eq!(value(&batcher.infer(row(&[2.0])).await.unwrap()), vec![4.0]);
    }
}
