//! MLflow's registry rules: model names, aliases, versions and where a version's source may point.

use crate::error::{RegistryError, Result};
use crate::model::ModelCard;

pub const MAX_ALIAS_LENGTH: usize = 255;

pub fn validate_model_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(RegistryError::InvalidParameter(
            "Registered model name cannot be empty.".into(),
        ));
    }
    if name.contains('/') || name.contains(':') {
        return Err(RegistryError::InvalidParameter(format!(
            "Invalid model name: '{name}'. Names cannot contain '/' or ':', which URIs use as separators."
        )));
    }
    Ok(())
}

/// Aliases are `[A-Za-z0-9_-]+`, at most 255 characters; `latest` and `v<N>` are reserved
/// because `models:/name@latest` and `models:/name/N` already mean something.
pub fn validate_alias(alias: &str) -> Result<()> {
    let invalid = |why: &str| {
        Err(RegistryError::InvalidParameter(format!(
            "Invalid alias name: '{alias}'. {why}"
        )))
    };
    if alias.is_empty() || alias.len() > MAX_ALIAS_LENGTH {
        return invalid("Aliases must be 1 to 255 characters long.");
    }
    if !alias
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return invalid("Aliases may only contain alphanumerics, underscores and dashes.");
    }
    let lower = alias.to_ascii_lowercase();
    let version_like =
        lower.len() > 1 && lower.starts_with('v') && lower[1..].chars().all(|c| c.is_ascii_digit());
    if lower == "latest" || version_like {
        return invalid("'latest' and 'v<number>' are reserved.");
    }
    Ok(())
}

/// Versions are positive integers, sent as strings.
pub fn parse_version(version: &str) -> Result<i64> {
    version
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| {
            RegistryError::InvalidParameter(format!(
                "Model version must be a positive integer, got '{version}'"
            ))
        })
}

/// Model cards are documents, not storage: bounded so one card cannot bloat every lineage read.
pub const MAX_CARD_FIELD_BYTES: usize = 64 * 1024;
pub const MAX_CARD_MARKDOWN_BYTES: usize = 1024 * 1024;
pub const MAX_CARD_OWNERS: usize = 100;

pub fn validate_card(card: &ModelCard) -> Result<()> {
    let invalid = |message: String| Err(RegistryError::InvalidParameter(message));
    for (field, text) in [
        ("intended_use", &card.intended_use),
        ("limitations", &card.limitations),
        ("training_data", &card.training_data),
    ] {
        if text.len() > MAX_CARD_FIELD_BYTES {
            return invalid(format!(
                "Model card field '{field}' is {} bytes; the limit is {MAX_CARD_FIELD_BYTES}.",
                text.len()
            ));
        }
    }
    if card.markdown.len() > MAX_CARD_MARKDOWN_BYTES {
        return invalid(format!(
            "Model card markdown is {} bytes; the limit is {MAX_CARD_MARKDOWN_BYTES}.",
            card.markdown.len()
        ));
    }
    if card.owners.len() > MAX_CARD_OWNERS {
        return invalid(format!(
            "A model card lists at most {MAX_CARD_OWNERS} owners, got {}.",
            card.owners.len()
        ));
    }
    if let Some(bad) = card
        .owners
        .iter()
        .find(|o| o.trim().is_empty() || o.len() > 255)
    {
        return invalid(format!(
            "Model card owner '{bad}' must be 1 to 255 characters."
        ));
    }
    Ok(())
}

/// A `runs:/` or `models:/m-` source must name the run or logged model the request names, so a
/// version's lineage can never point somewhere its files did not come from.
pub fn check_source_owner(
    source: &str,
    run_id: Option<&str>,
    model_id: Option<&str>,
) -> Result<()> {
    let mismatch = |parameter: &str| {
        RegistryError::InvalidParameter(format!(
            "Invalid model version source: '{source}'. The {parameter} request parameter must \
             identify the resource that contains the source."
        ))
    };
    if let Some(rest) = source.strip_prefix("runs:/") {
        let owner = rest.split('/').next().unwrap_or_default();
        if run_id != Some(owner) {
            return Err(mismatch("run_id"));
        }
    }
    if let Some(owner) = logged_model_source(source) {
        if model_id != Some(owner) {
            return Err(mismatch("model_id"));
        }
    }
    Ok(())
}

/// The logged-model id in a `models:/m-<id>` source.
pub fn logged_model_source(source: &str) -> Option<&str> {
    source
        .strip_prefix("models:/")
        .map(|id| id.trim_end_matches('/'))
        .filter(|id| id.starts_with("m-") && !id.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_follow_mlflow_rules() {
        for ok in ["champion", "prod-2024", "a_b", "v", "version1", "v1a"] {
            assert!(validate_alias(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "latest",
            "LATEST",
            "v1",
            "V22",
            "has space",
            "slash/x",
            &"a".repeat(256),
        ] {
            assert!(validate_alias(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_versions() {
        assert!(validate_model_name("fraud-model").is_ok());
        assert!(validate_model_name(" ").is_err());
        assert!(validate_model_name("a/b").is_err());
        assert_eq!(parse_version("3").unwrap(), 3);
        assert!(parse_version("0").is_err());
        assert!(parse_version("x").is_err());
    }

    #[test]
    fn sources_must_name_their_owner() {
        let run = "runs:/abc/model";
        assert!(check_source_owner(run, Some("abc"), None).is_ok());
        assert!(check_source_owner(run, Some("xyz"), None).is_err());
        assert!(check_source_owner(run, None, None).is_err());
        let model = "models:/m-123";
        assert!(check_source_owner(model, None, Some("m-123")).is_ok());
        assert!(check_source_owner(model, Some("abc"), None).is_err());
        assert!(check_source_owner(model, None, Some("m-999")).is_err());
        assert!(check_source_owner("s3://bucket/model", None, None).is_ok());
        assert!(check_source_owner("models:/fraud/3", None, None).is_ok());
        assert_eq!(logged_model_source("models:/m-1/"), Some("m-1"));
        assert_eq!(logged_model_source("models:/fraud/1"), None);
    }

    #[test]
    fn cards_are_bounded() {
        assert!(validate_card(&ModelCard::default()).is_ok());
        let owners = ModelCard {
            owners: vec![" ".into()],
            ..Default::default()
        };
        assert!(validate_card(&owners).is_err());
        let huge = ModelCard {
            limitations: "x".repeat(MAX_CARD_FIELD_BYTES + 1),
            ..Default::default()
        };
        assert!(validate_card(&huge).is_err());
    }
}
