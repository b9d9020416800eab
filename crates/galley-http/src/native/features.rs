//! The feature store's routes: definitions (apply with a plan, list, show), training sets,
//! materialization, push, and online reads in Feast's layout (`/get-online-features`) and in
//! Galley's own (one vector per entity).

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use futures::StreamExt as _;
use galley_core::ErrorCode;
use galley_features::definitions::Definitions;
use galley_features::selection::FeatureRequest;
use galley_features::value::Value as FeatureValue;
use galley_features_offline::OutputFormat;
use galley_features_runtime::{
    format_time, parse_time, ApplyOptions, FeatureStatus, HistoricalRequest, MaterializeRequest,
    OnlineAnswer,
};
use galley_tables::Format;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt as _;
use tokio_util::io::ReaderStream;

use crate::error::{ApiError, ApiResult};
use crate::extract::{flag, JsonBody, QueryParams};
use crate::AppState;

type Reply = ApiResult<Json<Value>>;

/// The content type of Parquet files (IANA registration).
const PARQUET: &str = "application/vnd.apache.parquet";

#[derive(Deserialize)]
pub struct ApplyQuery {
    dry_run: Option<String>,
    force: Option<String>,
}

/// The body is the definitions file itself (YAML or JSON), with source paths as the server
/// should read them (the CLI makes relative paths absolute).
pub async fn apply(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<ApplyQuery>,
    body: Bytes,
) -> Reply {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("the definitions file is not UTF-8 text"))?;
    let definitions = Definitions::parse_yaml(text)?;
    let options = ApplyOptions {
        force: flag(q.force.as_deref(), "force")?,
        dry_run: flag(q.dry_run.as_deref(), "dry_run")?,
    };
    let outcome = s.features.apply(definitions, options).await?;
    Ok(Json(json!({
        "applied": outcome.applied,
        "version": outcome.version,
        "changes": outcome.plan.changes,
        "plan": outcome.plan.lines(),
    })))
}

pub async fn list(State(s): State<AppState>) -> Reply {
    let snapshot = s.features.snapshot();
    let mut answer = serde_json::to_value(&snapshot.definitions)
        .map_err(|e| ApiError::new(ErrorCode::InternalError, e.to_string()))?;
    answer["version"] = json!(snapshot.version);
    answer["applied_at"] = json!(snapshot.applied_at);
    Ok(Json(answer))
}

/// Any object by name (a feature view first, then a service, an entity, a source); a view
/// comes with its recent materializations and the age of its newest online value.
pub async fn show(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    let snapshot = s.features.snapshot();
    let d = &snapshot.definitions;
    let (kind, object) = if let Some(view) = d.view(&name) {
        ("feature_view", json!(view))
    } else if let Some(service) = d.service(&name) {
        ("feature_service", json!(service))
    } else if let Some(entity) = d.entity(&name) {
        ("entity", json!(entity))
    } else if let Some(source) = d.source(&name) {
        ("source", json!(source))
    } else {
        return Err(ApiError::new(
            galley_core::ErrorCode::ResourceDoesNotExist,
            format!("no feature view, service, entity or source is named {name:?}"),
        ));
    };
    let mut answer = json!({ "kind": kind, kind: object });
    if kind == "feature_view" {
        let materializations = s.features.materializations(&name, 10).await?;
        let newest = s
            .features
            .newest_events()
            .await
            .into_iter()
            .find(|(view, _)| *view == name)
            .and_then(|(_, newest)| newest);
        answer["join_keys"] = json!(d.view(&name).map(|v| d.join_keys(v)));
        answer["materializations"] = json!(materializations);
        answer["newest_event"] = json!(newest.map(format_time));
    }
    Ok(Json(answer))
}

#[derive(Deserialize)]
pub struct HistoricalQuery {
    /// Comma-separated `view:feature` references.
    features: Option<String>,
    feature_service: Option<String>,
    full_feature_names: Option<String>,
    timestamp_column: Option<String>,
    created_cutoff: Option<String>,
}

