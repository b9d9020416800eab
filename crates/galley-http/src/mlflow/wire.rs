//! MLflow's JSON shapes and the only conversions between them and the tracking domain.
//!
//! MLflow's protobuf JSON writes int64 as numbers or strings and non-finite doubles as the strings
//! "NaN", "Infinity" and "-Infinity"; inputs accept every form and outputs use the protobuf one.

use galley_tracking::model::*;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Visits the JSON forms MLflow clients send for numbers, without buffering the value.
struct Lenient<T>(std::marker::PhantomData<T>);

impl<'de> serde::de::Visitor<'de> for Lenient<i64> {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer or a numeric string")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format!("integer {v} is out of range")))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && v.abs() < 9.2e18 {
            Ok(Some(v as i64))
        } else {
            Err(E::custom(format!("expected an integer, got {v}")))
        }
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.is_empty() {
            return Ok(None);
        }
        v.parse()
            .map(Some)
            .map_err(|_| E::custom(format!("expected an integer, got '{v}'")))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Lenient<f64> {
    type Value = Option<f64>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number, \"NaN\", \"Infinity\" or \"-Infinity\"")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v {
            "NaN" | "nan" => Ok(Some(f64::NAN)),
            "Infinity" | "inf" => Ok(Some(f64::INFINITY)),
            "-Infinity" | "-inf" => Ok(Some(f64::NEG_INFINITY)),
            other => other
                .parse()
                .map(Some)
                .map_err(|_| E::custom(format!("expected a number, got '{other}'"))),
        }
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// A string field some clients send as a number: enum fields as their protobuf number, model
/// versions as `3` rather than `"3"`.
pub fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => {
            return Err(serde::de::Error::custom(format!(
                "expected a string or a number, got {other}"
            )))
        }
    })
}

/// An int64 field that arrives as a JSON number or a numeric string.
pub fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(Lenient::<i64>(std::marker::PhantomData))
}

/// A double field that arrives as a number or as protobuf's string spellings.
pub fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_any(Lenient::<f64>(std::marker::PhantomData))
}

