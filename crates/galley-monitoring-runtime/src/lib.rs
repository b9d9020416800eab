//! The monitoring runtime: serving's sampled requests written to Parquet in the artifact store
//! (`prediction_writer`, `columns`), reference profiles of model versions (`reference`,
//! `profiling`), the evaluation of a deployment's window against its reference and labels
//! (`window_data`, `labels`, `service`), alert rules firing webhooks (`webhooks`), drift reports
//! as HTML pages (`html`), and the same drift statistics offline for two files
//! (`offline`). Knows nothing about HTTP or SQL.

pub mod columns;
pub mod html;
mod labels;
pub mod offline;
pub mod prediction_writer;
mod profiling;
pub mod reference;
pub mod service;
pub mod webhooks;
mod window_data;

pub use labels::Performance;
pub use prediction_writer::{PredictionLog, PredictionWriter, WriterSettings};
pub use service::{Evaluation, MonitoringService, ReferenceData};
pub use webhooks::DeliverySettings;
