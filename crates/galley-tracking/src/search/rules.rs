//! MLflow's rules for what a runs or experiments search may name, compare and order by.
//!
//! The tables follow `mlflow/utils/search_utils.py` (SearchUtils and SearchExperimentsUtils)
//! and `RunInfo.get_searchable_attributes()` of MLflow 3.x.

use super::ast::{Comparator, Comparison, EntityKind, OrderBy, Value};
use super::parser::{RawComparison, RawName, RawOrderBy, RawValue};

/// Which search endpoint a filter or order_by belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Runs,
    Experiments,
    LoggedModels,
    RegisteredModels,
    ModelVersions,
}

const NUMERIC: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::Lt,
    Comparator::Le,
    Comparator::Gt,
    Comparator::Ge,
];
const STRING: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::Like,
    Comparator::ILike,
];
const STRING_OR_LIST: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::Like,
    Comparator::ILike,
    Comparator::In,
    Comparator::NotIn,
];

const RUN_ATTRIBUTES: &str =
    "run_id, run_name, status, user_id, artifact_uri, start_time, end_time \
     (also: created for start_time, `run name` for run_name)";
const EXPERIMENT_FILTER_ATTRIBUTES: &str = "name, creation_time, last_update_time";
const EXPERIMENT_ORDER_ATTRIBUTES: &str = "name, experiment_id, creation_time, last_update_time";
const DATASET_KEYS: &str = "name, digest, context";
const LOGGED_MODEL_ATTRIBUTES: &str = "name, model_id, model_type, status, source_run_id, \
     creation_timestamp, last_updated_timestamp";

/// What a resolved name accepts.
struct Field {
    kind: EntityKind,
    key: String,
    comparators: &'static [Comparator],
    /// Whether scalar values must be numbers rather than strings.
    numeric: bool,
}

impl Field {
    fn new(kind: EntityKind, key: &str, comparators: &'static [Comparator]) -> Field {
        Field {
            kind,
            key: key.to_string(),
            comparators,
            // Only the numeric kinds order their values, so `<` marks them.
            numeric: comparators.contains(&Comparator::Lt),
        }
    }

    /// How the field is named in messages, e.g. "metric 'acc'".
    fn describe(&self) -> String {
        let kind = match self.kind {
            EntityKind::Metric => "metric",
            EntityKind::Param => "param",
            EntityKind::Tag => "tag",
            EntityKind::Attribute => "attribute",
            EntityKind::Dataset => "dataset key",
        };
        format!("{kind} '{}'", self.key)
    }
}

pub(super) fn symbol(comparator: Comparator) -> &'static str {
    comparator.symbol()
}

pub(super) fn resolve_comparison(target: Target, raw: RawComparison) -> Result<Comparison, String> {
    let field = filter_field(target, &raw.name)?;
    if !field.comparators.contains(&raw.comparator) {
        let allowed: Vec<&str> = field.comparators.iter().map(|&c| symbol(c)).collect();
        return Err(format!(
            "{} does not support {}; use one of {}",
            field.describe(),
            symbol(raw.comparator),
            allowed.join(", ")
        ));
    }
    let value = match (raw.value, field.numeric) {
        (RawValue::Number { value, .. }, true) => Value::Number(value),
        (RawValue::Str(s), false) => Value::String(s),
        // The parser only builds lists after IN / NOT IN, which numeric fields never allow.
        (RawValue::List(items), _) => Value::List(items),
        (RawValue::Str(s), true) => {
            return Err(format!(
                "{} needs a numeric value, found the string '{s}'",
                field.describe()
            ))
        }
        (RawValue::Number { text, .. }, false) => {
            return Err(format!(
                "{} needs a quoted string value, found the number {text}; write it as '{text}'",
                field.describe()
            ))
        }
    };
    Ok(Comparison {
        kind: field.kind,
        key: field.key,
        comparator: raw.comparator,
        value,
    })
}

