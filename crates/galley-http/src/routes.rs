//! The route table: every endpoint once, from which both the router and the OpenAPI document are built.

use axum::routing::MethodRouter;
use axum::Router;
use serde_json::{json, Map, Value};

use crate::AppState;

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub handler: MethodRouter<AppState>,
}

pub fn route(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    handler: MethodRouter<AppState>,
) -> Route {
    Route {
        method,
        path,
        summary,
        handler,
    }
}

/// Mounts `routes` under every prefix.
pub fn mount(
    mut router: Router<AppState>,
    prefixes: &[&str],
    routes: &[Route],
) -> Router<AppState> {
    for prefix in prefixes {
        for route in routes {
            router = router.route(&format!("{prefix}{}", route.path), route.handler.clone());
        }
    }
    router
}

/// An OpenAPI 3.1 document listing `(prefix, routes)` groups, with the shared error schema.
pub fn openapi(groups: &[(&str, &[Route])]) -> Value {
    let mut paths = Map::new();
    for (prefix, routes) in groups {
        for route in *routes {
            let operation = json!({
                "summary": route.summary,
                "responses": {
                    "200": { "description": "Success", "content": { "application/json": {} } },
                    "default": {
                        "description": "Error",
                        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
                    }
                }
            });
            let entry = paths
                .entry(format!("{prefix}{}", route.path))
                .or_insert_with(|| json!({}));
            entry[route.method.to_ascii_lowercase()] = operation;
        }
    }
    let codes: Vec<Value> = galley_core::ErrorCode::ALL
        .iter()
        .map(|c| json!(c.as_str()))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Galley",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Galley's HTTP API. Errors are {error_code, message}; each code has one HTTP status."
        },
        "paths": paths,
        "components": { "schemas": { "Error": {
            "type": "object",
            "required": ["error_code", "message"],
            "properties": {
                "error_code": { "type": "string", "enum": codes },
                "message": { "type": "string" }
            }
        } } }
    })
}
