//! Rendering a model card as markdown: the card's own fields plus what the registry and the
//! version's run already know (stage, aliases, datasets, evaluation metrics, signature).

use std::fmt::Write as _;

use galley_tracking::model::Run;

use crate::model::{ModelCard, ModelVersion, TensorSpec};

/// The card of `version`, with facts pulled from `run` (the run that produced it) when known.
pub fn render(version: &ModelVersion, card: &ModelCard, run: Option<&Run>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {} — version {}\n", version.name, version.version);
    out.push_str("| | |\n|---|---|\n");
    row(&mut out, "Stage", version.current_stage.as_str());
    row(&mut out, "Aliases", &version.aliases.join(", "));
    row(&mut out, "Owners", &card.owners.join(", "));
    row(&mut out, "Source", &version.source);
    if let Some(run) = run {
        row(
            &mut out,
            "Run",
            &format!("{} ({})", run.info.run_id, run.info.run_name),
        );
    }
    if !version.description.is_empty() {
        row(&mut out, "Description", &version.description);
    }

    section(&mut out, "Intended use", &card.intended_use);
    section(&mut out, "Limitations", &card.limitations);

    let datasets: Vec<String> = run
        .map(|r| {
            r.dataset_inputs
                .iter()
                .map(|d| {
                    format!(
                        "- {} (digest {}, {} {})",
                        d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if !card.training_data.is_empty() || !datasets.is_empty() {
        out.push_str("\n## Training data\n\n");
        if !card.training_data.is_empty() {
            let _ = writeln!(out, "{}\n", card.training_data.trim_end());
        }
        for line in &datasets {
            let _ = writeln!(out, "{line}");
        }
    }

    if let Some(run) = run.filter(|r| !r.metrics.is_empty()) {
        out.push_str("\n## Evaluation metrics\n\n| metric | value |\n|---|---|\n");
        let mut metrics: Vec<_> = run.metrics.iter().collect();
        metrics.sort_by(|a, b| a.key.cmp(&b.key));
        for metric in metrics {
            row(&mut out, &metric.key, &metric.value.to_string());
        }
    }

    if let Some(signature) = &version.signature {
        let _ = writeln!(
            out,
            "\n## Signature\n\nFormat `{}`, file `{}`.\n\n| | name | datatype | shape |\n|---|---|---|---|",
            signature.format, signature.path
        );
        tensor_rows(&mut out, "input", &signature.inputs);
        tensor_rows(&mut out, "output", &signature.outputs);
    }

    section(&mut out, "Notes", &card.markdown);
    out
}

fn row(out: &mut String, key: &str, value: &str) {
    if !value.is_empty() {
        let _ = writeln!(out, "| {} | {} |", cell(key), cell(value));
    }
}

fn section(out: &mut String, title: &str, body: &str) {
    if !body.trim().is_empty() {
        let _ = writeln!(out, "\n## {title}\n\n{}", body.trim_end());
    }
}

fn tensor_rows(out: &mut String, role: &str, tensors: &[TensorSpec]) {
    for t in tensors {
        let shape: Vec<String> = t
            .shape
            .iter()
            .map(|d| d.map_or_else(|| "?".to_string(), |n| n.to_string()))
            .collect();
        let _ = writeln!(
            out,
            "| {role} | {} | {} | [{}] |",
            cell(&t.name),
            t.datatype,
            shape.join(", ")
        );
    }
}

/// A table cell: pipes and line breaks would end the cell or the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use galley_tracking::model::{KeyValue, LifecycleStage, Metric, RunInfo, RunStatus};

    use super::*;
    use crate::model::{ModelSignature, Stage};

    fn version() -> ModelVersion {
        ModelVersion {
            name: "fraud".into(),
            version: 3,
            creation_timestamp: 0,
            last_updated_timestamp: 0,
            user_id: String::new(),
            current_stage: Stage::Production,
            description: String::new(),
            source: "models:/m-1".into(),
            storage_location: "mlflow-artifacts:/1/models/m-1/artifacts".into(),
            run_id: Some("r1".into()),
            run_link: None,
            model_id: Some("m-1".into()),
            tags: vec![KeyValue::new("k", "v")],
            aliases: vec!["champion".into()],
            signature: Some(ModelSignature {
                format: "onnx".into(),
                path: "model.onnx".into(),
                inputs: vec![TensorSpec {
                    name: "float_input".into(),
                    datatype: "FP32".into(),
                    shape: vec![None, Some(4)],
                }],
                outputs: vec![],
            }),
        }
    }

    #[test]
    fn renders_card_fields_and_run_facts() {
        let run = Run {
            info: RunInfo {
                run_id: "r1".into(),
                run_name: "train".into(),
                experiment_id: "0".into(),
                user_id: String::new(),
                status: RunStatus::Finished,
                start_time: None,
                end_time: None,
                artifact_uri: String::new(),
                lifecycle_stage: LifecycleStage::Active,
            },
            metrics: vec![Metric {
                key: "auc".into(),
                value: 0.91,
                timestamp: 0,
                step: 0,
                model_id: None,
                dataset_name: None,
                dataset_digest: None,
            }],
            params: vec![],
            tags: vec![],
            dataset_inputs: vec![],
            model_inputs: vec![],
            model_outputs: vec![],
        };
        let card = ModelCard {
            intended_use: "Scoring card payments.".into(),
            limitations: "Not for | wire transfers".into(),
            owners: vec!["risk-team".into()],
            markdown: "Reviewed by **A**.".into(),
            ..Default::default()
        };
        let text = render(&version(), &card, Some(&run));
        assert!(text.starts_with("# fraud — version 3\n"), "{text}");
        assert!(text.contains("| Stage | Production |"));
        assert!(text.contains("| Aliases | champion |"));
        assert!(text.contains("| Owners | risk-team |"));
        assert!(text.contains("## Intended use\n\nScoring card payments."));
        assert!(text.contains("| auc | 0.91 |"));
        assert!(text.contains("| input | float_input | FP32 | [?, 4] |"));
        assert!(text.contains("Reviewed by **A**."));
        assert!(!text.contains("## Training data"), "{text}");
    }

    #[test]
    fn table_cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