pub(super) fn resolve_order_by(target: Target, raw: RawOrderBy) -> Result<OrderBy, String> {
    let (kind, key) = match target {
        Target::Runs => {
            let kind = run_entity(&raw.name)?;
            let key = match kind {
                EntityKind::Attribute => run_attribute(&raw.name.key)?.key,
                EntityKind::Dataset => {
                    let reason = "runs cannot be ordered by dataset fields; order by a metric, \
                                  param, tag or attribute";
                    return Err(reason.into());
                }
                _ => raw.name.key,
            };
            (kind, key)
        }
        Target::LoggedModels => {
            return Err("logged models are ordered by structured order_by entries, not text".into())
        }
        Target::RegisteredModels | Target::ModelVersions => {
            let allowed: &[&str] = if target == Target::RegisteredModels {
                &[
                    "name",
                    "creation_timestamp",
                    "last_updated_timestamp",
                    "timestamp",
                ]
            } else {
                &[
                    "name",
                    "version_number",
                    "creation_timestamp",
                    "last_updated_timestamp",
                    "timestamp",
                ]
            };
            match (raw.name.prefix.as_deref(), raw.name.key.as_str()) {
                (None | Some("attribute" | "attributes"), key) if allowed.contains(&key) => {
                    let key = if key == "timestamp" {
                        "last_updated_timestamp"
                    } else {
                        key
                    };
                    (EntityKind::Attribute, key.to_string())
                }
                (_, other) => {
                    return Err(format!(
                        "cannot order by '{other}'; valid keys are {}",
                        allowed.join(", ")
                    ))
                }
            }
        }
        Target::Experiments => match experiment_entity(&raw.name)? {
            EntityKind::Attribute => match raw.name.key.as_str() {
                "name" | "experiment_id" | "creation_time" | "last_update_time" => {
                    (EntityKind::Attribute, raw.name.key)
                }
                other => {
                    return Err(format!(
                        "unknown experiment attribute '{other}' for order_by; valid attributes \
                         are {EXPERIMENT_ORDER_ATTRIBUTES}"
                    ))
                }
            },
            _ => {
                return Err(format!(
                    "experiments can only be ordered by an attribute: \
                     {EXPERIMENT_ORDER_ATTRIBUTES}"
                ))
            }
        },
    };
    Ok(OrderBy {
        kind,
        key,
        ascending: raw.ascending,
    })
}

fn filter_field(target: Target, name: &RawName) -> Result<Field, String> {
    match target {
        Target::Runs => match run_entity(name)? {
            EntityKind::Metric => Ok(Field::new(EntityKind::Metric, &name.key, NUMERIC)),
            EntityKind::Param => Ok(Field::new(EntityKind::Param, &name.key, STRING)),
            EntityKind::Tag => Ok(Field::new(EntityKind::Tag, &name.key, STRING)),
            EntityKind::Attribute => run_attribute(&name.key),
            EntityKind::Dataset => match name.key.as_str() {
                "name" | "digest" | "context" => {
                    Ok(Field::new(EntityKind::Dataset, &name.key, STRING_OR_LIST))
                }
                other => Err(format!(
                    "unknown dataset key '{other}'; valid keys are {DATASET_KEYS}"
                )),
            },
        },
        Target::Experiments => match experiment_entity(name)? {
            EntityKind::Attribute => match name.key.as_str() {
                "name" => Ok(Field::new(EntityKind::Attribute, "name", STRING)),
                "creation_time" | "last_update_time" => {
                    Ok(Field::new(EntityKind::Attribute, &name.key, NUMERIC))
                }
                other => Err(format!(
                    "unknown experiment attribute '{other}'; valid attributes are \
                     {EXPERIMENT_FILTER_ATTRIBUTES}"
                )),
            },
            _ => Ok(Field::new(EntityKind::Tag, &name.key, STRING)),
        },
        Target::LoggedModels => match run_entity(name)? {
            EntityKind::Metric => Ok(Field::new(EntityKind::Metric, &name.key, NUMERIC)),
            EntityKind::Param => Ok(Field::new(EntityKind::Param, &name.key, STRING)),
            EntityKind::Tag => Ok(Field::new(EntityKind::Tag, &name.key, STRING)),
            EntityKind::Attribute => logged_model_attribute(&name.key),
            EntityKind::Dataset => Err("logged models cannot be filtered by dataset fields".into()),
        },
        Target::RegisteredModels | Target::ModelVersions => match name.prefix.as_deref() {
            Some("tag" | "tags") => Ok(Field::new(EntityKind::Tag, &name.key, STRING)),
            None | Some("attribute" | "attributes") => registry_attribute(target, &name.key),
            Some(other) => Err(format!(
                "unknown entity type '{other}' in '{other}.{}'; use tags.<key> or an attribute",
                name.key
            )),
        },
    }
}

/// MLflow's SearchModelUtils and SearchModelVersionUtils attributes.
fn registry_attribute(target: Target, key: &str) -> Result<Field, String> {
    match (target, key) {
        (_, "name") => Ok(Field::new(EntityKind::Attribute, "name", STRING)),
        (Target::ModelVersions, "run_id") => {
            Ok(Field::new(EntityKind::Attribute, "run_id", STRING_OR_LIST))
        }
        (Target::ModelVersions, "source_path") => {
            Ok(Field::new(EntityKind::Attribute, "source_path", STRING))
        }
        (Target::ModelVersions, "version_number") => {
            Ok(Field::new(EntityKind::Attribute, "version_number", NUMERIC))
        }
        (Target::ModelVersions, other) => Err(format!(
            "unknown model version attribute '{other}'; valid attributes are name, run_id, \
             source_path, version_number"
        )),
        (_, other) => Err(format!(
            "unknown registered model attribute '{other}'; the valid attribute is name"
        )),
    }
}

