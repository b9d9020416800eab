//! Opaque page tokens: an offset into a stable ordering, encoded so clients treat it as opaque.

use base64::Engine as _;

const ENGINE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("Invalid page token '{0}'")]
pub struct InvalidPageToken(pub String);

#[derive(serde::Serialize, serde::Deserialize)]
struct Token {
    offset: u64,
}

pub fn encode(offset: u64) -> String {
    ENGINE.encode(serde_json::to_vec(&Token { offset }).unwrap_or_default())
}

/// An absent or empty token is the first page.
pub fn decode(token: Option<&str>) -> Result<u64, InvalidPageToken> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    ENGINE
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Token>(&bytes).ok())
        .map(|t| t.offset)
        .ok_or_else(|| InvalidPageToken(token.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        assert_eq!(decode(Some(&encode(12345))), Ok(12345));
        assert_eq!(decode(None), Ok(0));
        assert_eq!(decode(Some("")), Ok(0));
        assert!(decode(Some("not a token!")).is_err());
        assert!(decode(Some(&ENGINE.encode(b"{\"offset\":-1}"))).is_err());
    }
}
