//! The Redis online store: one string per entity and view at `{prefix}:{view}:{entity key}`
//! holding an encoded row (`codec`), written through a Lua script that keeps the superseding
//! row atomically, read with one MGET.

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, ErrorKind, RedisError, RetryMethod, Script, ServerErrorKind};
use async_trait::async_trait;
use galley_features::online::{OnlineRow, OnlineStore, OnlineStoreError, WriteCounts};
use galley_features::value::EntityKey;

use crate::codec;

/// Sets `KEYS[1]` to `ARGV[1]` unless the stored row supersedes it; returns 1 when set, 0 when
/// the new row is stale. Bytes 2..18 (Lua counts from 1) are `codec::ORDER_KEY`, compared byte
/// by byte: Lua numbers are doubles, which cannot hold nanosecond times exactly, and Lua's
/// string `<` follows the server's collation locale. A stored value of another format or
/// shorter than the order key is replaced, as `codec::supersedes` does.
const KEEP_SUPERSEDING: &str = r"
local new = ARGV[1]
local old = redis.call('GET', KEYS[1])
if old and #old >= 18 and string.byte(old, 1) == string.byte(new, 1) then
  for i = 2, 18 do
    local a, b = string.byte(new, i), string.byte(old, i)
    if a ~= b then
      if a < b then
        return 0
      end
      break
    end
  end
end
redis.call('SET', KEYS[1], new)
return 1
";

/// Rows sent in one pipeline: a materialization chunk travels in one round trip, and a larger
/// batch does not build one unbounded request.
const PIPELINE_ROWS: usize = 10_000;

/// Writes wait this long for a pipeline's answers; a full pipeline runs thousands of scripts.
/// Reads keep the client's default (500 ms) and a connection of their own, so they never queue
/// behind a materialization chunk on the same socket.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Reconnection attempts a read waits for (after the first): a read fails fast as unavailable
/// rather than wait seconds for Redis to come back, and the next read tries again. Writes keep
/// the client's patient default.
const READ_RECONNECT_RETRIES: usize = 1;

/// Keys scanned per SCAN call by `delete_view`.
const SCAN_COUNT: usize = 1000;

/// The Redis online store. Cloning shares the connections.
#[derive(Clone)]
pub struct RedisOnlineStore {
    reads: ConnectionManager,
    writes: ConnectionManager,
    script: Script,
    namespace: String,
}

impl RedisOnlineStore {
    /// Connects to `url` (`redis://[user:password@]host:port/db`); every key this store makes
    /// starts with `namespace_prefix` and a colon, so several deployments can share a database.
    /// The connections reconnect by themselves after Redis restarts.
    pub async fn connect(url: &str, namespace_prefix: &str) -> Result<Self, OnlineStoreError> {
        let client = Client::open(url).map_err(failure)?;
        let reads = client
            .get_connection_manager_with_config(
                ConnectionManagerConfig::new().set_number_of_retries(READ_RECONNECT_RETRIES),
            )
            .await
            .map_err(failure)?;
        let mut writes = client
            .get_connection_manager_with_config(
                ConnectionManagerConfig::new().set_response_timeout(Some(WRITE_TIMEOUT)),
            )
            .await
            .map_err(failure)?;
        let script = Script::new(KEEP_SUPERSEDING);
        script.load_async(&mut writes).await.map_err(failure)?;
        Ok(Self {
            reads,
            writes,
            script,
            namespace: namespace_prefix.to_owned(),
        })
    }

    async fn write_pipeline(
        &self,
        prefix: &[u8],
        rows: &[(EntityKey, OnlineRow)],
    ) -> Result<Vec<i64>, OnlineStoreError> {
        let mut pipe = ::redis::pipe();
        for (key, row) in rows {
            pipe.cmd("EVALSHA")
                .arg(self.script.get_hash())
                .arg(1)
                .arg(row_key(prefix, key))
                .arg(codec::encode(row));
        }
        let mut conn = self.writes.clone();
        match pipe.query_async(&mut conn).await {
            // The server lost its script cache (a restart, SCRIPT FLUSH): load it and send the
            // chunk again. Rows that did apply apply again as equals, which changes nothing.
            Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.script.load_async(&mut conn).await.map_err(failure)?;
                pipe.query_async(&mut conn).await.map_err(failure)
            }
            answer => answer.map_err(failure),
        }
    }
}

