//! Black-box tests: a real server on port 0 with a temp data dir, driven over HTTP and through
//! the `galley` binary. All API tests live in this one test binary.

mod app;
mod cli;
mod durability;
mod errors;
mod features;
mod jobs;
mod monitoring;
mod observability;
mod registry;
mod s3;
mod serving;
