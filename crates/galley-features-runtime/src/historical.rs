//! Training sets: an entity dataframe joined point-in-time-correctly with the requested
//! features, through the offline engine, answered as a Parquet or CSV file. Both files live on
//! disk, so neither the upload nor the answer is bounded by memory.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom};
use std::path::Path;

use galley_features::selection::{FeatureRequest, Selection};
use galley_features::{FeatureError, Result};
use galley_features_offline::{
    point_in_time_join, write_output, EntityFrame, FeatureColumn, JoinOptions, OutputFormat,
    ViewJoin,
};
use galley_tables::{Format, Table};

use crate::service::FeatureService;
use crate::sources::{blocking, OpenedSource};

/// Sorted runs of feature rows beyond this spill to disk, and entity dataframes longer than
/// it holds are joined in passes, so a join's memory stays bounded.
const JOIN_MEMORY_BUDGET: usize = 1 << 30;

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
    /// A new file in the work folder for an uploaded entity dataframe, removed when dropped:
    /// uploads go to disk, not memory, however large.
    pub fn upload_file(&self) -> Result<tempfile::NamedTempFile> {
        tempfile::NamedTempFile::new_in(&self.inner.work_dir).map_err(|e| {
            FeatureError::Unavailable(format!("cannot make a file for the upload: {e}"))
        })
    }

    /// Joins the entity dataframe in the file at `entity_df` (Parquet or CSV, as `input` says)
    /// with the requested features and answers the training set in `output` format, in an
    /// unnamed file in the work folder, read from its start: every entity row, in order, with
    /// each feature's latest value at or before the row's time and within its view's ttl.
    pub async fn historical_features(
        &self,
        entity_df: &Path,
        input: Format,
        request: &HistoricalRequest,
        output: OutputFormat,
    ) -> Result<File> {
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
                        output_name: name.to_string(),
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
            entity_rows_per_pass: None,
        };
        let entity_df = entity_df.to_path_buf();
        let work_dir = self.inner.work_dir.clone();
        blocking(move || {
            let table = Table::open_as(&entity_df, input)?;
            let entity = EntityFrame {
                table,
                timestamp_column,
            };
            let views: Vec<(&galley_features_offline::OfflineSource, &ViewJoin)> =
                opened.iter().map(|(s, j)| (&s.table, j)).collect();
            let joined = point_in_time_join(&entity, &views, &options)?;
            let mut out = BufWriter::with_capacity(1 << 20, tempfile::tempfile_in(&work_dir)?);
            write_output(joined, output, &mut out)?;
            let mut answer = out.into_inner().map_err(|e| e.into_error())?;
            answer.seek(SeekFrom::Start(0))?;
            Ok(answer)
        })
        .await
    }
}
