//! Lengths of time as users write them (`90s`, `30m`, `1h`, `7d`), in milliseconds.

/// Parses `<count><unit>` with unit `s`, `m`, `h` or `d` into milliseconds; `None` for anything
/// else (no fractions, no compound forms, no overflow).
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .filter(|&i| i > 0)?;
    let (count, unit) = text.split_at(unit_at);
    let count: i64 = count.parse().ok()?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    count.checked_mul(unit_ms)
}

/// The shortest spelling [`parse_duration_ms`] reads back as `ms`, for messages and plans.
pub fn format_duration_ms(ms: i64) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms != 0 && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{}ms", ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_unit_and_refuses_the_rest() {
        assert_eq!(parse_duration_ms("90s"), Some(90_000));
        assert_eq!(parse_duration_ms("30m"), Some(1_800_000));
        assert_eq!(parse_duration_ms("1h"), Some(3_600_000));
        assert_eq!(parse_duration_ms("7d"), Some(604_800_000));
        for bad in [
            "",
            "h",
            "1",
            "1.5h",
            "-1h",
            "1w",
            "1h30m",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for ms in [1_000, 90_000, 3_600_000, 86_400_000 * 3] {
            assert_eq!(parse_duration_ms(&format_duration_ms(ms)), Some(ms));
        }
    }
}
