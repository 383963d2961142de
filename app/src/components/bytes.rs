//! Sizes as people read and write them: `1.5 MB`, `50 GiB`.

const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];

/// `1.5 MB`, `320 B` (powers of 1000).
pub fn human(bytes: u64) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A size such as `50 GiB`, `1.5 GB`, `500 MB`, `2048` (bytes): decimal
/// units (`kB`, `MB`, `GB`, `TB`) count in 1000s, binary ones (`KiB`, `MiB`,
/// `GiB`, `TiB`) in 1024s; case does not matter.
pub fn parse(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let factor: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "`{text}` is not a size: write e.g. 500 MB or 50 GiB"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: write e.g. 500 MB or 50 GiB"))?;
    let bytes = (value * factor as f64).round();
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(format!("`{text}` is too large"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human(320), "320 B");
        assert_eq!(human(1_500_000), "1.5 MB");
        assert_eq!(human(50 << 30), "53.7 GB");
    }

    #[test]
    fn sizes_are_parsed_in_decimal_and_binary_units() {
        assert_eq!(parse("2048"), Ok(2048));
        assert_eq!(parse("500 MB"), Ok(500_000_000));
        assert_eq!(parse("1.5gb"), Ok(1_500_000_000));
        assert_eq!(parse(" 50 GiB "), Ok(50 << 30));
        assert_eq!(parse("0"), Ok(0));
        for bad in ["", "MB", "-1 MB", "5 parsecs", "1.2.3 GB", "1e30 TB"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
