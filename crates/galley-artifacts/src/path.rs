//! Artifact paths as clients send them, checked so that no path can leave the store's root.

use std::fmt;

use object_store::path::Path;

use crate::ArtifactError;

/// A relative artifact path proven free of traversal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactPath(Path);

impl ArtifactPath {
    pub fn as_object_path(&self) -> &Path {
        &self.0
    }
}

impl fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

fn rejected(path: &str) -> ArtifactError {
    ArtifactError::InvalidPath(format!("Invalid path: '{path}'"))
}

/// Accepts `a/b/c` style paths. Rejects absolute paths, `.`/`..` segments (also when still
/// percent-encoded, since some clients encode twice), backslashes, NUL and empty paths.
pub fn validate(path: &str) -> Result<ArtifactPath, ArtifactError> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty()
        || trimmed.starts_with('/')
        || trimmed.contains('\\')
        || trimmed.contains('\0')
        || trimmed.contains(':')
    {
        return Err(rejected(path));
    }
    for segment in trimmed.split('/') {
        let decoded = segment.replace("%2e", ".").replace("%2E", ".");
        if segment.is_empty() || decoded == "." || decoded == ".." {
            return Err(rejected(path));
        }
    }
    Path::parse(trimmed)
        .map(ArtifactPath)
        .map_err(|_| rejected(path))
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_relative_paths_and_rejects_escapes() {
        for ok in [
            "a",
            "1/abc/artifacts/model/MLmodel",
            "dir/",
            "with space/file.txt",
            "a/.hidden",
        ] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "%2e%2e/x",
            "a/%2E%2e",
            "c:\\windows",
            "a\\..\\b",
            "x\0y",
        ] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
    }
}
