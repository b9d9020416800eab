//! Which features a request reads (a list of `view:feature` references or a feature service),
//! grouped by feature view, and the names they are given in the answer.

use std::borrow::Cow;

use crate::definitions::{Definitions, FeatureView, Field};
use crate::error::{FeatureError, Result};

/// What a request asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum FeatureRequest {
    References(Vec<String>),
    Service(String),
}

/// The features read from one view.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewSelection<'a> {
    pub view: &'a FeatureView,
    pub join_keys: Vec<String>,
    /// The view's fields that were asked for, with their output names.
    pub features: Vec<(&'a Field, Cow<'a, str>)>,
}

/// A request resolved against the definitions; views in the order first asked for. It
/// borrows both, so the online read path copies nothing out of the snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection<'a> {
    pub views: Vec<ViewSelection<'a>>,
}

impl<'a> Selection<'a> {
    /// `full_feature_names` names each feature `view__feature`; otherwise by its own name, and
    /// two views' features of the same name are refused rather than silently overwritten.
    pub fn resolve(
        definitions: &'a Definitions,
        request: &'a FeatureRequest,
        full_feature_names: bool,
    ) -> Result<Self> {
        let references: &[String] = match request {
            FeatureRequest::References(references) => references,
            FeatureRequest::Service(name) => {
                &definitions
                    .service(name)
                    .ok_or_else(|| {
                        FeatureError::NotFound(format!("unknown feature service {name:?}"))
                    })?
                    .features
            }
        };
        if references.is_empty() {
            return Err(FeatureError::InvalidInput(
                "name at least one feature (view:feature) or a feature service".into(),
            ));
        }
        let mut views: Vec<ViewSelection<'a>> = Vec::new();
        for reference in references {
            let (view, fields) = definitions.resolve_reference(reference)?;
            let index = match views.iter().position(|v| v.view.name == view.name) {
                Some(i) => i,
                None => {
                    views.push(ViewSelection {
                        view,
                        join_keys: definitions.join_keys(view),
                        features: Vec::new(),
                    });
                    views.len() - 1
                }
            };
            for field in fields {
                // Fields are borrowed from the view's schema, so the same field is the same
                // address; a view's own fields have distinct names.
                if views[index]
                    .features
                    .iter()
                    .any(|(f, _)| std::ptr::eq(*f, field))
                {
                    continue;
                }
                let name: Cow<'a, str> = if full_feature_names {
                    Cow::Owned(format!("{}__{}", view.name, field.name))
                } else {
                    Cow::Borrowed(&field.name)
                };
                // Full names cannot clash (view names are unique); short ones only across views.
                let taken = !full_feature_names
                    && views
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != index)
                        .flat_map(|(_, v)| &v.features)
                        .any(|(_, other)| *other == name);
                if taken {
                    return Err(FeatureError::InvalidInput(format!(
                        "two requested features are both named {name:?}; ask with full feature names"
                    )));
                }
                views[index].features.push((field, name));
            }
        }
        Ok(Self { views })
    }

    /// Every join key any selected view needs, in first-use order.
    pub fn join_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for key in self.views.iter().flat_map(|v| &v.join_keys) {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
        keys
    }

    /// Output names of every selected feature, view by view.
    pub fn output_names(&self) -> Vec<&str> {
        self.views
            .iter()
            .flat_map(|v| v.features.iter().map(|(_, name)| name.as_ref()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definitions() -> Definitions {
        Definitions::parse_yaml(
            r#"
entities: [{name: driver, join_keys: [driver_id]}, {name: rider, join_keys: [rider_id]}]
sources: [{name: s, path: x.parquet, timestamp_field: ts}]
feature_views:
  - {name: d, entities: [driver], source: s, schema: [{name: rate, dtype: float64}, {name: trips, dtype: int64}]}
  - {name: r, entities: [rider], source: s, schema: [{name: rate, dtype: float64}]}
feature_services: [{name: svc, features: [d, r:rate]}]
"#,
        )
        .unwrap()
    }

    #[test]
    fn references_group_by_view_and_name_outputs() {
        let d = definitions();
        let request = FeatureRequest::References(vec!["d:trips".into(), "r:rate".into()]);
        let selection = Selection::resolve(&d, &request, false).unwrap();
        assert_eq!(selection.output_names(), vec!["trips", "rate"]);
        assert_eq!(selection.join_keys(), vec!["driver_id", "rider_id"]);
        let service = FeatureRequest::Service("svc".into());
        let full = Selection::resolve(&d, &service, true).unwrap();
        assert_eq!(full.output_names(), vec!["d__rate", "d__trips", "r__rate"]);
    }

    #[test]
    fn clashing_short_names_and_unknown_names_are_refused() {
        let d = definitions();
        let clash = FeatureRequest::References(vec!["d:rate".into(), "r:rate".into()]);
        assert!(matches!(
            Selection::resolve(&d, &clash, false),
            Err(FeatureError::InvalidInput(_))
        ));
        let unknown = FeatureRequest::References(vec!["d:nope".into()]);
        assert!(matches!(
            Selection::resolve(&d, &unknown, false),
            Err(FeatureError::NotFound(_))
        ));
        let unknown_service = FeatureRequest::Service("x".into());
        assert!(Selection::resolve(&d, &unknown_service, false).is_err());
    }
}
