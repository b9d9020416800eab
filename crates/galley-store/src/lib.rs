//! The metadata store: one SQL implementation of every domain's store port, run on SQLite (the
//! embedded default) or PostgreSQL through sqlx's `Any` driver, with per-backend migrations.
//!
//! SQL text is shared between backends (`$N` placeholders work on both); the few differences live
//! in [`Dialect`].

mod compute;
mod deployments;
mod dialect;
mod features;
mod filter;
mod leases;
mod monitoring;
mod registry;
mod sql;
mod tracking;

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions as _, Executor as _};

pub use dialect::Dialect;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("cannot connect to the metadata database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot migrate the metadata database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// How the SQLite database trades speed for durability. `Full` fsyncs the WAL on every commit,
/// so an acknowledged write survives power loss, not only a process crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    #[default]
    Full,
    Normal,
}

/// The SQL store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqlStore {
    /// SQLite allows one writer at a time, so writes go through a single connection instead of
    /// racing for the lock; on PostgreSQL both pools are the same.
    writer: AnyPool,
    reader: AnyPool,
    dialect: Dialect,
}

impl SqlStore {
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`) and applies pending migrations.
    pub async fn connect(url: &str, sqlite_sync: SqliteSync) -> Result<SqlStore, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::from_url(url)?;
        let store = match dialect {
            Dialect::Sqlite => {
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                let pragmas = format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; \
                     PRAGMA busy_timeout = 10000; PRAGMA case_sensitive_like = ON;",
                    match sqlite_sync {
                        SqliteSync::Full => "FULL",
                        SqliteSync::Normal => "NORMAL",
                    }
                );
                let writer = sqlite_pool(&url, 1, pragmas.clone()).await?;
                // Creating the schema before the readers open avoids them seeing an empty file.
                let store = SqlStore {
                    writer: writer.clone(),
                    reader: writer,
                    dialect,
                };
                store.migrate().await?;
                let readers = std::thread::available_parallelism().map_or(4, |n| n.get() * 2);
                SqlStore {
                    reader: sqlite_pool(&url, readers as u32, pragmas).await?,
                    ..store
                }
            }
            Dialect::Postgres => {
                let options = AnyConnectOptions::from_str(url)
                    .map_err(StoreError::Connect)?
                    .log_statements(tracing::log::LevelFilter::Trace);
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .map_err(StoreError::Connect)?;
                let store = SqlStore {
                    writer: pool.clone(),
                    reader: pool,
                    dialect,
                };
                store.migrate().await?;
                store
            }
        };
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.dialect {
            Dialect::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.writer)
                    .await?
            }
            Dialect::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.writer)
                    .await?
            }
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Answers whether the database is reachable, for readiness probes.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.reader).await.is_ok()
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

async fn sqlite_pool(url: &str, size: u32, pragmas: String) -> Result<AnyPool, StoreError> {
    let options = AnyConnectOptions::from_str(url)
        .map_err(StoreError::Connect)?
        .log_statements(tracing::log::LevelFilter::Trace);
    AnyPoolOptions::new()
        .max_connections(size)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| {
            let pragmas = pragmas.clone();
            Box::pin(async move {
                conn.execute(pragmas.as_str()).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(StoreError::Connect)
}
