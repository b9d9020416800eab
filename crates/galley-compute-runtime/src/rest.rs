//! The JSON-over-HTTP calls the Ray and Kubernetes executors make to their services: one request
//! (an optional bearer token and JSON body) whose only error is getting no answer, and a GET read
//! into a type where a 404 means absent. What an unsuccessful answer means is each service's own.

use std::time::Duration;

use bytes::Bytes;
use galley_compute::{ComputeError, Result};
use reqwest::{Method, StatusCode, Url};

/// Turns an unsuccessful answer (status and body) into the error it means for one service.
pub(crate) type Refusal = fn(StatusCode, &[u8]) -> ComputeError;

pub(crate) struct RestClient {
    http: reqwest::Client,
    /// Names the service in messages, e.g. `Ray at http://127.0.0.1:8265/`.
    service: String,
    bearer: Option<String>,
    refused: Refusal,
}

impl RestClient {
    pub fn new(service: String, bearer: Option<String>, refused: Refusal) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ComputeError::Unavailable(format!("{service}: HTTP client: {e}")))?;
        Ok(RestClient {
            http,
            service,
            bearer,
            refused,
        })
    }

    /// Sends one request; only a failure to get any answer is an error here.
    pub async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<(StatusCode, Bytes)> {
        let what = format!("{method} {}", url.path());
        let mut request = self.http.request(method, url);
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let unreachable =
            |e: reqwest::Error| ComputeError::Unavailable(format!("{}: {what}: {e}", self.service));
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        Ok((status, body))
    }

    /// A JSON answer read into `T`; `None` when the service answers 404.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, url: Url) -> Result<Option<T>> {
        let path = url.path().to_string();
        let (status, body) = self.call(Method::GET, url, None).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(self.refused(status, &body));
        }
        serde_json::from_slice(&body).map(Some).map_err(|e| {
            ComputeError::Unavailable(format!(
                "{} answered GET {path} with unexpected JSON: {e}",
                self.service
            ))
        })
    }

    pub fn refused(&self, status: StatusCode, body: &[u8]) -> ComputeError {
        (self.refused)(status, body)
    }
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn truncates_on_characters() {
        assert_eq!(super::truncate("abcdef", 3), "abc…");
        assert_eq!(super::truncate("abc", 3), "abc");
        assert_eq!(super::truncate("ééé", 2), "éé…");
    }
}