/// The body is the entity dataframe (Parquet, or CSV with `Content-Type: text/csv`); the
/// answer is the training set as Parquet, or CSV when `Accept: text/csv`.
pub async fn historical(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<HistoricalQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let input = if content_type(&headers, header::CONTENT_TYPE).starts_with("text/csv") {
        Format::Csv
    } else {
        Format::Parquet
    };
    let (output, mime) = if content_type(&headers, header::ACCEPT).starts_with("text/csv") {
        (OutputFormat::Csv, "text/csv")
    } else {
        (OutputFormat::Parquet, PARQUET)
    };
    let request = HistoricalRequest {
        features: feature_request(q.features.as_deref(), q.feature_service)?,
        full_feature_names: flag(q.full_feature_names.as_deref(), "full_feature_names")?,
        timestamp_column: q
            .timestamp_column
            .unwrap_or_else(|| "event_timestamp".into()),
        created_cutoff: flag(q.created_cutoff.as_deref(), "created_cutoff")?,
    };
    let upload = s.features.upload_file()?;
    spool(body, upload.as_file().try_clone().map_err(unavailable)?).await?;
    let answer = s
        .features
        .historical_features(upload.path(), input, &request, output)
        .await?;
    drop(upload);
    let length = answer.metadata().map(|m| m.len()).map_err(unavailable)?;
    let stream = ReaderStream::with_capacity(tokio::fs::File::from_std(answer), 1 << 16);
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (header::CONTENT_LENGTH, HeaderValue::from(length)),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Training sets are files, spooled to disk as they arrive, so disk rather than memory bounds
/// them; this stops a runaway upload.
const ENTITY_DF_LIMIT: usize = 64 << 30;

/// Writes a request body to `file` as it arrives, refusing one longer than `ENTITY_DF_LIMIT`.
async fn spool(body: Body, file: std::fs::File) -> ApiResult<()> {
    let mut out = tokio::fs::File::from_std(file);
    let mut chunks = body.into_data_stream();
    let mut written = 0usize;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("cannot read the upload: {e}")))?;
        written += chunk.len();
        if written > ENTITY_DF_LIMIT {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("an entity dataframe may have at most {ENTITY_DF_LIMIT} bytes"),
            ));
        }
        out.write_all(&chunk).await.map_err(unavailable)?;
    }
    out.flush().await.map_err(unavailable)
}

fn unavailable(e: std::io::Error) -> ApiError {
    ApiError::new(ErrorCode::TemporarilyUnavailable, e.to_string())
}

fn content_type(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn feature_request(features: Option<&str>, service: Option<String>) -> ApiResult<FeatureRequest> {
    match (features, service) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "name features or a feature_service, not both",
        )),
        (None, Some(service)) => Ok(FeatureRequest::Service(service)),
        (Some(list), None) => Ok(FeatureRequest::References(
            list.split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect(),
        )),
        (None, None) => Err(ApiError::invalid(
            "name the features (view:feature,...) or a feature_service",
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterializeBody {
    #[serde(default)]
    views: Vec<String>,
    /// RFC 3339; without it each view continues from its last materialization.
    start: Option<String>,
    /// RFC 3339; default now.
    end: Option<String>,
}

pub async fn materialize(
    State(s): State<AppState>,
    JsonBody(body): JsonBody<MaterializeBody>,
) -> Reply {
    let time = |text: Option<String>, name: &str| {
        text.map(|t| {
            parse_time(&t)
                .ok_or_else(|| ApiError::invalid(format!("{name}: {t:?} is not an RFC 3339 time")))
        })
        .transpose()
    };
    let request = MaterializeRequest {
        views: body.views,
        start: time(body.start, "start")?,
        end: time(body.end, "end")?,
    };
    let done = s.features.materialize(&request).await?;
    Ok(Json(json!({ "materializations": done })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushBody {
    feature_view: String,
    /// Columns: name to values.
    df: Columns,
}

pub async fn push(State(s): State<AppState>, JsonBody(body): JsonBody<PushBody>) -> Reply {
    let columns = columns_from_json(body.df)?;
    let counts = s.features.push(&body.feature_view, columns).await?;
    Ok(Json(
        json!({ "written": counts.written, "stale": counts.stale }),
    ))
}

/// Feast's `get-online-features` request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnlineBody {
    features: Option<Vec<String>>,
    feature_service: Option<String>,
    entities: Columns,
    #[serde(default)]
    full_feature_names: bool,
}

async fn read_online(s: &AppState, body: OnlineBody) -> ApiResult<OnlineAnswer> {
    let request = match (body.features, body.feature_service) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "name features or a feature_service, not both",
            ))
        }
        (Some(features), None) => FeatureRequest::References(features),
        (None, Some(service)) => FeatureRequest::Service(service),
        (None, None) => {
            return Err(ApiError::invalid(
                "name the features (view:feature) or a feature_service",
            ))
        }
    };
    let entities = columns_from_json(body.entities)?;
    Ok(s.features
        .online_features(&request, entities, body.full_feature_names)
        .await?)
}

