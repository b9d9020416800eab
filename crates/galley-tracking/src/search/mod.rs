//! Owns MLflow's search grammar: parsing the filter and order_by of runs and experiments search.
//!
//! Parsing happens in three steps: `lexer` turns text into tokens, `parser` checks the
//! shape (`name comparator value AND ...`), and `rules` applies what MLflow allows for each
//! kind of name on each endpoint. Every failure becomes a [`SearchError`] whose message can be
//! shown to the user as is.

pub mod ast;
mod lexer;
mod parser;
#[cfg(test)]
mod proptests;
mod rules;

pub use ast::{Comparator, Comparison, EntityKind, OrderBy, Value};

use rules::Target;

/// Why a filter or order_by clause was refused. The messages are meant for the user, and the
/// HTTP layer sends them as MLflow `INVALID_PARAMETER_VALUE` errors. Positions in a `reason`
/// count characters from 0.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SearchError {
    #[error("Invalid filter '{}': {reason}", shorten(filter))]
    InvalidFilter { filter: String, reason: String },
    #[error("Invalid order_by clause '{}': {reason}", shorten(clause))]
    InvalidOrderBy { clause: String, reason: String },
}

/// Keeps an error message readable when someone sends a very long filter.
fn shorten(text: &str) -> String {
    const LIMIT: usize = 300;
    if text.chars().count() <= LIMIT {
        text.to_string()
    } else {
        let head: String = text.chars().take(LIMIT).collect();
        format!("{head}...")
    }
}

/// Parses a `runs/search` filter. An empty or all-whitespace filter matches every run.
pub fn parse_run_filter(filter: &str) -> Result<Vec<Comparison>, SearchError> {
    parse_filter(Target::Runs, filter)
}

/// Parses one `runs/search` order_by entry, such as `metrics.acc DESC`.
pub fn parse_run_order_by(clause: &str) -> Result<OrderBy, SearchError> {
    parse_order_by(Target::Runs, clause)
}

/// Parses an `experiments/search` filter. An empty or all-whitespace filter matches everything.
pub fn parse_experiment_filter(filter: &str) -> Result<Vec<Comparison>, SearchError> {
    parse_filter(Target::Experiments, filter)
}

/// Parses one `experiments/search` order_by entry, such as `last_update_time DESC`.
pub fn parse_experiment_order_by(clause: &str) -> Result<OrderBy, SearchError> {
    parse_order_by(Target::Experiments, clause)
}

/// Parses a `logged-models/search` filter, such as `source_run_id = 'abc' AND metrics.acc > 0.9`.
pub fn parse_logged_model_filter(filter: &str) -> Result<Vec<Comparison>, SearchError> {
    parse_filter(Target::LoggedModels, filter)
}

/// Parses a `registered-models/search` filter, such as `name LIKE 'fraud%' AND tags.team = 'risk'`.
pub fn parse_registered_model_filter(filter: &str) -> Result<Vec<Comparison>, SearchError> {
    parse_filter(Target::RegisteredModels, filter)
}

/// Parses one `registered-models/search` order_by entry, such as `name ASC`.
pub fn parse_registered_model_order_by(clause: &str) -> Result<OrderBy, SearchError> {
    parse_order_by(Target::RegisteredModels, clause)
}

/// Parses a `model-versions/search` filter, such as `name = 'fraud' AND run_id IN ('a', 'b')`.
pub fn parse_model_version_filter(filter: &str) -> Result<Vec<Comparison>, SearchError> {
    parse_filter(Target::ModelVersions, filter)
}

/// Parses one `model-versions/search` order_by entry, such as `version_number DESC`.
pub fn parse_model_version_order_by(clause: &str) -> Result<OrderBy, SearchError> {
    parse_order_by(Target::ModelVersions, clause)
}

fn parse_filter(target: Target, filter: &str) -> Result<Vec<Comparison>, SearchError> {
    let invalid = |reason| SearchError::InvalidFilter {
        filter: filter.to_string(),
        reason,
    };
    parser::parse_filter(filter)
        .map_err(invalid)?
        .into_iter()
        .map(|raw| rules::resolve_comparison(target, raw).map_err(invalid))
        .collect()
}