#[async_trait]
impl OnlineStore for RedisOnlineStore {
    async fn write(
        &self,
        view: &str,
        rows: Vec<(EntityKey, OnlineRow)>,
    ) -> Result<WriteCounts, OnlineStoreError> {
        let prefix = view_prefix(&self.namespace, view);
        let mut counts = WriteCounts::default();
        for chunk in rows.chunks(PIPELINE_ROWS) {
            let kept = self.write_pipeline(&prefix, chunk).await?;
            if kept.len() != chunk.len() {
                return Err(OnlineStoreError::Internal(format!(
                    "Redis answered {} of {} writes",
                    kept.len(),
                    chunk.len()
                )));
            }
            let written = kept.iter().filter(|&&k| k == 1).count() as u64;
            counts.written += written;
            counts.stale += chunk.len() as u64 - written;
        }
        Ok(counts)
    }

    async fn read(
        &self,
        view: &str,
        keys: &[EntityKey],
    ) -> Result<Vec<Option<OnlineRow>>, OnlineStoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let prefix = view_prefix(&self.namespace, view);
        let row_keys: Vec<Vec<u8>> = keys.iter().map(|key| row_key(&prefix, key)).collect();
        let stored: Vec<Option<Vec<u8>>> = ::redis::cmd("MGET")
            .arg(&row_keys)
            .query_async(&mut self.reads.clone())
            .await
            .map_err(failure)?;
        if stored.len() != keys.len() {
            return Err(OnlineStoreError::Internal(format!(
                "Redis answered {} of {} keys",
                stored.len(),
                keys.len()
            )));
        }
        stored
            .iter()
            .map(|value| value.as_deref().map(codec::decode).transpose())
            .collect()
    }

    /// Rows written while the scan runs may survive it; deleting a view is not expected to race
    /// its own materialization.
    async fn delete_view(&self, view: &str) -> Result<(), OnlineStoreError> {
        let mut pattern = glob_escape(&view_prefix(&self.namespace, view));
        pattern.push(b'*');
        let mut conn = self.writes.clone();
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(&mut conn)
                .await
                .map_err(failure)?;
            if !keys.is_empty() {
                ::redis::cmd("UNLINK")
                    .arg(&keys)
                    .exec_async(&mut conn)
                    .await
                    .map_err(failure)?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

/// `{namespace}:{view}:`, with the view's bytes outside `[A-Za-z0-9_.-]` percent-encoded so a
/// view's keys never start with another view's prefix (`a` and `a:b`) and the view is safe in a
/// SCAN pattern.
fn view_prefix(namespace: &str, view: &str) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(namespace.len() + view.len() + 2);
    prefix.extend_from_slice(namespace.as_bytes());
    prefix.push(b':');
    for byte in view.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-') {
            prefix.push(byte);
        } else {
            prefix.extend_from_slice(format!("%{byte:02X}").as_bytes());
        }
    }
    prefix.push(b':');
    prefix
}

fn row_key(prefix: &[u8], key: &EntityKey) -> Vec<u8> {
    [prefix, key.as_bytes()].concat()
}

/// `bytes` matched literally by a Redis glob pattern.
fn glob_escape(bytes: &[u8]) -> Vec<u8> {
    let mut escaped = Vec::with_capacity(bytes.len() + 4);
    for &byte in bytes {
        if matches!(byte, b'*' | b'?' | b'[' | b']' | b'\\') {
            escaped.push(b'\\');
        }
        escaped.push(byte);
    }
    escaped
}

/// Connection trouble and a busy or loading server may pass on retry; anything else will not.
fn failure(err: RedisError) -> OnlineStoreError {
    match err.retry_method() {
        RetryMethod::NoRetry => OnlineStoreError::Internal(format!("Redis: {err}")),
        _ => OnlineStoreError::Unavailable(format!("Redis: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_compares_the_codecs_order_key() {
        // Lua's 1-based `2, 18` and `#old >= 18` are this range.
        assert_eq!(codec::ORDER_KEY, 1..18);
        assert!(KEEP_SUPERSEDING.contains("for i = 2, 18 do"));
    }

    #[test]
    fn view_names_cannot_reach_into_other_views_or_the_pattern() {
        assert_eq!(
            view_prefix("galley", "drivers_v1.x-y"),
            b"galley:drivers_v1.x-y:"
        );
        assert_eq!(view_prefix("galley", "a:b"), b"galley:a%3Ab:");
        assert_eq!(view_prefix("g*", "a*"), b"g*:a%2A:");
        assert_eq!(view_prefix("", "\u{e9}"), b":%C3%A9:");
        assert_eq!(glob_escape(b"a*b?[c]\\"), b"a\\*b\\?\\[c\\]\\\\");
    }
}