fn proto_f64<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.is_nan() {
        s.serialize_str("NaN")
    } else if value.is_infinite() {
        s.serialize_str(if *value > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        })
    } else {
        s.serialize_f64(*value)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyValueDto {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

impl From<&KeyValue> for KeyValueDto {
    fn from(kv: &KeyValue) -> Self {
        KeyValueDto {
            key: kv.key.clone(),
            value: kv.value.clone(),
        }
    }
}

impl From<KeyValueDto> for KeyValue {
    fn from(dto: KeyValueDto) -> Self {
        KeyValue::new(dto.key, dto.value)
    }
}

pub fn key_values(dtos: Vec<KeyValueDto>) -> Vec<KeyValue> {
    dtos.into_iter().map(Into::into).collect()
}

fn dtos(pairs: &[KeyValue]) -> Vec<KeyValueDto> {
    pairs.iter().map(Into::into).collect()
}

#[derive(Debug, Serialize)]
pub struct ExperimentDto {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: &'static str,
    pub last_update_time: i64,
    pub creation_time: i64,
    pub tags: Vec<KeyValueDto>,
}

impl From<&Experiment> for ExperimentDto {
    fn from(e: &Experiment) -> Self {
        ExperimentDto {
            experiment_id: e.experiment_id.clone(),
            name: e.name.clone(),
            artifact_location: e.artifact_location.clone(),
            lifecycle_stage: e.lifecycle_stage.as_str(),
            last_update_time: e.last_update_time,
            creation_time: e.creation_time,
            tags: dtos(&e.tags),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricDto {
    pub key: String,
    #[serde(
        serialize_with = "proto_f64",
        deserialize_with = "lenient_f64_required"
    )]
    pub value: f64,
    #[serde(default, deserialize_with = "lenient_i64_default")]
    pub timestamp: i64,
    #[serde(default, deserialize_with = "lenient_i64_default")]
    pub step: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

fn lenient_f64_required<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    lenient_f64(d)?.ok_or_else(|| serde::de::Error::custom("missing metric value"))
}

fn lenient_i64_default<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(lenient_i64(d)?.unwrap_or(0))
}

impl MetricDto {
    pub fn from_metric(m: &Metric, run_id: Option<&str>) -> Self {
        MetricDto {
            key: m.key.clone(),
            value: m.value,
            timestamp: m.timestamp,
            step: m.step,
            dataset_name: m.dataset_name.clone(),
            dataset_digest: m.dataset_digest.clone(),
            model_id: m.model_id.clone(),
            run_id: run_id.map(str::to_string),
        }
    }
}

impl From<MetricDto> for Metric {
    fn from(dto: MetricDto) -> Self {
        Metric {
            key: dto.key,
            value: dto.value,
            timestamp: dto.timestamp,
            step: dto.step,
            model_id: dto.model_id,
            dataset_name: dto.dataset_name,
            dataset_digest: dto.dataset_digest,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RunInfoDto {
    pub run_id: String,
    pub run_uuid: String,
    pub run_name: String,
    pub experiment_id: String,
    pub user_id: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: &'static str,
}

impl From<&RunInfo> for RunInfoDto {
    fn from(i: &RunInfo) -> Self {
        RunInfoDto {
            run_id: i.run_id.clone(),
            run_uuid: i.run_id.clone(),
            run_name: i.run_name.clone(),
            experiment_id: i.experiment_id.clone(),
            user_id: i.user_id.clone(),
            status: i.status.as_str(),
            start_time: i.start_time,
            end_time: i.end_time,
            artifact_uri: i.artifact_uri.clone(),
            lifecycle_stage: i.lifecycle_stage.as_str(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetDto {
    pub name: String,
    pub digest: String,
    #[serde(default)]
    pub source_type: String,
    #[serde(default)]
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetInputDto {
    #[serde(default)]
    pub tags: Vec<KeyValueDto>,
    pub dataset: DatasetDto,
}

impl From<&DatasetInput> for DatasetInputDto {
    fn from(input: &DatasetInput) -> Self {
        let d = &input.dataset;
        DatasetInputDto {
            tags: dtos(&input.tags),
            dataset: DatasetDto {
                name: d.name.clone(),
                digest: d.digest.clone(),
                source_type: d.source_type.clone(),
                source: d.source.clone(),
                schema: d.schema.clone(),
                profile: d.profile.clone(),
            },
        }
    }
}

impl From<DatasetInputDto> for DatasetInput {
    fn from(dto: DatasetInputDto) -> Self {
        let d = dto.dataset;
        DatasetInput {
            tags: key_values(dto.tags),
            dataset: Dataset {
                name: d.name,
                digest: d.digest,
                source_type: d.source_type,
                source: d.source,
                schema: d.schema,
                profile: d.profile,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelIdDto {
    pub model_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelOutputDto {
    pub model_id: String,
    #[serde(default, deserialize_with = "lenient_i64_default")]
    pub step: i64,
}

#[derive(Debug, Serialize)]
pub struct RunDataDto {
    pub metrics: Vec<MetricDto>,
    pub params: Vec<KeyValueDto>,
    pub tags: Vec<KeyValueDto>,
}

#[derive(Debug, Serialize)]
pub struct RunInputsDto {
    pub dataset_inputs: Vec<DatasetInputDto>,
    pub model_inputs: Vec<ModelIdDto>,
}

#[derive(Debug, Serialize)]
pub struct RunOutputsDto {
    pub model_outputs: Vec<ModelOutputDto>,
}

#[derive(Debug, Serialize)]
pub struct RunDto {
    pub info: RunInfoDto,
    pub data: RunDataDto,
    pub inputs: RunInputsDto,
    pub outputs: RunOutputsDto,
}

impl From<&Run> for RunDto {
    fn from(run: &Run) -> Self {
        RunDto {
            info: (&run.info).into(),
            data: RunDataDto {
                metrics: run
                    .metrics
                    .iter()
                    .map(|m| MetricDto::from_metric(m, None))
                    .collect(),
                params: dtos(&run.params),
                tags: dtos(&run.tags),
            },
            inputs: RunInputsDto {
                dataset_inputs: run.dataset_inputs.iter().map(Into::into).collect(),
                model_inputs: run
                    .model_inputs
                    .iter()
                    .map(|id| ModelIdDto {
                        model_id: id.clone(),
                    })
                    .collect(),
            },
            outputs: RunOutputsDto {
                model_outputs: run
                    .model_outputs
                    .iter()
                    .map(|o| ModelOutputDto {
                        model_id: o.model_id.clone(),
                        step: o.step,
                    })
                    .collect(),
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LoggedModelInfoDto {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub artifact_uri: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
    pub tags: Vec<KeyValueDto>,
}

#[derive(Debug, Serialize)]
pub struct LoggedModelDataDto {
    pub params: Vec<KeyValueDto>,
    pub metrics: Vec<MetricDto>,
}

#[derive(Debug, Serialize)]
pub struct LoggedModelDto {
    pub info: LoggedModelInfoDto,
    pub data: LoggedModelDataDto,
}

impl From<&LoggedModel> for LoggedModelDto {
    fn from(m: &LoggedModel) -> Self {
        LoggedModelDto {
            info: LoggedModelInfoDto {
                model_id: m.model_id.clone(),
                experiment_id: m.experiment_id.clone(),
                name: m.name.clone(),
                creation_timestamp_ms: m.creation_timestamp_ms,
                last_updated_timestamp_ms: m.last_updated_timestamp_ms,
                artifact_uri: m.artifact_uri.clone(),
                status: m.status.as_str(),
                status_message: m.status_message.clone(),
                model_type: m.model_type.clone(),
                source_run_id: m.source_run_id.clone(),
                tags: dtos(&m.tags),
            },
            data: LoggedModelDataDto {
                params: dtos(&m.params),
                metrics: m
                    .metrics
                    .iter()
                    .map(|x| MetricDto::from_metric(&x.metric, Some(&x.run_id)))
                    .collect(),
            },
        }
    }
}

/// Omitted on the last page: the client checks the token's presence, not its emptiness.
pub fn next_page_token(next_offset: Option<u64>) -> Option<String> {
    next_offset.map(galley_core::page::encode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_accept_protobuf_spellings_and_write_them_back() {
        let dto: MetricDto = serde_json::from_str(
            r#"{"key":"m","value":"NaN","timestamp":"1700000000000","step":"3"}"#,
        )
        .unwrap();
        assert!(dto.value.is_nan());
        assert_eq!((dto.timestamp, dto.step), (1_700_000_000_000, 3));
        for (value, text) in [
            (f64::INFINITY, "\"Infinity\""),
            (f64::NEG_INFINITY, "\"-Infinity\""),
            (0.5, "0.5"),
        ] {
            let json = serde_json::to_string(&MetricDto {
                value,
                ..dto.clone()
            })
            .unwrap();
            assert!(json.contains(&format!("\"value\":{text}")), "{json}");
        }
        assert!(serde_json::from_str::<MetricDto>(r#"{"key":"m","value":"abc"}"#).is_err());
        assert!(serde_json::from_str::<MetricDto>(r#"{"key":"m","value":1,"step":1.5}"#).is_err());
    }
}