/// The attributes of MLflow 3's `SearchLoggedModelsUtils`; `creation_time` is accepted as an alias.
fn logged_model_attribute(key: &str) -> Result<Field, String> {
    match key {
        "model_id" | "source_run_id" => Ok(Field::new(EntityKind::Attribute, key, STRING_OR_LIST)),
        "name" | "model_type" | "status" => Ok(Field::new(EntityKind::Attribute, key, STRING)),
        "creation_timestamp" | "creation_time" => {
            Ok(Field::new(EntityKind::Attribute, "creation_timestamp", NUMERIC))
        }
        "last_updated_timestamp" => Ok(Field::new(EntityKind::Attribute, key, NUMERIC)),
        other => Err(format!(
            "unknown logged model attribute '{other}'; valid attributes are {LOGGED_MODEL_ATTRIBUTES}"
        )),
    }
}

/// Prefixes are matched case-sensitively, as MLflow does.
fn run_entity(name: &RawName) -> Result<EntityKind, String> {
    let Some(prefix) = name.prefix.as_deref() else {
        return Ok(EntityKind::Attribute);
    };
    match prefix {
        "metric" | "metrics" => Ok(EntityKind::Metric),
        "param" | "params" | "parameter" | "parameters" => Ok(EntityKind::Param),
        "tag" | "tags" => Ok(EntityKind::Tag),
        "attribute" | "attributes" | "attr" | "run" => Ok(EntityKind::Attribute),
        "dataset" | "datasets" => Ok(EntityKind::Dataset),
        other => Err(format!(
            "unknown entity type '{other}' in '{other}.{}'; use metrics., params., tags., \
             attributes. or datasets. (singular forms work too)",
            name.key
        )),
    }
}

/// MLflow accepts only these three prefixes for experiments, not the run aliases, so
/// `attributes.name` is refused here although it works for runs.
fn experiment_entity(name: &RawName) -> Result<EntityKind, String> {
    match name.prefix.as_deref() {
        None | Some("attribute") => Ok(EntityKind::Attribute),
        Some("tag" | "tags") => Ok(EntityKind::Tag),
        Some(other) => Err(format!(
            "unknown entity type '{other}' in '{other}.{}'; experiment searches accept \
             attribute.<key>, tags.<key> or a bare attribute name",
            name.key
        )),
    }
}