/// Feast's layout: one `results` entry per column, each across the entity rows; times of
/// entity columns and of values not found are the epoch, as Feast shows them.
pub async fn get_online_features(
    State(s): State<AppState>,
    JsonBody(body): JsonBody<OnlineBody>,
) -> ApiResult<Response> {
    let answer = read_online(&s, body).await?;
    let times = TimeTexts::of(&answer);
    let feast = FeastAnswer {
        metadata: FeastMetadata {
            feature_names: answer.columns.iter().map(|c| c.name.as_str()).collect(),
        },
        results: answer
            .columns
            .iter()
            .map(|column| FeastColumn {
                values: Values(&column.values),
                statuses: &column.statuses,
                event_timestamps: EpochOr(&column.event_timestamps, &times),
            })
            .collect(),
    };
    // Written straight from the answer: the hot path of online serving builds no JSON tree,
    // into a buffer sized for it once.
    let values: usize = answer.columns.iter().map(|c| c.values.len()).sum();
    let mut body = Vec::with_capacity(256 + 64 * values);
    serde_json::to_writer(&mut body, &feast)
        .map_err(|e| ApiError::new(ErrorCode::InternalError, e.to_string()))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

#[derive(Serialize)]
struct FeastAnswer<'a> {
    metadata: FeastMetadata<'a>,
    results: Vec<FeastColumn<'a>>,
}

#[derive(Serialize)]
struct FeastMetadata<'a> {
    feature_names: Vec<&'a str>,
}

#[derive(Serialize)]
struct FeastColumn<'a> {
    values: Values<'a>,
    statuses: &'a [FeatureStatus],
    event_timestamps: EpochOr<'a>,
}

/// Feature values as a JSON list.
struct Values<'a>(&'a [FeatureValue]);

impl Serialize for Values<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(JsonValue))
    }
}

/// Event times as RFC 3339, the epoch where there is none (as Feast shows them).
struct EpochOr<'a>(&'a [Option<i64>], &'a TimeTexts);

impl Serialize for EpochOr<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|t| self.1.text(t.unwrap_or(0))))
    }
}

/// Each distinct event time of an answer formatted once: every feature of a view shares its
/// row's time, so an answer of 25 features from one view has one time, not 25.
struct TimeTexts(HashMap<i64, String>);

impl TimeTexts {
    fn of(answer: &OnlineAnswer) -> Self {
        let mut texts = HashMap::new();
        texts.insert(0, format_time(0));
        for column in &answer.columns {
            for time in column.event_timestamps.iter().flatten() {
                texts.entry(*time).or_insert_with(|| format_time(*time));
            }
        }
        Self(texts)
    }

