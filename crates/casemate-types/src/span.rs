//! Spans of time as people write them on a command line: `90s`, `30m`, `24h`, `7d`.

use crate::error::FieldError;

/// The seconds in `text`: a whole number followed by `s`, `m`, `h` or `d`.
pub fn parse_span(field: &'static str, text: &str) -> Result<u64, FieldError> {
    let rule = || {
        FieldError::new(
            field,
            format!(
                "'{}' is not a span of time: write a whole number and a unit, s, m, h or d (as in 30m, 24h, 7d)",
                text.chars().take(32).collect::<String>()
            ),
        )
    };
    let unit_at = text.len().checked_sub(1).ok_or_else(rule)?;
    let (number, unit) = text.split_at(unit_at);
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(rule()),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(rule());
    }
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_unit_and_refuses_the_rest() {
        assert_eq!(parse_span("since", "90s"), Ok(90));
        assert_eq!(parse_span("since", "30m"), Ok(1_800));
        assert_eq!(parse_span("since", "24h"), Ok(86_400));
        assert_eq!(parse_span("since", "7d"), Ok(604_800));
        for bad in [
            "",
            "h",
            "24",
            "-1h",
            "1.5h",
            "24H",
            "2w",
            "99999999999999999999d",
            "1 h",
        ] {
            let error = parse_span("since", bad).unwrap_err();
            assert_eq!(error.field, "since", "{bad}");
            assert!(error.rule.contains("span of time"), "{bad}: {}", error.rule);
        }
    }
}