/// Attribute keys are case-sensitive as in MLflow; the aliases are MLflow's own list. MLflow
/// takes the `run name` spellings only in filters; accepting them in order_by too costs
/// nothing and spares clients a second list.
fn run_attribute(key: &str) -> Result<Field, String> {
    let attribute = |canonical: &str, comparators| {
        Ok(Field::new(EntityKind::Attribute, canonical, comparators))
    };
    match key {
        "run_id" => attribute("run_id", STRING_OR_LIST),
        "run_name" | "run name" | "Run name" | "Run Name" => attribute("run_name", STRING),
        "status" | "user_id" | "artifact_uri" => attribute(key, STRING),
        "start_time" | "created" | "Created" => attribute("start_time", NUMERIC),
        "end_time" => attribute("end_time", NUMERIC),
        other => Err(format!(
            "unknown attribute '{other}'; valid attributes are {RUN_ATTRIBUTES}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Comparator::*;

    const ALL: [Comparator; 10] = [Eq, NotEq, Lt, Le, Gt, Ge, Like, ILike, In, NotIn];
    // The test's own copy of MLflow's comparator sets, so a slip in the tables above shows.
    const NUM: &[Comparator] = &[Eq, NotEq, Lt, Le, Gt, Ge];
    const STR: &[Comparator] = &[Eq, NotEq, Like, ILike];
    const STR_LIST: &[Comparator] = &[Eq, NotEq, Like, ILike, In, NotIn];

    /// Splits `text` at its first dot, as the parser does.
    fn raw_name(text: &str) -> RawName {
        match text.split_once('.') {
            Some((prefix, key)) => RawName {
                prefix: Some(prefix.to_string()),
                key: key.to_string(),
            },
            None => RawName {
                prefix: None,
                key: text.to_string(),
            },
        }
    }

    fn num(value: f64) -> RawValue {
        RawValue::Number {
            value,
            text: value.to_string(),
        }
    }

    fn s(value: &str) -> RawValue {
        RawValue::Str(value.to_string())
    }

    fn list() -> RawValue {
        RawValue::List(vec!["a".into()])
    }

    /// Resolves `name comparator value`; `want` is `"Kind key"` or a phrase of the error.
    fn check(
        target: Target,
        name: &str,
        comparator: Comparator,
        value: RawValue,
        want: Result<&str, &str>,
    ) {
        let raw = RawComparison {
            name: raw_name(name),
            comparator,
            value,
        };
        let got = resolve_comparison(target, raw).map(|c| format!("{:?} {}", c.kind, c.key));
        let label = format!("{target:?} {name} {}", symbol(comparator));
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{label}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{label}: {got:?} lacks {want:?}"),
            (got, want) => panic!("{label}: got {got:?}, want {want:?}"),
        }
    }

    /// Tries every comparator on each `(name, resolves to, accepted comparators)`: the accepted
    /// ones must resolve, the rest must be refused with the list of accepted ones.
    fn check_matrix(target: Target, fields: &[(&str, &str, &[Comparator])]) {
        for &(name, resolves_to, accepted) in fields {
            for comparator in ALL {
                let value = match comparator {
                    In | NotIn => list(),
                    _ if accepted == NUM => num(1.0),
                    _ => s("v"),
                };
                let allowed: Vec<&str> = accepted.iter().map(|&c| symbol(c)).collect();
                let refusal = format!(
                    "does not support {}; use one of {}",
                    symbol(comparator),
                    allowed.join(", ")
                );
                let want = if accepted.contains(&comparator) {
                    Ok(resolves_to)
                } else {
                    Err(refusal.as_str())
                };
                check(target, name, comparator, value, want);
            }
        }
    }

    #[test]
    fn run_comparators_per_kind() {
        check_matrix(
            Target::Runs,
            &[
                ("metrics.m", "Metric m", NUM),
                ("metric.m", "Metric m", NUM),
                ("params.p", "Param p", STR),
                ("param.p", "Param p", STR),
                ("parameters.p", "Param p", STR),
                ("parameter.p", "Param p", STR),
                ("tags.t", "Tag t", STR),
                ("tag.t", "Tag t", STR),
                ("run_id", "Attribute run_id", STR_LIST),
                ("attributes.run_name", "Attribute run_name", STR),
                ("attribute.status", "Attribute status", STR),
                ("attr.user_id", "Attribute user_id", STR),
                ("run.artifact_uri", "Attribute artifact_uri", STR),
                ("start_time", "Attribute start_time", NUM),
                ("end_time", "Attribute end_time", NUM),
                ("created", "Attribute start_time", NUM),
                ("datasets.name", "Dataset name", STR_LIST),
                ("dataset.digest", "Dataset digest", STR_LIST),
                ("datasets.context", "Dataset context", STR_LIST),
            ],
        );
    }

    #[test]
    fn experiment_comparators_per_kind() {
        check_matrix(
            Target::Experiments,
            &[
                ("name", "Attribute name", STR),
                ("attribute.name", "Attribute name", STR),
                ("creation_time", "Attribute creation_time", NUM),
                ("last_update_time", "Attribute last_update_time", NUM),
                ("tags.t", "Tag t", STR),
                ("tag.t", "Tag t", STR),
            ],
        );
    }

    #[test]
    fn run_names_and_values() {
        use Target::Runs;
        let cases = [
            ("created", Gt, num(5.0), Ok("Attribute start_time")),
            ("Created", Gt, num(5.0), Ok("Attribute start_time")),
            ("attr.run name", Eq, s("x"), Ok("Attribute run_name")),
            ("run.Run name", Eq, s("x"), Ok("Attribute run_name")),
            ("Run Name", Eq, s("x"), Ok("Attribute run_name")),
            ("metrics.my metric", Eq, num(1.0), Ok("Metric my metric")),
            (
                "tags.mlflow.source.name",
                Eq,
                s("x"),
                Ok("Tag mlflow.source.name"),
            ),
            (
                "CREATED",
                Gt,
                num(5.0),
                Err("unknown attribute 'CREATED'; valid attributes are"),
            ),
            (
                "lifecycle_stage",
                Eq,
                s("x"),
                Err("unknown attribute 'lifecycle_stage'"),
            ),
            (
                "experiment_id",
                Eq,
                s("x"),
                Err("unknown attribute 'experiment_id'"),
            ),
            (
                "Metrics.acc",
                Gt,
                num(1.0),
                Err("unknown entity type 'Metrics' in 'Metrics.acc'"),
            ),
            (
                "foo.acc",
                Gt,
                num(1.0),
                Err("use metrics., params., tags., attributes. or datasets."),
            ),
            (
                "datasets.size",
                Eq,
                s("x"),
                Err("unknown dataset key 'size'; valid keys are name,"),
            ),
            (
                "metrics.acc",
                Gt,
                s("0.5"),
                Err("metric 'acc' needs a numeric value, found the string"),
            ),
            (
                "start_time",
                Gt,
                s("5"),
                Err("attribute 'start_time' needs a numeric value"),
            ),
            (
                "params.lr",
                Eq,
                num(1.0),
                Err("param 'lr' needs a quoted string value, found the"),
            ),
            (
                "params.lr",
                Eq,
                num(1.0),
                Err("found the number 1; write it as '1'"),
            ),
            (
                "tags.t",
                Eq,
                num(2.5),
                Err("tag 't' needs a quoted string value"),
            ),
            (
                "status",
                Eq,
                num(2.5),
                Err("attribute 'status' needs a quoted string value"),
            ),
            (
                "datasets.name",
                Eq,
                num(2.5),
                Err("dataset key 'name' needs a quoted string value"),
            ),
        ];
        for (name, comparator, value, want) in cases {
            check(Runs, name, comparator, value, want);
        }
    }

    #[test]
    fn experiment_names_and_values() {
        use Target::Experiments;
        let cases = [
            (
                "creation_time",
                Eq,
                s("x"),
                "attribute 'creation_time' needs a numeric value",
            ),
            (
                "name",
                Eq,
                num(1.0),
                "attribute 'name' needs a quoted string value",
            ),
            (
                "experiment_id",
                Eq,
                s("1"),
                "unknown experiment attribute 'experiment_id'; valid",
            ),
            (
                "lifecycle_stage",
                Eq,
                s("active"),
                "unknown experiment attribute",
            ),
            ("metrics.acc", Gt, num(1.0), "unknown entity type 'metrics'"),
            ("params.p", Eq, s("x"), "accept attribute.<key>, tags.<key>"),
            (
                "attributes.name",
                Eq,
                s("x"),
                "unknown entity type 'attributes'",
            ),
            (
                "datasets.name",
                Eq,
                s("x"),
                "unknown entity type 'datasets'",
            ),
        ];
        for (name, comparator, value, want) in cases {
            check(Experiments, name, comparator, value, Err(want));
        }
    }

    #[test]
    fn order_by_keys() {
        use Target::*;
        let cases = [
            (Runs, "metrics.acc", Ok("Metric acc")),
            (Runs, "params.a.b", Ok("Param a.b")),
            (Runs, "tag.t", Ok("Tag t")),
            (Runs, "created", Ok("Attribute start_time")),
            (Runs, "end_time", Ok("Attribute end_time")),
            (Runs, "attributes.run_name", Ok("Attribute run_name")),
            (Runs, "status", Ok("Attribute status")),
            (Runs, "run_id", Ok("Attribute run_id")),
            (Runs, "bogus", Err("unknown attribute 'bogus'")),
            (
                Runs,
                "datasets.name",
                Err("runs cannot be ordered by dataset fields"),
            ),
            (Runs, "nope.x", Err("unknown entity type 'nope'")),
            (Experiments, "name", Ok("Attribute name")),
            (
                Experiments,
                "attribute.experiment_id",
                Ok("Attribute experiment_id"),
            ),
            (Experiments, "creation_time", Ok("Attribute creation_time")),
            (
                Experiments,
                "last_update_time",
                Ok("Attribute last_update_time"),
            ),
            (
                Experiments,
                "start_time",
                Err("unknown experiment attribute 'start_time' for"),
            ),
            (
                Experiments,
                "tags.t",
                Err("experiments can only be ordered by an attribute"),
            ),
            (
                Experiments,
                "metrics.m",
                Err("unknown entity type 'metrics'"),
            ),
        ];
        for (target, name, want) in cases {
            let raw = RawOrderBy {
                name: raw_name(name),
                ascending: false,
            };
            let got = resolve_order_by(target, raw).map(|o| format!("{:?} {}", o.kind, o.key));
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{target:?} {name}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{got:?} lacks {want:?}"),
                (got, want) => panic!("{target:?} {name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn order_by_keeps_the_direction() {
        for ascending in [true, false] {
            let raw = RawOrderBy {
                name: raw_name("metrics.acc"),
                ascending,
            };
            assert_eq!(
                resolve_order_by(Target::Runs, raw).unwrap().ascending,
                ascending
            );
        }
    }
}
