//! Acknowledged writes survive a crash: SIGKILL the real binary right after a write, restart it,
//! and read the write back.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(data_dir: &std::path::Path, port: u16) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_galley"))
        .args(["server", "--port", &port.to_string(), "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let process = Process(child);
    let health = format!("http://127.0.0.1:{port}/health");
    for _ in 0..200 {
        if reqwest::get(&health)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return process;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not become healthy");
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/api/2.0/mlflow");
    let http = reqwest::Client::new();
    let run_id = {
        let mut server = start(dir.path(), port).await;
        let created: serde_json::Value = http
            .post(format!("{base}/runs/create"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let run_id = created["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let logged = http
            .post(format!("{base}/runs/log-metric"))
            .json(&json!({ "run_id": run_id, "key": "acc", "value": 0.75, "timestamp": 1 }))
            .send()
            .await
            .unwrap();
        assert_eq!(logged.status(), 200);
        server.0.kill().unwrap();
        server.0.wait().unwrap();
        run_id
    };
    let _server = start(dir.path(), port).await;
    let run: serde_json::Value = http
        .get(format!("{base}/runs/get"))
        .query(&[("run_id", &run_id)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["run"]["data"]["metrics"][0]["value"], 0.75, "{run}");
}