    fn text(&self, time: i64) -> &str {
        self.0.get(&time).map_or("", String::as_str)
    }
}

/// One feature value as JSON: JSON has no NaN or infinity, so they travel as null; bytes as
/// base64; times as RFC 3339.
struct JsonValue<'a>(&'a FeatureValue);

impl Serialize for JsonValue<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let float = |v: f64, serializer: S| {
            if v.is_finite() {
                serializer.serialize_f64(v)
            } else {
                serializer.serialize_unit()
            }
        };
        match self.0 {
            FeatureValue::Null => serializer.serialize_unit(),
            FeatureValue::Bool(b) => serializer.serialize_bool(*b),
            FeatureValue::Int32(v) => serializer.serialize_i32(*v),
            FeatureValue::Int64(v) => serializer.serialize_i64(*v),
            FeatureValue::Float32(v) => float(f64::from(*v), serializer),
            FeatureValue::Float64(v) => float(*v, serializer),
            FeatureValue::String(s) => serializer.serialize_str(s),
            FeatureValue::Bytes(b) => {
                serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
            }
            FeatureValue::Timestamp(t) => serializer.serialize_str(&format_time(*t)),
        }
    }
}

/// Galley's layout: one vector per entity row, in the order of `feature_names`.
pub async fn online_vectors(
    State(s): State<AppState>,
    JsonBody(body): JsonBody<OnlineBody>,
) -> Reply {
    let answer = read_online(&s, body).await?;
    let times = TimeTexts::of(&answer);
    let rows = answer.columns.first().map_or(0, |c| c.values.len());
    let vectors: Vec<Value> = (0..rows)
        .map(|row| {
            json!({
                "values": answer.columns.iter().map(|c| value_to_json(&c.values[row])).collect::<Vec<_>>(),
                "statuses": answer.columns.iter().map(|c| c.statuses[row]).collect::<Vec<_>>(),
                "event_timestamps": answer
                    .columns
                    .iter()
                    .map(|c| c.event_timestamps[row].map(|t| times.text(t)))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({
        "feature_names": answer.columns.iter().map(|c| &c.name).collect::<Vec<_>>(),
        "vectors": vectors,
    })))
}

/// A JSON object of columns in the order the client wrote them: answers list entity columns
/// in request order, as Feast does.
pub struct Columns(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Columns {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Columns;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of columns, each a list of values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Columns, A::Error> {
                let mut columns = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    if columns.iter().any(|(name, _)| *name == entry.0) {
                        return Err(serde::de::Error::custom(format!(
                            "column {:?} appears twice",
                            entry.0
                        )));
                    }
                    columns.push(entry);
                }
                Ok(Columns(columns))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

fn columns_from_json(columns: Columns) -> ApiResult<Vec<(String, Vec<FeatureValue>)>> {
    columns
        .0
        .into_iter()
        .map(|(name, values)| {
            let Value::Array(values) = values else {
                return Err(ApiError::invalid(format!(
                    "{name}: expected a list of values, one per row"
                )));
            };
            let values = values
                .into_iter()
                .map(|v| value_from_json(v).map_err(|e| ApiError::invalid(format!("{name}: {e}"))))
                .collect::<ApiResult<Vec<_>>>()?;
            Ok((name, values))
        })
        .collect()
}

fn value_from_json(value: Value) -> Result<FeatureValue, String> {
    Ok(match value {
        Value::Null => FeatureValue::Null,
        Value::Bool(b) => FeatureValue::Bool(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => FeatureValue::Int64(i),
            None => FeatureValue::Float64(n.as_f64().ok_or("a number out of range")?),
        },
        Value::String(s) => FeatureValue::String(s),
        other => return Err(format!("{other} is not a single value")),
    })
}

fn value_to_json(value: &FeatureValue) -> Value {
    serde_json::to_value(JsonValue(value)).unwrap_or(Value::Null)
}
