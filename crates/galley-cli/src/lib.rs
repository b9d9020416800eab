//! The `galley` program as a library: the server's composition root and the client commands, so
//! black-box tests can start a real server in-process on port 0.

pub mod client;
pub mod monitor;
pub mod server;
pub mod sim;
