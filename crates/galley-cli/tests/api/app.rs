//! `spawn_app`: a fresh server on an ephemeral port, shut down when the handle drops;
//! `spawn_app_with` adjusts its configuration first.

use galley_cli::server::{Server, ServerConfig};
use galley_monitoring_runtime::{DeliverySettings, WriterSettings};
use galley_store::SqliteSync;
use serde_json::Value;

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The configuration tests start servers with: SQLite in `data_dir`, quick flushes and rounds.
pub fn test_config(data_dir: &std::path::Path) -> ServerConfig {
    ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        data_dir: data_dir.to_path_buf(),
        database_url: None,
        artifact_root: None,
        sqlite_sync: SqliteSync::Normal,
        prediction_log: WriterSettings {
            flush_interval: std::time::Duration::from_millis(200),
            ..WriterSettings::default()
        },
        evaluation_interval: None,
        alert_delivery: DeliverySettings {
            first_backoff: std::time::Duration::from_millis(50),
            ..DeliverySettings::default()
        },
        scheduler_interval: std::time::Duration::from_millis(100),
        ray_address: None,
        kubernetes: None,
        online_store: None,
        materialize_interval: None,
    }
}

/// Starts a server; it stops when the returned sender is dropped.
pub async fn start(config: &ServerConfig) -> (String, tokio::sync::oneshot::Sender<()>) {
    try_start(config).await.unwrap()
}

async fn try_start(
    config: &ServerConfig,
) -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    let server = Server::build(config).await?;
    let address = server.local_addr()?;
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Ok((format!("http://{address}"), shutdown))
}

/// `spawn_app` with the configuration adjusted first, e.g. another artifact root.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut ServerConfig)) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = test_config(data_dir.path());
    tweak(&mut config);
    let (base, shutdown) = start(&config).await;
    TestApp {
        base,
        http: reqwest::Client::new(),
        data_dir,
        _shutdown: shutdown,
    }
}

impl TestApp {
    /// Stops this server and starts another on the same data dir: what a restart finds. The
    /// new one starts once the old one has let go of the data dir (the embedded online store
    /// admits one server at a time).
    pub async fn restart(self) -> TestApp {
        let TestApp {
            http,
            data_dir,
            _shutdown,
            ..
        } = self;
        drop(_shutdown);
        let config = test_config(data_dir.path());
        for _ in 0..50 {
            if let Ok((base, shutdown)) = try_start(&config).await {
                return TestApp {
                    base,
                    http,
                    data_dir,
                    _shutdown: shutdown,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the restarted server could not open the data dir");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs raw text to an MLflow endpoint and returns status and JSON body.
    pub async fn post_raw(&self, endpoint: &str, body: &str) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(&format!("/api/2.0/mlflow/{endpoint}")))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, endpoint: &str, body: Value) -> (u16, Value) {
        self.post_raw(endpoint, &body.to_string()).await
    }

    /// Sends `body` (JSON, when given) with `method` to any path on the server.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sends a JSON body with any method (MLflow's PATCH and DELETE endpoints take bodies).
    pub async fn send(&self, method: &str, endpoint: &str, body: Value) -> (u16, Value) {
        self.call(method, &format!("/api/2.0/mlflow/{endpoint}"), Some(&body))
            .await
    }

    pub async fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(&format!("/api/2.0/mlflow/{endpoint}")))
            .query(query)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn create_run(&self) -> String {
        let (status, body) = self.post("runs/create", serde_json::json!({})).await;
        assert_eq!(status, 200, "{body}");
        body["run"]["info"]["run_id"].as_str().unwrap().to_string()
    }
}
