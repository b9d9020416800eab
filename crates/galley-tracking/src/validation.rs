//! MLflow's input limits and naming rules, with MLflow's messages, checked before anything is written.

use crate::error::{Result, TrackingError};
use crate::model::{KeyValue, Metric};

pub const MAX_ENTITY_KEY_LENGTH: usize = 250;
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
pub const MAX_TAG_VALUE_LENGTH: usize = 8000;
pub const MAX_EXPERIMENT_TAG_VALUE_LENGTH: usize = 5000;
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
/// MLflow accepts up to 50,000 results per search page.
pub const MAX_RESULTS_PER_SEARCH: u32 = 50_000;

fn invalid(message: String) -> TrackingError {
    TrackingError::InvalidParameter(message)
}

/// Keys may become file names (artifact paths, CSV columns), so MLflow restricts them to a
/// path-like alphabet and to paths that are already normalised.
pub fn validate_key(kind: &str, key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(invalid(format!(
            "Invalid {kind} name: '{key}'. Names must not be empty."
        )));
    }
    if key.chars().count() > MAX_ENTITY_KEY_LENGTH {
        return Err(invalid(format!(
            "{kind} name '{}...' had length {}, which exceeded length limit of {MAX_ENTITY_KEY_LENGTH}",
            key.chars().take(20).collect::<String>(),
            key.chars().count()
        )));
    }
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | ':' | '/');
    if !key.chars().all(allowed) {
        return Err(invalid(format!(
            "Invalid {kind} name: '{key}'. Names may only contain alphanumerics, underscores (_), \
             dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."
        )));
    }
    let normalised = !key.starts_with('/')
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if !normalised {
        return Err(invalid(format!(
            "Invalid {kind} name: '{key}'. Names may be treated as files in certain cases, and \
             must not resolve to other names when treated as such. This name would resolve to '{}'",
            normalise_path(key)
        )));
    }
    Ok(())
}

fn normalise_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

fn validate_length(what: &str, key: &str, value: &str, limit: usize) -> Result<()> {
    let len = value.chars().count();
    if len > limit {
        return Err(invalid(format!(
            "{what} value '{}...' for key '{key}' had length {len}, which exceeded length limit of {limit}",
            value.chars().take(20).collect::<String>()
        )));
    }
    Ok(())
}

pub fn validate_param(param: &KeyValue) -> Result<()> {
    validate_key("parameter", &param.key)?;
    validate_length("Param", &param.key, &param.value, MAX_PARAM_VALUE_LENGTH)
}

pub fn validate_tag(tag: &KeyValue) -> Result<()> {
    validate_key("tag", &tag.key)?;
    validate_length("Tag", &tag.key, &tag.value, MAX_TAG_VALUE_LENGTH)
}

pub fn validate_experiment_tag(tag: &KeyValue) -> Result<()> {
    validate_key("tag", &tag.key)?;
    validate_length(
        "Experiment tag",
        &tag.key,
        &tag.value,
        MAX_EXPERIMENT_TAG_VALUE_LENGTH,
    )
}

pub fn validate_metric(metric: &Metric) -> Result<()> {
    validate_key("metric", &metric.key)
}

pub fn validate_experiment_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(invalid(format!(
            "Invalid experiment name: '{name}'. Experiment name must not be empty."
        )));
    }
    let len = name.chars().count();
    if len > MAX_EXPERIMENT_NAME_LENGTH {
        return Err(invalid(format!(
            "Experiment name exceeded maximum length of {MAX_EXPERIMENT_NAME_LENGTH} (got {len})."
        )));
    }
    Ok(())
}

/// MLflow's batch limits, checked as a whole so an oversize batch writes nothing.
pub fn validate_batch(metrics: &[Metric], params: &[KeyValue], tags: &[KeyValue]) -> Result<()> {
    if metrics.len() > MAX_METRICS_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics. Got {} metrics. \
             Please split up metrics across multiple requests and try again.",
            metrics.len()
        )));
    }
    if params.len() > MAX_PARAMS_TAGS_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} params. Got {} params. \
             Please split up params across multiple requests and try again.",
            params.len()
        )));
    }
    if tags.len() > MAX_PARAMS_TAGS_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} tags. Got {} tags. \
             Please split up tags across multiple requests and try again.",
            tags.len()
        )));
    }
    let total = metrics.len() + params.len() + tags.len();
    if total > MAX_ENTITIES_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, params, and tags \
             in total. Got {total} entities."
        )));
    }
    metrics.iter().try_for_each(validate_metric)?;
    params.iter().try_for_each(validate_param)?;
    tags.iter().try_for_each(validate_tag)?;
    // The same key twice with different values in one batch has no single meaning.
    for (i, p) in params.iter().enumerate() {
        if params[..i]
            .iter()
            .any(|q| q.key == p.key && q.value != p.value)
        {
            return Err(invalid(format!(
                "Duplicate parameter keys have been submitted with different values: '{}'",
                p.key
            )));
        }
    }
    Ok(())
}

pub fn validate_max_results(max_results: u32) -> Result<()> {
    if max_results == 0 || max_results > MAX_RESULTS_PER_SEARCH {
        return Err(invalid(format!(
            "Invalid value {max_results} for parameter 'max_results' supplied. It must be a positive \
             integer at most {MAX_RESULTS_PER_SEARCH}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        for ok in ["acc", "train/loss", "a b", "x:y", "lr-1.0", "ünïcode"] {
            assert!(validate_key("metric", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a//b",
            "/abs",
            "a/../b",
            "./a",
            "a/",
            "semi;colon",
            &"k".repeat(251),
        ] {
            assert!(validate_key("metric", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn batch_limits() {
        let metric = |i: usize| Metric {
            key: format!("m{i}"),
            value: 1.0,
            timestamp: 0,
            step: 0,
            model_id: None,
            dataset_name: None,
            dataset_digest: None,
        };
        let metrics: Vec<_> = (0..1001).map(metric).collect();
        assert!(validate_batch(&metrics, &[], &[]).is_err());
        assert!(validate_batch(&metrics[..1000], &[], &[]).is_ok());
        let params: Vec<_> = (0..101)
            .map(|i| KeyValue::new(format!("p{i}"), "v"))
            .collect();
        assert!(validate_batch(&[], &params, &[]).is_err());
        assert!(validate_batch(&metrics[..950], &params[..51], &[]).is_err());
        let dup = [KeyValue::new("a", "1"), KeyValue::new("a", "2")];
        assert!(validate_batch(&[], &dup, &[]).is_err());
        let same = [KeyValue::new("a", "1"), KeyValue::new("a", "1")];
        assert!(validate_batch(&[], &same, &[]).is_ok());
    }

    #[test]
    fn value_lengths() {
        assert!(validate_param(&KeyValue::new("p", "x".repeat(6000))).is_ok());
        assert!(validate_param(&KeyValue::new("p", "x".repeat(6001))).is_err());
        assert!(validate_tag(&KeyValue::new("t", "x".repeat(8001))).is_err());
        assert!(validate_experiment_tag(&KeyValue::new("t", "x".repeat(5001))).is_err());
        assert!(validate_experiment_name(&"e".repeat(501)).is_err());
        assert!(validate_experiment_name("  ").is_err());
    }
}
