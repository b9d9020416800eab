//! The parsed form of MLflow's search grammar: what a filter or an order_by clause means, independent of SQL.

/// Which part of a run (or experiment) a comparison or ordering refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Metric,
    Param,
    Tag,
    /// A column of the run or experiment itself (run_id, status, start_time, name, ...).
    Attribute,
    /// A logged dataset input: key is `name`, `digest` or `context`.
    Dataset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparator {
    Eq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
}

impl Comparator {
    /// The comparator as the grammar spells it; SQL spells these the same way.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::NotEq => "!=",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
            Comparator::Like => "LIKE",
            Comparator::ILike => "ILIKE",
            Comparator::In => "IN",
            Comparator::NotIn => "NOT IN",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    String(String),
    List(Vec<String>),
}

/// One `<entity>.<key> <comparator> <value>` clause; a filter is the AND of these.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub kind: EntityKind,
    /// For attributes the canonical column name (`created` is already mapped to `start_time`,
    /// `run_name` aliases resolved); for the rest the key exactly as the user wrote it, unquoted.
    pub key: String,
    pub comparator: Comparator,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub kind: EntityKind,
    pub key: String,
    pub ascending: bool,
}
