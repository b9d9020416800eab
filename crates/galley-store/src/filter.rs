//! Turning parsed search comparisons into SQL predicates, shared by every searchable domain.

use galley_tracking::search::ast::{Comparator, Comparison, Value};

use crate::sql::Sql;
use crate::Dialect;

/// A comparison the parser let through but SQL cannot express; each domain reports it as its
/// own invalid-parameter error.
#[derive(Debug)]
pub(crate) struct InvalidFilter(pub String);

impl From<InvalidFilter> for galley_tracking::TrackingError {
    fn from(e: InvalidFilter) -> Self {
        galley_tracking::TrackingError::InvalidParameter(e.0)
    }
}

impl From<InvalidFilter> for galley_registry::RegistryError {
    fn from(e: InvalidFilter) -> Self {
        galley_registry::RegistryError::InvalidParameter(e.0)
    }
}

/// `column <op> value`, with the value bound.
pub(crate) fn predicate(
    sql: &mut Sql,
    dialect: Dialect,
    column: &str,
    comparison: &Comparison,
) -> Result<String, InvalidFilter> {
    let op = comparison.comparator.symbol();
    match (&comparison.value, comparison.comparator) {
        (Value::List(items), Comparator::In | Comparator::NotIn) => {
            if items.is_empty() {
                return Err(InvalidFilter(format!(
                    "The IN list for '{}' must not be empty",
                    comparison.key
                )));
            }
            let placeholders: Vec<String> = items.iter().map(|v| sql.arg(v)).collect();
            Ok(format!("{column} {op} ({})", placeholders.join(", ")))
        }
        (Value::String(s), Comparator::ILike) => {
            let placeholder = sql.arg(s);
            Ok(dialect.ilike(column, &placeholder))
        }
        (Value::String(s), _) => Ok(format!("{column} {op} {}", sql.arg(s))),
        (Value::Number(n), _) => Ok(format!("{column} {op} {}", sql.arg(*n))),
        (Value::List(_), _) => Err(InvalidFilter(format!(
            "A list value is only valid with IN or NOT IN (key '{}')",
            comparison.key
        ))),
    }
}

pub(crate) fn direction(ascending: bool) -> &'static str {
    if ascending {
        "ASC"
    } else {
        "DESC"
    }
}
