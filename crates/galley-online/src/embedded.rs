//! The embedded online store: one redb file in the server's data dir, a table per feature view
//! keyed by the entity key's bytes, each value an encoded row (`codec`).

use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use galley_features::online::{OnlineRow, OnlineStore, OnlineStoreError, WriteCounts};
use galley_features::value::EntityKey;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableError};

use crate::codec;

/// Reads of at most this many keys run on the calling task. Such a read is a few B-tree lookups
/// in redb's page cache, a few microseconds, which is less than handing it to the blocking
/// pool and waking up again costs (the read benchmark, one key: p50 5 us and p99 7 us inline,
/// 18 us and 51 us through the pool). Larger reads, like writes, go to the blocking pool so a
/// worker thread never stalls for long.
const INLINE_READ_KEYS: usize = 16;

/// The embedded online store. Cloning shares the open database.
#[derive(Clone)]
pub struct EmbeddedOnlineStore {
    db: Arc<Database>,
}

impl EmbeddedOnlineStore {
    /// Opens the store at `path`, creating the file (and its folder) when missing. After a crash
    /// the open repairs the file; quick-repair commits keep that short.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, OnlineStoreError> {
        let path = path.as_ref().to_path_buf();
        blocking(move || {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(internal)?;
            }
            let db = Database::create(&path).map_err(|err| {
                OnlineStoreError::Internal(format!("cannot open {}: {err}", path.display()))
            })?;
            Ok(Self { db: Arc::new(db) })
        })
        .await
    }
}

#[async_trait]
impl OnlineStore for EmbeddedOnlineStore {
    async fn write(
        &self,
        view: &str,
        rows: Vec<(EntityKey, OnlineRow)>,
    ) -> Result<WriteCounts, OnlineStoreError> {
        if rows.is_empty() {
            return Ok(WriteCounts::default());
        }
        let db = self.db.clone();
        let table = table_name(view);
        blocking(move || write_rows(&db, &table, rows)).await
    }

    async fn read(
        &self,
        view: &str,
        keys: &[EntityKey],
    ) -> Result<Vec<Option<OnlineRow>>, OnlineStoreError> {
        if keys.len() <= INLINE_READ_KEYS {
            return read_rows(&self.db, &table_name(view), keys);
        }
        let db = self.db.clone();
        let table = table_name(view);
        let keys = keys.to_vec();
        blocking(move || read_rows(&db, &table, &keys)).await
    }

    async fn delete_view(&self, view: &str) -> Result<(), OnlineStoreError> {
        let db = self.db.clone();
        let table = table_name(view);
        blocking(move || {
            let txn = begin_write(&db)?;
            txn.delete_table(definition(&table)).map_err(internal)?;
            txn.commit().map_err(internal)
        })
        .await
    }
}

fn write_rows(
    db: &Database,
    table: &str,
    rows: Vec<(EntityKey, OnlineRow)>,
) -> Result<WriteCounts, OnlineStoreError> {
    let mut encoded: Vec<(EntityKey, Vec<u8>)> = rows
        .into_iter()
        .map(|(key, row)| {
            let bytes = codec::encode(&row);
            (key, bytes)
        })
        .collect();
    // In key order the B-tree is walked from left to right instead of at random; the sort is
    // stable, so repeats of an entity keep their order in the batch.
    encoded.sort_by(|a, b| a.0.cmp(&b.0));
    let txn = begin_write(db)?;
    let mut counts = WriteCounts::default();
    {
        let mut table = txn.open_table(definition(table)).map_err(internal)?;
        for (key, row) in &encoded {
            let keep = match table.get(key.as_bytes()).map_err(internal)? {
                Some(stored) => codec::supersedes(row, stored.value()),
                None => true,
            };
            if keep {
                table
                    .insert(key.as_bytes(), row.as_slice())
                    .map_err(internal)?;
                counts.written += 1;
            } else {
                counts.stale += 1;
            }
        }
    }
    txn.commit().map_err(internal)?;
    Ok(counts)
}

fn read_rows(
    db: &Database,
    table: &str,
    keys: &[EntityKey],
) -> Result<Vec<Option<OnlineRow>>, OnlineStoreError> {
    let txn = db.begin_read().map_err(internal)?;
    let table = match txn.open_table(definition(table)) {
        Ok(table) => table,
        Err(TableError::TableDoesNotExist(_)) => return Ok(vec![None; keys.len()]),
        Err(err) => return Err(internal(err)),
    };
    keys.iter()
        .map(|key| match table.get(key.as_bytes()).map_err(internal)? {
            Some(stored) => codec::decode(stored.value()).map(Some),
            None => Ok(None),
        })
        .collect()
}

/// A write transaction whose commit is durable (redb's default, an fsync) and records the
/// allocator state, so reopening after a crash does not walk the whole file to rebuild it.
fn begin_write(db: &Database) -> Result<redb::WriteTransaction, OnlineStoreError> {
    let mut txn = db.begin_write().map_err(internal)?;
    txn.set_quick_repair(true);
    Ok(txn)
}

fn table_name(view: &str) -> String {
    format!("view/{view}")
}

fn definition(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, OnlineStoreError> + Send + 'static,
) -> Result<T, OnlineStoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| OnlineStoreError::Internal(format!("online store task failed: {err}")))?
}

fn internal(err: impl Display) -> OnlineStoreError {
    OnlineStoreError::Internal(err.to_string())
}
