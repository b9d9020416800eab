//! The feature registry's objects (entities, sources, feature views, feature services), the
//! definitions file they are applied from, and the rules a set of definitions must follow.

use std::collections::{BTreeMap, BTreeSet};

use galley_core::duration::{format_duration_ms, parse_duration_ms};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{FeatureError, Result};
use crate::value::Dtype;

/// Everything applied at once from one definitions file; each list is sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definitions {
    #[serde(default)]
    pub entities: Vec<Entity>,
    #[serde(default)]
    pub sources: Vec<Source>,
    #[serde(default)]
    pub feature_views: Vec<FeatureView>,
    #[serde(default)]
    pub feature_services: Vec<FeatureService>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    pub name: String,
    pub join_keys: Vec<String>,
    /// The join keys' type, when declared: checked against every source that carries them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<Dtype>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A table of feature rows: a Parquet or CSV file, or a directory of them. A relative `path`
/// is resolved against the definitions file's folder by the client before it is applied;
/// `artifacts:/PATH` names a file in the server's artifact store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub name: String,
    pub path: String,
    pub timestamp_field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_timestamp_column: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureView {
    pub name: String,
    pub entities: Vec<String>,
    pub source: String,
    /// How far back from an entity row's time a feature row may be; zero is no limit.
    #[serde(default)]
    pub ttl: Ttl,
    #[serde(default = "default_online")]
    pub online: bool,
    pub schema: Vec<Field>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

fn default_online() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    pub dtype: Dtype,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// A named set of features one model reads: `view:feature` references, or `view` for all of a
/// view's features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureService {
    pub name: String,
    pub features: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A view's ttl in milliseconds, written as a duration (`1d`, `90m`), a number of seconds, or
/// `0` for no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ttl(pub i64);

impl Ttl {
    /// The lower bound's distance in nanoseconds, `None` when there is none.
    pub fn as_nanos(self) -> Option<i64> {
        (self.0 > 0).then(|| self.0.saturating_mul(1_000_000))
    }
}

impl std::fmt::Display for Ttl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == 0 {
            f.write_str("none")
        } else {
            f.write_str(&format_duration_ms(self.0))
        }
    }
}

impl Serialize for Ttl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 == 0 {
            serializer.serialize_i64(0)
        } else {
            serializer.serialize_str(&format_duration_ms(self.0))
        }
    }
}

impl<'de> Deserialize<'de> for Ttl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Spelling {
            Seconds(i64),
            Text(String),
        }
        let ms = match Spelling::deserialize(deserializer)? {
            Spelling::Seconds(s) => s.checked_mul(1000),
            Spelling::Text(t) if t.trim() == "0" => Some(0),
            Spelling::Text(t) => parse_duration_ms(t.trim()).or_else(|| {
                // format_duration_ms spells sub-second ttls in milliseconds.
                t.trim().strip_suffix("ms").and_then(|n| n.parse().ok())
            }),
        };
        match ms {
            Some(ms) if ms >= 0 => Ok(Ttl(ms)),
            _ => Err(serde::de::Error::custom(
                "ttl must be a duration such as 90s, 30m, 2h or 1d, a number of seconds, or 0 for none",
            )),
        }
    }
}

/// Names appear in references (`view:feature`), in full feature names (`view__feature`) and in
/// online-store keys, so they are kept to a plain identifier alphabet.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && !name.contains("__")
}

impl Definitions {
    /// Reads a definitions file; the result is validated and sorted.
    pub fn parse_yaml(text: &str) -> Result<Self> {
        let definitions: Definitions = yaml_serde::from_str(text)
            .map_err(|e| FeatureError::InvalidInput(format!("invalid definitions file: {e}")))?;
        definitions.validated()
    }

