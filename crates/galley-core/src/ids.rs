//! Identifier formats: MLflow-style 32-hex run ids and `m-`-prefixed logged-model ids.

/// A run id as MLflow makes them: a random UUID as 32 lowercase hex digits.
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A logged-model id as MLflow 3 makes them: `m-` then 32 hex digits.
pub fn new_logged_model_id() -> String {
    format!("m-{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_mlflow_shapes() {
        let run = new_run_id();
        assert_eq!(run.len(), 32);
        assert!(run.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(new_logged_model_id().starts_with("m-"));
        assert_ne!(new_run_id(), new_run_id());
    }
}
