//! Training sets: an entity dataframe joined point-in-time-correctly with the requested
//! features, through the offline engine, answered as a Parquet or CSV file.

use bytes::Bytes;
use galley_features::selection::{FeatureRequest, Selection};
use galley_features::{FeatureError, Result};
use galley_features_offline::{
    point_in_time_join, write_output, EntityFrame, FeatureColumn, JoinOptions, OutputFormat,
    ViewJoin,
};
use galley_tables::{Format, Table};

use crate::service::FeatureService;

/// Sorted runs of feature rows beyond this spill to disk, so a join's memory stays bounded.
const JOIN_MEMORY_BUDGET: usize = 1 << 30;
use crate::sources::{blocking, OpenedSource};

#[derive(Clone, Debug)]
pub struct HistoricalRequest {
    pub features: FeatureRequest,
    pub full_feature_names: bool,
    /// The entity dataframe's event time column.
    pub timestamp_column: String,
    /// Ignore feature rows created after the entity row's time (no backfill leakage).
    pub created_cutoff: bool,
}

impl FeatureService {
    /// Joins `entity_df` (a Parquet or CSV file's bytes) with the requested features and
    /// answers the training set in `output` format: every entity row, in order, with each
    /// feature's latest value at or before the row's time and within its view's ttl.
    pub async fn historical_features(
        &self,
        entity_df: Bytes,
        input: Format,
        request: &HistoricalRequest,
        output: OutputFormat,
    ) -> Result<Bytes> {
        let snapshot = self.snapshot();
        let definitions = &snapshot.definitions;
        let selection =
            Selection::resolve(definitions, &request.features, request.full_feature_names)?;
        let mut opened: Vec<(OpenedSource, ViewJoin)> = Vec::new();
        for view in &selection.views {
            let source = definitions.source(&view.view.source).ok_or_else(|| {
                FeatureError::NotFound(format!("unknown source {}", view.view.source))
            })?;
            let table = self.inner.sources.open(source).await?;
            let join = ViewJoin {
                name: view.view.name.clone(),
                join_keys: view.join_keys.clone(),
                timestamp_column: source.timestamp_field.clone(),
                created_column: source.created_timestamp_column.clone(),
                ttl_ns: view.view.ttl.as_nanos(),
                features: view
                    .features
                    .iter()
                    .map(|(field, name)| FeatureColumn {
                        source_column: field.name.clone(),
                        output_name: name.clone(),
                    })
                    .collect(),
            };
            opened.push((table, join));
        }
        let timestamp_column = request.timestamp_column.clone();
        let options = JoinOptions {
            created_cutoff: request.created_cutoff,
            memory_budget_bytes: JOIN_MEMORY_BUDGET,
            spill_dir: self.inner.work_dir.clone(),
        };
        blocking(move || {
            let table = Table::from_bytes(entity_df, input)?;
            let entity = EntityFrame {
                table,
                timestamp_column,
            };
            let views: Vec<(&galley_features_offline::OfflineSource, &ViewJoin)> =
                opened.iter().map(|(s, j)| (&s.table, j)).collect();
            let joined = point_in_time_join(&entity, &views, &options)?;
            let mut out = Vec::new();
            write_output(joined, output, &mut out)?;
            Ok(Bytes::from(out))
        })
        .await
    }
}