    /// Checks every rule and sorts each list by name, so equal definitions compare equal.
    pub fn validated(mut self) -> Result<Self> {
        self.entities.sort_by(|a, b| a.name.cmp(&b.name));
        self.sources.sort_by(|a, b| a.name.cmp(&b.name));
        self.feature_views.sort_by(|a, b| a.name.cmp(&b.name));
        self.feature_services.sort_by(|a, b| a.name.cmp(&b.name));
        let mut problems = Vec::new();
        unique_names(
            "entity",
            self.entities.iter().map(|e| &e.name),
            &mut problems,
        );
        unique_names(
            "source",
            self.sources.iter().map(|s| &s.name),
            &mut problems,
        );
        unique_names(
            "feature view",
            self.feature_views.iter().map(|v| &v.name),
            &mut problems,
        );
        unique_names(
            "feature service",
            self.feature_services.iter().map(|s| &s.name),
            &mut problems,
        );
        for entity in &self.entities {
            check_entity(entity, &mut problems);
        }
        for source in &self.sources {
            check_source(source, &mut problems);
        }
        for view in &self.feature_views {
            self.check_view(view, &mut problems);
        }
        for service in &self.feature_services {
            if service.features.is_empty() {
                problems.push(format!(
                    "feature service {}: lists no features",
                    service.name
                ));
            }
            for reference in &service.features {
                if let Err(e) = self.resolve_reference(reference) {
                    problems.push(format!("feature service {}: {e}", service.name));
                }
            }
        }
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(FeatureError::InvalidInput(problems.join("; ")))
        }
    }

    pub fn entity(&self, name: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.name == name)
    }

    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }

    pub fn view(&self, name: &str) -> Option<&FeatureView> {
        self.feature_views.iter().find(|v| v.name == name)
    }

    pub fn service(&self, name: &str) -> Option<&FeatureService> {
        self.feature_services.iter().find(|s| s.name == name)
    }

    /// A view's join keys: its entities' keys, in entity order.
    pub fn join_keys(&self, view: &FeatureView) -> Vec<String> {
        view.entities
            .iter()
            .filter_map(|e| self.entity(e))
            .flat_map(|e| e.join_keys.iter().cloned())
            .collect()
    }

    /// The declared type of a join key, if any entity declares one.
    pub fn join_key_type(&self, view: &FeatureView, key: &str) -> Option<Dtype> {
        view.entities
            .iter()
            .filter_map(|e| self.entity(e))
            .find(|e| e.join_keys.iter().any(|k| k == key))
            .and_then(|e| e.value_type)
    }

    fn check_view(&self, view: &FeatureView, problems: &mut Vec<String>) {
        let at = format!("feature view {}", view.name);
        if !valid_name(&view.name) {
            problems.push(format!("{at}: {}", name_rule()));
        }
        if view.entities.is_empty() {
            problems.push(format!("{at}: names no entities"));
        }
        for entity in &view.entities {
            if self.entity(entity).is_none() {
                problems.push(format!("{at}: unknown entity {entity}"));
            }
        }
        let keys = self.join_keys(view);
        if keys.iter().collect::<BTreeSet<_>>().len() != keys.len() {
            problems.push(format!("{at}: two of its entities share a join key"));
        }
        let source = self.source(&view.source);
        if source.is_none() {
            problems.push(format!("{at}: unknown source {}", view.source));
        }
        if view.schema.is_empty() {
            problems.push(format!("{at}: the schema lists no features"));
        }
        let mut seen = BTreeSet::new();
        for field in &view.schema {
            if !valid_name(&field.name) {
                problems.push(format!("{at}: feature {:?}: {}", field.name, name_rule()));
            }
            if !seen.insert(&field.name) {
                problems.push(format!("{at}: feature {} is listed twice", field.name));
            }
            let reserved = keys.contains(&field.name)
                || source.is_some_and(|s| {
                    s.timestamp_field == field.name
                        || s.created_timestamp_column.as_deref() == Some(&field.name)
                });
            if reserved {
                problems.push(format!(
                    "{at}: {} is a join key or timestamp column, not a feature",
                    field.name
                ));
            }
        }
    }

    /// Resolves `view:feature` (or `view` for all its features) to the view and field names.
    pub fn resolve_reference(&self, reference: &str) -> Result<(&FeatureView, Vec<&Field>)> {
        let (view_name, feature) = match reference.split_once(':') {
            Some((v, f)) => (v, Some(f)),
            None => (reference, None),
        };
        let view = self.view(view_name).ok_or_else(|| {
            FeatureError::NotFound(format!(
                "unknown feature view {view_name:?} in {reference:?}"
            ))
        })?;
        match feature {
            None | Some("*") => Ok((view, view.schema.iter().collect())),
            Some(name) => {
                let field = view.schema.iter().find(|f| f.name == name).ok_or_else(|| {
                    FeatureError::NotFound(format!(
                        "feature view {view_name} has no feature {name:?}"
                    ))
                })?;
                Ok((view, vec![field]))
            }
        }
    }
}

fn name_rule() -> &'static str {
    "names use letters, digits, '_', '-' and '.', at most 128 characters, and no '__'"
}

