//! Online feature stores behind galley-features' `OnlineStore` port: `EmbeddedOnlineStore` (a
//! redb file in the data dir, the default) and `RedisOnlineStore`. Both store a row as the bytes
//! `codec` makes and keep a row only if it supersedes the stored one, inside the write itself.

mod codec;
mod embedded;
mod redis;

pub use crate::embedded::EmbeddedOnlineStore;
pub use crate::redis::RedisOnlineStore;
