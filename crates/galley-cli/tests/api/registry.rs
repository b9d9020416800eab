//! The MLflow registry over HTTP: the happy path once, then every bad input leaving nothing behind.

use serde_json::{json, Value};

use crate::app::{spawn_app, TestApp};

fn code(body: &Value) -> Option<&str> {
    body["error_code"].as_str()
}

async fn register(app: &TestApp, name: &str, run_id: &str) -> Value {
    let source = format!("runs:/{run_id}/model");
    let (status, body) = app
        .post(
            "model-versions/create",
            json!({ "name": name, "source": source, "run_id": run_id }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["model_version"].clone()
}

#[tokio::test]
async fn versions_aliases_and_stages_round_trip() {
    let app = spawn_app().await;
    let run = app.create_run().await;
    let (status, body) = app
        .post(
            "registered-models/create",
            json!({ "name": "fraud", "tags": [{ "key": "team", "value": "risk" }] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(register(&app, "fraud", &run).await["version"], "1");
    assert_eq!(register(&app, "fraud", &run).await["version"], "2");

    let (status, _) = app
        .post(
            "registered-models/alias",
            json!({ "name": "fraud", "alias": "champion", "version": 2 }),
        )
        .await;
    assert_eq!(status, 200);
    let (_, body) = app
        .get(
            "registered-models/alias",
            &[("name", "fraud"), ("alias", "champion")],
        )
        .await;
    assert_eq!(body["model_version"]["version"], "2");

    let (status, body) = app
        .post(
            "model-versions/transition-stage",
            json!({ "name": "fraud", "version": "1", "stage": "production",
                    "archive_existing_versions": true }),
        )
        .await;
    assert_eq!(
        (status, body["model_version"]["current_stage"].as_str()),
        (200, Some("Production"))
    );

    let (status, body) = app
        .post(
            "registered-models/rename",
            json!({ "name": "fraud", "new_name": "fraud-v2" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = app
        .get("registered-models/get", &[("name", "fraud-v2")])
        .await;
    let model = &body["registered_model"];
    assert_eq!(
        model["aliases"],
        json!([{ "alias": "champion", "version": "2" }])
    );
    assert_eq!(model["tags"], json!([{ "key": "team", "value": "risk" }]));
    let (_, body) = app
        .get(
            "model-versions/search",
            &[
                ("filter", "name = 'fraud-v2'"),
                ("order_by", "version_number DESC"),
            ],
        )
        .await;
    let versions: Vec<&str> = body["model_versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2", "1"]);
}

#[tokio::test]
async fn bad_registry_input_is_a_4xx_and_changes_nothing() {
    let app = spawn_app().await;
    let run = app.create_run().await;
    let other_run = app.create_run().await;
    app.post("registered-models/create", json!({ "name": "m" }))
        .await;
    register(&app, "m", &run).await;

    let (status, body) = app
        .post("registered-models/create", json!({ "name": "m" }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, Some("RESOURCE_ALREADY_EXISTS"))
    );

    let (status, body) = app
        .get("model-versions/get", &[("name", "m"), ("version", "7")])
        .await;
    assert_eq!(
        (status, code(&body)),
        (404, Some("RESOURCE_DOES_NOT_EXIST"))
    );
    let (status, body) = app
        .get("model-versions/get", &[("name", "m"), ("version", "abc")])
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );

    for alias in ["latest", "v3", "has space"] {
        let (status, body) = app
            .post(
                "registered-models/alias",
                json!({ "name": "m", "alias": alias, "version": "1" }),
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (400, Some("INVALID_PARAMETER_VALUE")),
            "{alias}"
        );
    }
    let (status, body) = app
        .get(
            "registered-models/alias",
            &[("name", "m"), ("alias", "nobody")],
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );

    // A source that names another run than the request, or a run that does not exist.
    let (status, body) = app
        .post(
            "model-versions/create",
            json!({ "name": "m", "source": format!("runs:/{run}/model"), "run_id": other_run }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );
    let (status, _) = app
        .post(
            "model-versions/create",
            json!({ "name": "m", "source": "runs:/f00/model", "run_id": "f00" }),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = app
        .post(
            "model-versions/transition-stage",
            json!({ "name": "m", "version": "1", "stage": "Bogus" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );
    let (status, body) = app
        .get("registered-models/search", &[("max_results", "1001")])
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );

    // None of the failed requests left anything behind.
    let (_, body) = app.get("registered-models/get", &[("name", "m")]).await;
    let model = &body["registered_model"];
    assert!(model.get("aliases").is_none(), "{model}");
    assert_eq!(model["latest_versions"][0]["version"], "1");
    assert_eq!(model["latest_versions"][0]["current_stage"], "None");
    let (_, body) = app
        .get("model-versions/search", &[("filter", "name = 'm'")])
        .await;
    assert_eq!(body["model_versions"].as_array().unwrap().len(), 1);

    // Deleting a model with aliases takes its versions and aliases with it.
    app.post(
        "registered-models/alias",
        json!({ "name": "m", "alias": "champion", "version": "1" }),
    )
    .await;
    let (status, _) = app
        .send("DELETE", "registered-models/delete", json!({ "name": "m" }))
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .get(
            "registered-models/alias",
            &[("name", "m"), ("alias", "champion")],
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn registry_routes_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let document: Value = app.call("GET", "/api/v1/openapi.json", None).await.1;
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/2.0/mlflow/registered-models/create"));
    assert!(paths["/api/2.0/mlflow/registered-models/alias"]
        .as_object()
        .unwrap()
        .contains_key("delete"));
}

#[tokio::test]
async fn native_cards_lineage_and_signatures() {
    let app = spawn_app().await;
    let run = app.create_run().await;
    app.post("registered-models/create", json!({ "name": "m" }))
        .await;
    register(&app, "m", &run).await;
    let path = |tail: &str| format!("/api/v1/models/m/versions/1/{tail}");

    assert_eq!(app.call("GET", &path("card"), None).await.0, 404);
    let empty_owner = json!({ "intended_use": "demo", "owners": [""] });
    let (status, _) = app.call("PUT", &path("card"), Some(&empty_owner)).await;
    assert_eq!(status, 400, "an empty owner is refused");
    let card = json!({ "intended_use": "demo", "owners": ["a"] });
    assert_eq!(app.call("PUT", &path("card"), Some(&card)).await.0, 200);
    let (_, stored) = app.call("GET", &path("card"), None).await;
    assert_eq!(stored["card"]["owners"], json!(["a"]));
    let response = app
        .http
        .get(app.url(&path("card/markdown")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("## Intended use\n\ndemo"));

    let (_, lineage) = app.call("GET", &path("lineage"), None).await;
    assert_eq!(lineage["run"]["run_id"], run.as_str());
    assert_eq!(lineage["experiment"]["experiment_id"], "0");

    // A runs:/ source without an ONNX file has no signature.
    assert_eq!(app.call("GET", &path("signature"), None).await.0, 404);
    let (status, _) = app
        .call("GET", "/api/v1/models/m/versions/x/lineage", None)
        .await;
    assert_eq!(status, 400);
}

/// An sklearn model exported by skl2onnx (see scripts/make_onnx_fixtures.py).
const IRIS_ONNX: &[u8] =
    include_bytes!("../../../galley-onnx/tests/fixtures/logistic_regression_iris.onnx");

#[tokio::test]
async fn onnx_signatures_are_detected_at_registration() {
    let app = spawn_app().await;
    let run = app.create_run().await;
    let (_, body) = app.get("runs/get", &[("run_id", &run)]).await;
    let artifact_uri = body["run"]["info"]["artifact_uri"].as_str().unwrap();
    let artifact_dir = artifact_uri.trim_start_matches("mlflow-artifacts:/");
    for (file, bytes) in [
        ("model/nested/model.onnx", IRIS_ONNX),
        (
            "model/MLmodel",
            b"flavors:\n  onnx:\n    data: nested/model.onnx\n".as_slice(),
        ),
        ("broken/model.onnx", b"not onnx".as_slice()),
    ] {
        let response = app
            .http
            .put(app.url(&format!(
                "/api/2.0/mlflow-artifacts/artifacts/{artifact_dir}/{file}"
            )))
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    app.post("registered-models/create", json!({ "name": "iris" }))
        .await;
    let version = register(&app, "iris", &run).await;
    assert_eq!(version["version"], "1");
    let signature: Value = app
        .call("GET", "/api/v1/models/iris/versions/1/signature", None)
        .await
        .1;
    let signature = &signature["signature"];
    assert_eq!(signature["format"], "onnx");
    assert_eq!(signature["path"], "nested/model.onnx");
    assert_eq!(
        signature["inputs"][0],
        json!({ "name": "X", "datatype": "FP32", "shape": [null, 4] })
    );
    assert_eq!(signature["outputs"][0]["name"], "output_label");

    // A file that is not a model registers anyway, without a signature.
    let (status, _) = app
        .post(
            "model-versions/create",
            json!({ "name": "iris", "source": format!("runs:/{run}/broken"), "run_id": run }),
        )
        .await;
    assert_eq!(status, 200);
    let response = app
        .http
        .get(app.url("/api/v1/models/iris/versions/2/signature"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}