fn unique_names<'a>(
    kind: &str,
    names: impl Iterator<Item = &'a String>,
    problems: &mut Vec<String>,
) {
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            problems.push(format!("{kind} {name} is defined twice"));
        }
    }
}

fn check_entity(entity: &Entity, problems: &mut Vec<String>) {
    let at = format!("entity {}", entity.name);
    if !valid_name(&entity.name) {
        problems.push(format!("{at}: {}", name_rule()));
    }
    if entity.join_keys.is_empty() {
        problems.push(format!("{at}: needs at least one join key"));
    }
    if entity.join_keys.iter().any(|k| k.trim().is_empty()) {
        problems.push(format!("{at}: a join key is empty"));
    }
    if let Some(dtype) = entity.value_type {
        if !matches!(dtype, Dtype::Int32 | Dtype::Int64 | Dtype::String) {
            problems.push(format!(
                "{at}: value_type {dtype} cannot key entities (int32, int64 or string)"
            ));
        }
    }
}

fn check_source(source: &Source, problems: &mut Vec<String>) {
    let at = format!("source {}", source.name);
    if !valid_name(&source.name) {
        problems.push(format!("{at}: {}", name_rule()));
    }
    if source.path.trim().is_empty() {
        problems.push(format!("{at}: path is empty"));
    }
    if source.timestamp_field.trim().is_empty() {
        problems.push(format!("{at}: timestamp_field is empty"));
    }
    if source.created_timestamp_column.as_deref() == Some(source.timestamp_field.as_str()) {
        problems.push(format!(
            "{at}: the created timestamp column must differ from timestamp_field"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const EXAMPLE: &str = r#"
entities:
  - {name: driver, join_keys: [driver_id]}
sources:
  - {name: driver_stats, path: data/driver_stats.parquet, timestamp_field: event_timestamp, created_timestamp_column: created}
feature_views:
  - name: driver_hourly
    entities: [driver]
    source: driver_stats
    ttl: 1d
    online: true
    schema: [{name: conv_rate, dtype: float64}, {name: trips, dtype: int64}]
feature_services:
  - {name: model_a, features: [driver_hourly:conv_rate, driver_hourly:trips]}
"#;

    #[test]
    fn the_documented_example_parses() {
        let d = Definitions::parse_yaml(EXAMPLE).unwrap();
        let view = d.view("driver_hourly").unwrap();
        assert_eq!(view.ttl, Ttl(86_400_000));
        assert_eq!(view.ttl.as_nanos(), Some(86_400_000_000_000));
        assert_eq!(d.join_keys(view), vec!["driver_id"]);
        assert_eq!(view.schema[1].dtype, Dtype::Int64);
        let (_, fields) = d.resolve_reference("driver_hourly").unwrap();
        assert_eq!(fields.len(), 2);
        // Stored as JSON and read back unchanged.
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Definitions>(&json).unwrap(), d);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
entities: [{name: driver, join_keys: [driver_id]}]
sources: [{name: s, path: x.parquet, timestamp_field: ts}]
feature_views:
  - {name: v, entities: [driver, rider], source: t, schema: [{name: driver_id, dtype: int64}, {name: a, dtype: float64}, {name: a, dtype: int64}]}
feature_services: [{name: svc, features: [v:missing, w:a]}]
"#;
        let message = Definitions::parse_yaml(text).unwrap_err().to_string();
        for expected in [
            "unknown entity rider",
            "unknown source t",
            "driver_id is a join key",
            "feature a is listed twice",
            "no feature \"missing\"",
            "unknown feature view \"w\"",
        ] {
            assert!(message.contains(expected), "{expected} not in {message}");
        }
    }

    #[test]
    fn ttl_spellings_and_unknown_fields() {
        let ttl = |t: &str| yaml_serde::from_str::<Ttl>(t);
        assert_eq!(ttl("0").unwrap(), Ttl(0));
        assert_eq!(ttl("3600").unwrap(), Ttl(3_600_000));
        assert_eq!(ttl("2h").unwrap(), Ttl(7_200_000));
        assert!(ttl("2 weeks").is_err());
        assert!(ttl("-5").is_err());
        let unknown = "entities: [{name: d, join_keys: [k], joinkey: x}]";
        assert!(Definitions::parse_yaml(unknown).is_err());
        let bad_dtype = "entities: [{name: d, join_keys: [k], value_type: float64}]";
        assert!(Definitions::parse_yaml(bad_dtype).is_err());
    }
}
