//! The differences between SQLite and PostgreSQL that the shared SQL text must account for.

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn from_url(url: &str) -> Result<Dialect, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Dialect::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }

    /// Case-insensitive LIKE: PostgreSQL has ILIKE; SQLite (with case_sensitive_like on) compares lowercased text.
    pub fn ilike(self, column: &str, placeholder: &str) -> String {
        match self {
            Dialect::Sqlite => format!("lower({column}) LIKE lower({placeholder})"),
            Dialect::Postgres => format!("{column} ILIKE {placeholder}"),
        }
    }
}
