//! Building SQL text with positional arguments, and turning sqlx errors into domain errors.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

use crate::Dialect;

/// A value bound to a `$N` placeholder.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    Float(f64),
    Text(String),
    OptInt(Option<i64>),
    OptText(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::Float(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(v.clone())
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::OptText(v)
    }
}
impl From<Option<&String>> for Arg {
    fn from(v: Option<&String>) -> Self {
        Arg::OptText(v.cloned())
    }
}

/// SQL text plus the arguments its placeholders refer to, in order.
#[derive(Debug, Default)]
pub struct Sql {
    pub text: String,
    args: Vec<Arg>,
    /// Whether [`Sql::arg`] hands out `?` instead of `$N`.
    positional: bool,
}

impl Sql {
    /// For text that numbers its own `$N` placeholders (short, fixed statements).
    pub fn new(text: impl Into<String>) -> Sql {
        Sql {
            text: text.into(),
            args: Vec::new(),
            positional: false,
        }
    }

    /// For statements built with [`Sql::arg`], in the placeholder form each backend binds fastest.
    /// SQLite resolves every named parameter with a linear scan, so binding `$N` costs time
    /// quadratic in the parameter count (a 400-row insert: 6.9 ms with `$N`, 0.5 ms with `?`).
    /// Positional `?` requires adding arguments in the order their placeholders appear in the text.
    pub fn built(dialect: Dialect, text: impl Into<String>) -> Sql {
        Sql {
            positional: dialect == Dialect::Sqlite,
            ..Sql::new(text)
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Adds an argument and returns its placeholder, for splicing into text being built.
    pub fn arg(&mut self, value: impl Into<Arg>) -> String {
        self.args.push(value.into());
        if self.positional {
            "?".to_string()
        } else {
            format!("${}", self.args.len())
        }
    }

    /// Appends `(ph, ph, ...)` for a list of values.
    pub fn push_list<T: Into<Arg> + Clone>(&mut self, values: &[T]) -> &mut Self {
        let placeholders: Vec<String> = values.iter().map(|v| self.arg(v.clone())).collect();
        self.text.push('(');
        self.text.push_str(&placeholders.join(", "));
        self.text.push(')');
        self
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut query = sqlx::query(&self.text);
        for arg in &self.args {
            query = match arg {
                Arg::Int(v) => query.bind(*v),
                Arg::Float(v) => query.bind(*v),
                Arg::Text(v) => query.bind(v.as_str()),
                Arg::OptInt(v) => query.bind(*v),
                Arg::OptText(v) => query.bind(v.as_deref()),
            };
        }
        query
    }
}

/// Builds a one-shot query from text and arguments.
macro_rules! sql {
    ($text:expr $(, $arg:expr)* $(,)?) => {{
        #[allow(unused_mut)]
        let mut sql = $crate::sql::Sql::new($text);
        $( sql.arg($arg); )*
        sql
    }};
}
pub(crate) use sql;

/// The store's SQLite builds cap bound variables at 32766; chunks keep `IN (...)` lists well under it.
pub const IN_LIST_CHUNK: usize = 500;
