//! What applying a definitions file would change, shown before it is applied, and which of
//! those changes would break readers (and so need `force`).

use serde::Serialize;

use crate::definitions::{Definitions, FeatureView};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// `entity`, `source`, `feature_view` or `feature_service`.
    pub kind: &'static str,
    pub name: String,
    pub action: Action,
    /// What differs, one line per field.
    pub details: Vec<String>,
    /// Why this change breaks readers; empty when it does not.
    pub breaking: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn breaking(&self) -> Vec<String> {
        self.changes
            .iter()
            .flat_map(|c| {
                c.breaking
                    .iter()
                    .map(move |b| format!("{} {}: {b}", c.kind, c.name))
            })
            .collect()
    }

    /// Feature views whose online rows must go: deleted, no longer online, or re-keyed.
    pub fn views_to_clear(&self, old: &Definitions, new: &Definitions) -> Vec<String> {
        old.feature_views
            .iter()
            .filter(|view| view.online)
            .filter(|view| match new.view(&view.name) {
                None => true,
                Some(next) => !next.online || old.join_keys(view) != new.join_keys(next),
            })
            .map(|view| view.name.clone())
            .collect()
    }

    /// One line per change, for the CLI.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for change in &self.changes {
            let sign = match change.action {
                Action::Create => '+',
                Action::Update => '~',
                Action::Delete => '-',
            };
            lines.push(format!("{sign} {} {}", change.kind, change.name));
            lines.extend(change.details.iter().map(|d| format!("    {d}")));
            lines.extend(change.breaking.iter().map(|b| format!("    BREAKING: {b}")));
        }
        lines
    }
}

/// The changes that turn `old` into `new`, in kind then name order.
pub fn plan(old: &Definitions, new: &Definitions) -> Plan {
    let mut changes = Vec::new();
    diff(
        "entity",
        &old.entities,
        &new.entities,
        |e| &e.name,
        |a, b| {
            let used = new
                .feature_views
                .iter()
                .any(|v| v.entities.contains(&b.name));
            let breaking = if a.join_keys != b.join_keys && used {
                vec!["join keys change for the feature views that use it".to_string()]
            } else {
                Vec::new()
            };
            (json_field_diff(a, b), breaking)
        },
        &mut changes,
    );
    diff(
        "source",
        &old.sources,
        &new.sources,
        |s| &s.name,
        |a, b| (json_field_diff(a, b), Vec::new()),
        &mut changes,
    );
    diff(
        "feature_view",
        &old.feature_views,
        &new.feature_views,
        |v| &v.name,
        |a, b| (json_field_diff(a, b), view_breaks(old, a, new, b)),
        &mut changes,
    );
    diff(
        "feature_service",
        &old.feature_services,
        &new.feature_services,
        |s| &s.name,
        |a, b| (json_field_diff(a, b), Vec::new()),
        &mut changes,
    );
    for change in &mut changes {
        if change.kind == "feature_view" && change.action == Action::Delete {
            change
                .breaking
                .push("deleted with its online rows; models reading it lose features".into());
        }
    }
    Plan { changes }
}

fn view_breaks(
    old: &Definitions,
    before: &FeatureView,
    new: &Definitions,
    after: &FeatureView,
) -> Vec<String> {
    let mut breaking = Vec::new();
    for field in &before.schema {
        match after.schema.iter().find(|f| f.name == field.name) {
            None => breaking.push(format!("feature {} removed", field.name)),
            Some(next) if !field.dtype.widens_to(next.dtype) => breaking.push(format!(
                "feature {} changes type {} -> {}",
                field.name, field.dtype, next.dtype
            )),
            Some(_) => {}
        }
    }
    if old.join_keys(before) != new.join_keys(after) {
        breaking.push(format!(
            "join keys change [{}] -> [{}]; its online rows are dropped",
            old.join_keys(before).join(", "),
            new.join_keys(after).join(", ")
        ));
    }
    if before.online && !after.online {
        breaking.push("no longer online; its online rows are dropped".into());
    }
    breaking
}

fn diff<T: PartialEq>(
    kind: &'static str,
    old: &[T],
    new: &[T],
    name: impl Fn(&T) -> &String,
    compare: impl Fn(&T, &T) -> (Vec<String>, Vec<String>),
    changes: &mut Vec<Change>,
) {
    for item in new {
        match old.iter().find(|o| name(o) == name(item)) {
            None => changes.push(Change {
                kind,
                name: name(item).clone(),
                action: Action::Create,
                details: Vec::new(),
                breaking: Vec::new(),
            }),
            Some(before) if before != item => {
                let (details, breaking) = compare(before, item);
                changes.push(Change {
                    kind,
                    name: name(item).clone(),
                    action: Action::Update,
                    details,
                    breaking,
                });
            }
            Some(_) => {}
        }
    }
    for item in old {
        if !new.iter().any(|n| name(n) == name(item)) {
            changes.push(Change {
                kind,
                name: name(item).clone(),
                action: Action::Delete,
                details: Vec::new(),
                breaking: Vec::new(),
            });
        }
    }
}

/// `field: before -> after` for each top-level field that differs, read off the objects' JSON
/// form so every field is covered without listing them.
fn json_field_diff<T: Serialize>(before: &T, after: &T) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let none = serde_json::Value::Null;
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "{k}: {} -> {}",
                a.get(k).unwrap_or(&none),
                b.get(k).unwrap_or(&none)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(schema: &str, extra: &str) -> Definitions {
        Definitions::parse_yaml(&format!(
            r#"
entities: [{{name: driver, join_keys: [driver_id]}}]
sources: [{{name: s, path: x.parquet, timestamp_field: ts}}]
feature_views:
  - {{name: v, entities: [driver], source: s, ttl: 1d, schema: [{schema}]}}
{extra}"#
        ))
        .unwrap()
    }

    #[test]
    fn identical_definitions_plan_nothing() {
        let d = defs("{name: a, dtype: int64}", "");
        assert!(plan(&d, &d).is_empty());
    }

    #[test]
    fn added_features_and_widening_are_safe_removal_and_narrowing_are_not() {
        let before = defs("{name: a, dtype: int32}, {name: b, dtype: float64}", "");
        let widened = defs(
            "{name: a, dtype: int64}, {name: b, dtype: float64}, {name: c, dtype: string}",
            "",
        );
        let p = plan(&before, &widened);
        assert_eq!(p.changes.len(), 1);
        assert!(p.breaking().is_empty(), "{:?}", p.breaking());
        assert!(p.lines()[1].starts_with("    schema:"));

        let narrowed = defs("{name: a, dtype: string}", "");
        let breaking = plan(&before, &narrowed).breaking();
        assert_eq!(breaking.len(), 2, "{breaking:?}");
        assert!(breaking[0].contains("feature a changes type int32 -> string"));
        assert!(breaking[1].contains("feature b removed"));
    }

    #[test]
    fn deleting_a_view_breaks_and_clears_it_online() {
        let before = defs("{name: a, dtype: int64}", "");
        let after = Definitions::parse_yaml(
            "entities: [{name: driver, join_keys: [driver_id]}]\nsources: [{name: s, path: x.parquet, timestamp_field: ts}]",
        )
        .unwrap();
        let p = plan(&before, &after);
        assert_eq!(p.changes[0].action, Action::Delete);
        assert_eq!(p.breaking().len(), 1);
        assert_eq!(p.views_to_clear(&before, &after), vec!["v"]);
        assert!(p.views_to_clear(&before, &before).is_empty());
    }
}
