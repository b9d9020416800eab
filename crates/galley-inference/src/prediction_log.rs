//! The port answered requests leave serving through on their way to monitoring. Serving hands a
//! record over and moves on: a sink never blocks or fails a request.

use std::sync::Arc;

use crate::batcher::{Inputs, Outputs};

/// One answered request, as monitoring logs it.
#[derive(Debug, Clone)]
pub struct PredictionRecord {
    pub deployment: String,
    pub model: String,
    pub version: i64,
    /// The caller's id for the request (the V2 `id` or an `x-request-id` header), or one Galley
    /// made up; ground-truth labels refer to it.
    pub request_id: String,
    /// Milliseconds since the epoch when the request arrived.
    pub received_at: i64,
    pub latency_seconds: f64,
    pub inputs: Inputs,
    /// Shared with the answer being sent, not copied.
    pub outputs: Arc<Outputs>,
}

pub trait PredictionSink: Send + Sync + 'static {
    /// Takes `record` without waiting; a sink that cannot keep up drops it and counts the drop.
    fn offer(&self, record: PredictionRecord);
}
