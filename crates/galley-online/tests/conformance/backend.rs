//! Fresh, isolated stores for each case: a redb file in a temp folder, or a Redis key prefix of
//! the case's own that is deleted when the case ends (also when it fails).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use galley_features::online::OnlineStore;
use galley_online::{EmbeddedOnlineStore, RedisOnlineStore};

pub struct Backend {
    store: Option<Arc<dyn OnlineStore>>,
    kind: Kind,
}

enum Kind {
    Embedded {
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
    Redis {
        url: String,
        prefix: String,
    },
}

impl Backend {
    pub async fn embedded() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("online").join("features.redb");
        let store = EmbeddedOnlineStore::open(&path).await.unwrap();
        Backend {
            store: Some(Arc::new(store)),
            kind: Kind::Embedded { path, _dir: dir },
        }
    }

    pub async fn redis(case: &str) -> Option<Backend> {
        let Ok(url) = std::env::var("GALLEY_TEST_REDIS_URL") else {
            // Straight to stderr: the test harness captures `eprintln!` of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: Redis online store case {case} (GALLEY_TEST_REDIS_URL is not set)"
            );
            return None;
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let prefix = format!("galley-test:{case}:{}:{nanos}", std::process::id());
        let store = RedisOnlineStore::connect(&url, &prefix).await.unwrap();
        Some(Backend {
            store: Some(Arc::new(store)),
            kind: Kind::Redis { url, prefix },
        })
    }

    pub fn store(&self) -> Arc<dyn OnlineStore> {
        self.store.clone().expect("the store is open")
    }

    /// Closes the store and opens it again on the same file or key prefix.
    pub async fn reopen(&mut self) {
        let store = self.store.take().expect("the store is open");
        assert_eq!(
            Arc::strong_count(&store),
            1,
            "a case still holds the store it reopens"
        );
        drop(store);
        let reopened: Arc<dyn OnlineStore> = match &self.kind {
            Kind::Embedded { path, .. } => Arc::new(EmbeddedOnlineStore::open(path).await.unwrap()),
            Kind::Redis { url, prefix } => {
                Arc::new(RedisOnlineStore::connect(url, prefix).await.unwrap())
            }
        };
        self.store = Some(reopened);
    }
}

impl Backend {
    /// Makes Redis forget its loaded scripts, as a restart does.
    pub fn flush_redis_scripts(&self) {
        let Kind::Redis { url, .. } = &self.kind else {
            panic!("not a Redis backend");
        };
        let mut conn = redis::Client::open(url.as_str())
            .and_then(|client| client.get_connection())
            .unwrap();
        redis::cmd("SCRIPT").arg("FLUSH").exec(&mut conn).unwrap();
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Kind::Redis { url, prefix } = &self.kind {
            // Reported, not raised: a panic while the case is already failing would abort.
            if let Err(err) = delete_keys(url, prefix) {
                eprintln!("could not delete the Redis keys under {prefix}: {err}");
            }
        }
    }
}

/// Deletes every key under `prefix` over a blocking connection, since drop cannot await.
fn delete_keys(url: &str, prefix: &str) -> redis::RedisResult<()> {
    let mut conn = redis::Client::open(url)?.get_connection()?;
    let pattern = format!("{prefix}:*");
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query(&mut conn)?;
        if !keys.is_empty() {
            redis::cmd("UNLINK").arg(&keys).exec(&mut conn)?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}
