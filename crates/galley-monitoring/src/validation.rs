//! Rules for what users send to monitoring: labels and window lengths.

use crate::error::{MonitoringError, Result};
use crate::model::Label;

pub const MAX_REQUEST_ID_LENGTH: usize = 256;
pub const MAX_LABEL_LENGTH: usize = 1024;
/// Labels per bulk request: large enough for a day's batch job, small enough for one transaction.
pub const MAX_LABELS_PER_REQUEST: usize = 10_000;
/// Evaluation windows from a minute to 90 days.
const MIN_WINDOW_MS: i64 = 60_000;
const MAX_WINDOW_MS: i64 = 90 * 86_400_000;

fn invalid(message: String) -> MonitoringError {
    MonitoringError::InvalidInput(message)
}

pub fn validate_labels(labels: &[Label]) -> Result<()> {
    if labels.is_empty() {
        return Err(invalid("no labels given".to_owned()));
    }
    if labels.len() > MAX_LABELS_PER_REQUEST {
        return Err(invalid(format!(
            "at most {MAX_LABELS_PER_REQUEST} labels per request, got {}",
            labels.len()
        )));
    }
    for (index, label) in labels.iter().enumerate() {
        let at = |message: &str| invalid(format!("label {index}: {message}"));
        if label.request_id.is_empty() || label.request_id.len() > MAX_REQUEST_ID_LENGTH {
            return Err(at(&format!(
                "request_id must be 1 to {MAX_REQUEST_ID_LENGTH} characters"
            )));
        }
        if label.row < 0 {
            return Err(at("row must not be negative"));
        }
        if label.label.len() > MAX_LABEL_LENGTH {
            return Err(at(&format!(
                "label must be at most {MAX_LABEL_LENGTH} characters"
            )));
        }
    }
    Ok(())
}

/// Parses a window length such as `30m`, `1h`, `24h` or `7d` into milliseconds.
pub fn parse_window(text: &str) -> Result<i64> {
    let bad = || {
        invalid(format!(
            "window '{text}' is not a length like 30m, 1h, 24h or 7d (1 minute to 90 days)"
        ))
    };
    let length = galley_core::duration::parse_duration_ms(text)
        .filter(|ms| ms % 60_000 == 0)
        .ok_or_else(bad)?;
    if (MIN_WINDOW_MS..=MAX_WINDOW_MS).contains(&length) {
        Ok(length)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn label(request_id: &str, row: i64) -> Label {
        Label {
            request_id: request_id.into(),
            row,
            label: "1".into(),
            labeled_at: 0,
        }
    }

    #[test]
    fn labels_are_bounded() {
        assert!(validate_labels(&[label("r1", 0)]).is_ok());
        assert!(validate_labels(&[]).is_err());
        assert!(validate_labels(&[label("", 0)]).is_err());
        assert!(validate_labels(&[label("r", -1)]).is_err());
        assert!(validate_labels(&[label(&"r".repeat(257), 0)]).is_err());
        let many = vec![label("r", 0); MAX_LABELS_PER_REQUEST + 1];
        assert!(validate_labels(&many).is_err());
    }

    #[test]
    fn windows_parse() {
        assert_eq!(parse_window("30m").unwrap(), 1_800_000);
        assert_eq!(parse_window("24h").unwrap(), 86_400_000);
        assert_eq!(parse_window("7d").unwrap(), 604_800_000);
        for bad in [
            "",
            "h",
            "1",
            "1s",
            "0m",
            "-1h",
            "1.5h",
            "91d",
            "99999999999999999999d",
        ] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn window_parser_never_panics(text in ".{0,24}") {
            let _ = parse_window(&text);
        }

        #[test]
        fn window_lengths_round_trip(hours in 1i64..=2160) {
            prop_assert_eq!(parse_window(&format!("{hours}h")).unwrap(), hours * 3_600_000);
        }
    }
}