fn parse_order_by(target: Target, clause: &str) -> Result<OrderBy, SearchError> {
    let invalid = |reason| SearchError::InvalidOrderBy {
        clause: clause.to_string(),
        reason,
    };
    let raw = parser::parse_order_by(clause).map_err(invalid)?;
    rules::resolve_order_by(target, raw).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::rules::symbol;
    use super::*;

    /// A compact picture of a filter's AST: `Kind key OP value` joined by ` & `, with strings
    /// and lists in Rust debug form so their contents are unambiguous.
    fn show_filter(comparisons: Vec<Comparison>) -> String {
        let show_one = |c: Comparison| {
            let value = match c.value {
                Value::Number(n) => n.to_string(),
                Value::String(s) => format!("{s:?}"),
                Value::List(items) => format!("{items:?}"),
            };
            format!("{:?} {} {} {value}", c.kind, c.key, symbol(c.comparator))
        };
        comparisons
            .into_iter()
            .map(show_one)
            .collect::<Vec<_>>()
            .join(" & ")
    }

    fn show_order_by(order: OrderBy) -> String {
        let direction = if order.ascending { "ASC" } else { "DESC" };
        format!("{:?} {} {direction}", order.kind, order.key)
    }

    /// Parses `input`; `want` is the result as `show` draws it, or a phrase of the message.
    fn check<T: std::fmt::Debug>(
        parse: fn(&str) -> Result<T, SearchError>,
        show: fn(T) -> String,
        input: &str,
        want: Result<&str, &str>,
    ) {
        match (parse(input), want) {
            (Ok(got), Ok(want)) => assert_eq!(show(got), want, "parse of {input:?}"),
            (Err(got), Err(want)) => {
                let message = got.to_string();
                assert!(
                    message.contains(want),
                    "{input:?}: {message:?} lacks {want:?}"
                )
            }
            (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn logged_model_filters() {
        let cases = [
            (
                "source_run_id = 'abc' AND name = 'model'",
                Ok("Attribute source_run_id = \"abc\" & Attribute name = \"model\""),
            ),
            ("metrics.acc >= 0.5", Ok("Metric acc >= 0.5")),
            ("creation_time > 5", Ok("Attribute creation_timestamp > 5")),
            ("model_id IN ('m-1')", Ok("Attribute model_id IN [\"m-1\"]")),
            ("params.C = '1'", Ok("Param C = \"1\"")),
            (
                "run_name = 'x'",
                Err("unknown logged model attribute 'run_name'"),
            ),
            ("datasets.name = 'x'", Err("cannot be filtered by dataset")),
            ("name > 3", Err("does not support >")),
        ];
        for (input, want) in cases {
            check(parse_logged_model_filter, show_filter, input, want);
        }
    }

    #[test]
    fn registry_filters_and_order_by() {
        let models = [
            (
                "name LIKE 'fr%' AND tags.team = 'risk'",
                Ok("Attribute name LIKE \"fr%\" & Tag team = \"risk\""),
            ),
            ("run_id = 'x'", Err("the valid attribute is name")),
        ];
        for (input, want) in models {
            check(parse_registered_model_filter, show_filter, input, want);
        }
        let versions = [
            (
                "name = 'm' AND run_id IN ('a', 'b')",
                Ok("Attribute name = \"m\" & Attribute run_id IN [\"a\", \"b\"]"),
            ),
            ("version_number >= 2", Ok("Attribute version_number >= 2")),
            ("tag.stage = 'x'", Ok("Tag stage = \"x\"")),
            ("metrics.acc > 1", Err("unknown entity type 'metrics'")),
        ];
        for (input, want) in versions {
            check(parse_model_version_filter, show_filter, input, want);
        }
        check(
            parse_registered_model_order_by,
            show_order_by,
            "timestamp DESC",
            Ok("Attribute last_updated_timestamp DESC"),
        );
        check(
            parse_model_version_order_by,
            show_order_by,
            "version_number",
            Ok("Attribute version_number ASC"),
        );
        check(
            parse_model_version_order_by,
            show_order_by,
            "metrics.acc",
            Err("cannot order by 'acc'"),
        );
    }

    #[test]
    fn accepted_run_filters() {
        let cases = [
            ("", ""),
            (" \n\t ", ""),
            ("metrics.acc > 0.9", "Metric acc > 0.9"),
            ("metric.acc >= 1e-3", "Metric acc >= 0.001"),
            ("metrics.loss < -2", "Metric loss < -2"),
            ("metrics.`f1-score` != 0", "Metric f1-score != 0"),
            ("metrics.\"my metric\" = 1.5", "Metric my metric = 1.5"),
            ("params.model.lr = '0.01'", "Param model.lr = \"0.01\""),
            ("parameters.opt LIKE 'ad%'", "Param opt LIKE \"ad%\""),
            ("param.opt ILIKE \"AD%\"", "Param opt ILIKE \"AD%\""),
            (
                "tags.`mlflow.source.name` = 'a.py'",
                "Tag mlflow.source.name = \"a.py\"",
            ),
            ("tag.note = 'it''s'", "Tag note = \"it's\""),
            ("tag.note = \"it's\"", "Tag note = \"it's\""),
            ("status = 'FINISHED'", "Attribute status = \"FINISHED\""),
            (
                "attributes.status != 'FAILED'",
                "Attribute status != \"FAILED\"",
            ),
            ("attr.user_id LIKE 'a%'", "Attribute user_id LIKE \"a%\""),
            (
                "run.artifact_uri ILIKE 's3:%'",
                "Attribute artifact_uri ILIKE \"s3:%\"",
            ),
            ("attributes.run_name = 'x'", "Attribute run_name = \"x\""),
            ("attributes.`run name` = 'x'", "Attribute run_name = \"x\""),
            ("`Run Name` = 'x'", "Attribute run_name = \"x\""),
            ("\"Run name\" = 'x'", "Attribute run_name = \"x\""),
            (
                "created > 1700000000000",
                "Attribute start_time > 1700000000000",
            ),
            ("Created <= 5", "Attribute start_time <= 5"),
            ("attributes.end_time < 10", "Attribute end_time < 10"),
            ("run_id IN ('a', 'b')", "Attribute run_id IN [\"a\", \"b\"]"),
            (
                "attributes.run_id not in ('a')",
                "Attribute run_id NOT IN [\"a\"]",
            ),
            ("datasets.name = 'iris'", "Dataset name = \"iris\""),
            (
                "dataset.digest IN ('d1', 'd2')",
                "Dataset digest IN [\"d1\", \"d2\"]",
            ),
            (
                "datasets.context NOT IN ('eval')",
                "Dataset context NOT IN [\"eval\"]",
            ),
            (
                "metrics.acc > 0.9 AND params.opt = 'adam' and tags.t LIKE '%x%' AnD status = 'OK'",
                "Metric acc > 0.9 & Param opt = \"adam\" & Tag t LIKE \"%x%\" & \
                 Attribute status = \"OK\"",
            ),
        ];
        for (input, want) in cases {
            check(parse_run_filter, show_filter, input, Ok(want));
        }
    }

    #[test]
    fn rejected_run_filters() {
        let cases = [
            (
                "metrics.acc >> 1",
                "Invalid filter 'metrics.acc >> 1': expected a comparator (=, !=, <, <=, >, >=, \
                 LIKE, ILIKE, IN, NOT IN) at position 12, found '>>'",
            ),
            ("metrics.acc > 1 OR metrics.acc < 0", "OR is not supported"),
            ("(metrics.acc > 1)", "parentheses are not supported"),
            ("metrics.acc > 1 AND", "found the end of the input"),
            ("AND metrics.acc > 1", "found keyword 'AND'"),
            (
                "metrics.acc > 1 AND AND tags.a = 'b'",
                "found keyword 'AND'",
            ),
            (
                "metrics.acc > 1 tags.a = 'b'",
                "expected AND or the end of the filter",
            ),
            ("tags.a = 'b", "unterminated string starting at position 9"),
            ("tags.`a = 'b'", "unterminated name starting at position 5"),
            ("metrics.acc LIKE '1'", "metric 'acc' does not support LIKE"),
            ("metrics.acc = '1'", "metric 'acc' needs a numeric value"),
            ("params.p = 1", "param 'p' needs a quoted string value"),
            ("params.p > '1'", "param 'p' does not support >"),
            ("tags.t IN ('a')", "tag 't' does not support IN"),
            (
                "status IN ('FINISHED')",
                "attribute 'status' does not support IN",
            ),
            ("run_id = ('a')", "can only follow IN or NOT IN"),
            ("run_id IN 'a'", "expected a parenthesised list"),
            (
                "start_time = 'x'",
                "attribute 'start_time' needs a numeric value",
            ),
            (
                "lifecycle_stage = 'active'",
                "unknown attribute 'lifecycle_stage'; valid attributes",
            ),
            ("Metrics.acc > 1", "unknown entity type 'Metrics'"),
            ("datasets.size = 'x'", "unknown dataset key 'size'"),
            (
                "metrics.f1-score > 1",
                "unexpected character '-' at position 10",
            ),
            ("tags.a = b", "strings must be quoted"),
        ];
        for (input, want) in cases {
            check(parse_run_filter, show_filter, input, Err(want));
        }
    }

    #[test]
    fn experiment_filters() {
        let accepted = [
            ("", ""),
            ("name = 'exp'", "Attribute name = \"exp\""),
            (
                "attribute.name ILIKE '%exp%'",
                "Attribute name ILIKE \"%exp%\"",
            ),
            ("creation_time > 5", "Attribute creation_time > 5"),
            ("last_update_time <= 5", "Attribute last_update_time <= 5"),
            ("tags.team = 'ml'", "Tag team = \"ml\""),
            ("tag.`a b` LIKE 'x%'", "Tag a b LIKE \"x%\""),
            (
                "name LIKE 'a%' AND tags.t != 'x'",
                "Attribute name LIKE \"a%\" & Tag t != \"x\"",
            ),
        ];
        for (input, want) in accepted {
            check(parse_experiment_filter, show_filter, input, Ok(want));
        }
        let rejected = [
            ("metrics.acc > 1", "unknown entity type 'metrics'"),
            ("params.p = 'x'", "unknown entity type 'params'"),
            (
                "experiment_id = '1'",
                "unknown experiment attribute 'experiment_id'",
            ),
            ("name IN ('a')", "attribute 'name' does not support IN"),
            ("creation_time = 'x'", "needs a numeric value"),
            ("tags.t > 'x'", "tag 't' does not support >"),
            ("name = 'a' OR name = 'b'", "OR is not supported"),
        ];
        for (input, want) in rejected {
            check(parse_experiment_filter, show_filter, input, Err(want));
        }
    }

    #[test]
    fn run_order_by() {
        let accepted = [
            ("metrics.acc", "Metric acc ASC"),
            ("metrics.acc DESC", "Metric acc DESC"),
            ("metrics.`my metric` asc", "Metric my metric ASC"),
            ("params.lr desc", "Param lr DESC"),
            ("tags.`mlflow.runName`", "Tag mlflow.runName ASC"),
            ("start_time DESC", "Attribute start_time DESC"),
            ("created", "Attribute start_time ASC"),
            ("attributes.run_name", "Attribute run_name ASC"),
            ("attribute.end_time DESC", "Attribute end_time DESC"),
        ];
        for (input, want) in accepted {
            check(parse_run_order_by, show_order_by, input, Ok(want));
        }
        let rejected = [
            ("", "Invalid order_by clause '': the clause is empty"),
            ("start_time DESC extra", "after the sort direction"),
            (
                "start_time sideways",
                "expected ASC, DESC or the end of the clause",
            ),
            (
                "metrics.acc, metrics.loss",
                "give each key as its own order_by entry",
            ),
            ("datasets.name", "runs cannot be ordered by dataset fields"),
            ("lifecycle_stage", "unknown attribute 'lifecycle_stage'"),
            ("metrics.`acc", "unterminated name"),
        ];
        for (input, want) in rejected {
            check(parse_run_order_by, show_order_by, input, Err(want));
        }
    }

    #[test]
    fn experiment_order_by() {
        let accepted = [
            ("name", "Attribute name ASC"),
            ("experiment_id DESC", "Attribute experiment_id DESC"),
            ("attribute.creation_time asc", "Attribute creation_time ASC"),
            ("last_update_time DESC", "Attribute last_update_time DESC"),
        ];
        for (input, want) in accepted {
            check(parse_experiment_order_by, show_order_by, input, Ok(want));
        }
        let rejected = [
            ("tags.t", "experiments can only be ordered by an attribute"),
            ("metrics.acc", "unknown entity type 'metrics'"),
            ("start_time", "unknown experiment attribute 'start_time'"),
            ("name DESC name", "after the sort direction"),
        ];
        for (input, want) in rejected {
            check(parse_experiment_order_by, show_order_by, input, Err(want));
        }
    }

    #[test]
    fn errors_carry_the_input_and_stay_short() {
        let err = parse_run_filter("metrics.acc >> 1").unwrap_err();
        assert_eq!(
            err,
            SearchError::InvalidFilter {
                filter: "metrics.acc >> 1".into(),
                reason: "expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN) at \
                         position 12, found '>>'"
                    .into(),
            }
        );
        let long = format!("tags.t = '{}' OR x", "v".repeat(1000));
        let message = parse_run_filter(&long).unwrap_err().to_string();
        assert!(message.len() < 500, "{message}");
        assert!(message.contains("...': OR is not supported"), "{message}");
    }

    #[test]
    fn values_keep_their_exact_types() {
        let parsed = parse_run_filter("metrics.a = -0.5 AND run_id IN ('x') AND tags.t = '1'");
        let want = vec![
            Comparison {
                kind: EntityKind::Metric,
                key: "a".into(),
                comparator: Comparator::Eq,
                value: Value::Number(-0.5),
            },
            Comparison {
                kind: EntityKind::Attribute,
                key: "run_id".into(),
                comparator: Comparator::In,
                value: Value::List(vec!["x".into()]),
            },
            Comparison {
                kind: EntityKind::Tag,
                key: "t".into(),
                comparator: Comparator::Eq,
                value: Value::String("1".into()),
            },
        ];
        assert_eq!(parsed, Ok(want));
    }
}
