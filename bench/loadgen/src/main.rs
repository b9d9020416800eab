//! `galley-loadgen`: offers a fixed rate of identical POSTs (open loop) and reports what came back.
//!
//! wrk drives closed loops only: a slow answer delays the next request, so an overloaded server
//! is offered less than the nominal rate. Here request `i` is due at `start + i / rate` whatever
//! happened before, and its latency counts from when it was dispatched, so time spent waiting for
//! a free connection is charged to the server (no coordinated omission). Dispatch follows the due
//! time within the timer's millisecond; that lag is the generator's own and is reported apart
//! (`dispatch_lag_ms`), not charged to the server. One thread: at the rates the benches offer it
//! leaves the other core to the server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::time::Instant;

#[derive(Parser)]
#[command(about = "Open-loop HTTP POST load at a fixed rate; prints a JSON summary")]
struct Args {
    /// Where to POST.
    #[arg(long)]
    url: String,
    /// The request body, sent as `application/json`.
    #[arg(long)]
    body: PathBuf,
    /// The body every 200 answer must have, byte for byte; others are counted as wrong.
    #[arg(long)]
    expect_body: Option<PathBuf>,
    /// Requests per second offered.
    #[arg(long)]
    rate: f64,
    /// How long to offer them.
    #[arg(long)]
    seconds: f64,
    /// Most requests in flight (and so connections); a due request waits for one.
    #[arg(long, default_value_t = 256)]
    connections: usize,
    /// A request unanswered after this long counts as a transport error.
    #[arg(long, default_value_t = 30.0)]
    timeout_seconds: f64,
}

/// What became of one request: its HTTP status (None: no answer), whether a 200's body differed
/// from the expected one, microseconds from its dispatch to its last byte, and from its due time
/// to its dispatch.
struct Outcome {
    status: Option<u16>,
    wrong: bool,
    micros: u64,
    lag_micros: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.rate > 0.0 && args.seconds > 0.0,
        "--rate and --seconds must be positive"
    );
    let body = std::fs::read(&args.body).with_context(|| format!("reading {:?}", args.body))?;
    let expected = match &args.expect_body {
        Some(path) => Some(std::fs::read(path).with_context(|| format!("reading {path:?}"))?),
        None => None,
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs_f64(args.timeout_seconds))
        .build()?;
    let request = Arc::new(Request {
        client,
        url: args.url,
        body: body.into(),
        expected,
    });
    let slots = Arc::new(Semaphore::new(args.connections.max(1)));

    let total = (args.rate * args.seconds).round() as u64;
    let start = Instant::now() + Duration::from_millis(50);
    let mut pending = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / args.rate);
        tokio::time::sleep_until(due).await;
        let dispatched = Instant::now();
        let (request, slots) = (request.clone(), slots.clone());
        pending.push(tokio::spawn(async move {
            let mut outcome = request.send(dispatched, &slots).await;
            outcome.lag_micros = micros(dispatched - due);
            outcome
        }));
    }
    let offered_seconds = start.elapsed().as_secs_f64();
    let mut outcomes = Vec::with_capacity(pending.len());
    for task in pending {
        outcomes.push(task.await?);
    }
    println!("{}", summary(&outcomes, offered_seconds));
    Ok(())
}

struct Request {
    client: reqwest::Client,
    url: String,
    body: bytes::Bytes,
    expected: Option<Vec<u8>>,
}

impl Request {
    async fn send(&self, dispatched: Instant, slots: &Semaphore) -> Outcome {
        let _slot = slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let answer = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(self.body.clone())
            .send()
            .await;
        let (status, wrong) = match answer {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(bytes) => {
                        let wrong = status == 200
                            && self.expected.as_ref().is_some_and(|e| e[..] != bytes[..]);
                        (Some(status), wrong)
                    }
                    Err(_) => (None, false),
                }
            }
            Err(_) => (None, false),
        };
        Outcome {
            status,
            wrong,
            micros: micros(dispatched.elapsed()),
            lag_micros: 0,
        }
    }
}

/// Counts by status and latency percentiles (ms) of the 200s and of the rest that were answered.
fn summary(outcomes: &[Outcome], offered_seconds: f64) -> serde_json::Value {
    let mut statuses = std::collections::BTreeMap::<String, u64>::new();
    let (mut served, mut refused) = (Vec::new(), Vec::new());
    let mut lags: Vec<u64> = outcomes.iter().map(|o| o.lag_micros).collect();
    let mut transport_errors = 0u64;
    let mut wrong = 0u64;
    for o in outcomes {
        match o.status {
            Some(status) => {
                *statuses.entry(status.to_string()).or_default() += 1;
                if status == 200 {
                    &mut served
                } else {
                    &mut refused
                }
                .push(o.micros);
            }
            None => transport_errors += 1,
        }
        wrong += u64::from(o.wrong);
    }
    json!({
        "requests": outcomes.len(),
        "offered_seconds": offered_seconds,
        "offered_rps": outcomes.len() as f64 / offered_seconds,
        "statuses": statuses,
        "transport_errors": transport_errors,
        "wrong_bodies": wrong,
        "served_ms": percentiles(&mut served),
        "refused_ms": percentiles(&mut refused),
        "dispatch_lag_ms": percentiles(&mut lags),
    })
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn percentiles(micros: &mut [u64]) -> serde_json::Value {
    if micros.is_empty() {
        return serde_json::Value::Null;
    }
    micros.sort_unstable();
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    json!({ "p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": at(1.0) })
}
