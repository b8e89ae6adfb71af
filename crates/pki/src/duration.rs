//! The validity-period grammar of `tcld gen` (`-d 1y`, `364d`, `30d10h`, `1.5d`).
//!
//! It is Go's `time.ParseDuration` grammar, `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, with the unit set
//! replaced by `s m h d y` (a day is 24 hours and a year 365 days, as in tcld). Like Go, the
//! value is held in signed 64-bit nanoseconds, so anything past about 292 years overflows.

use std::fmt;

/// A parsed validity period, in nanoseconds (it may be negative or zero: callers decide).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidityPeriod(i64);

/// Why a validity period could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Not of the form `<number><unit>…`, or out of range.
    #[error("invalid duration {input:?}: expected a number followed by a unit (s, m, h, d, y), e.g. 1y, 364d, 30d10h, 1.5d")]
    Invalid { input: String },
    /// A number without a unit, such as `12` or `99y45`.
    #[error("missing unit in duration {input:?}: use one of s, m, h, d (24h), y (365d), e.g. 30d")]
    MissingUnit { input: String },
    /// Larger than tcld's (Go's) limit of about 292 years.
    #[error("duration {input:?} is too long: at most about 292 years (2^63 nanoseconds)")]
    TooLong { input: String },
    /// A unit outside `s m h d y`.
    #[error("unknown unit {unit:?} in duration {input:?}: use one of s, m, h, d (24h), y (365d)")]
    UnknownUnit { input: String, unit: String },
}

const SECOND: u64 = 1_000_000_000;
const OVERFLOW_LIMIT: u64 = 1 << 63;

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "s" => SECOND,
        "m" => 60 * SECOND,
        "h" => 3600 * SECOND,
        "d" => 24 * 3600 * SECOND,
        "y" => 365 * 24 * 3600 * SECOND,
        _ => return None,
    })
}

impl ValidityPeriod {
    /// Parses tcld's duration grammar.
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let invalid = || DurationError::Invalid {
            input: input.to_owned(),
        };
        let too_long = || DurationError::TooLong {
            input: input.to_owned(),
        };
        let mut s = input.as_bytes();
        let mut negative = false;
        if let Some((&sign @ (b'-' | b'+'), rest)) = s.split_first() {
            negative = sign == b'-';
            s = rest;
        }
        if s == b"0" {
            return Ok(Self(0));
        }
        if s.is_empty() {
            return Err(invalid());
        }
        let mut total: u64 = 0;
        while !s.is_empty() {
            if !(s[0] == b'.' || s[0].is_ascii_digit()) {
                return Err(invalid());
            }
            // Integer part.
            let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut whole: u64 = 0;
            for &c in &s[..digits] {
                whole = whole
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(c - b'0')))
                    .filter(|&v| v <= OVERFLOW_LIMIT)
                    .ok_or_else(too_long)?;
            }
            s = &s[digits..];
            // Fraction part: keeps the precision that fits, like Go.
            let mut frac: u64 = 0;
            let mut scale: f64 = 1.0;
            let mut frac_digits = 0;
            if s.first() == Some(&b'.') {
                s = &s[1..];
                frac_digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
                let mut overflow = false;
                for &c in &s[..frac_digits] {
                    if overflow {
                        continue;
                    }
                    match frac
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(c - b'0')))
                        .filter(|&v| v < OVERFLOW_LIMIT)
                    {
                        Some(v) => {
                            frac = v;
                            scale *= 10.0;
                        }
                        None => overflow = true,
                    }
                }
                s = &s[frac_digits..];
            }
            if digits == 0 && frac_digits == 0 {
                return Err(invalid());
            }
            // Unit: everything up to the next digit or '.'.
            let unit_len = s
                .iter()
                .take_while(|&&c| !(c == b'.' || c.is_ascii_digit()))
                .count();
            if unit_len == 0 {
                return Err(DurationError::MissingUnit {
                    input: input.to_owned(),
                });
            }
            let unit_str = String::from_utf8_lossy(&s[..unit_len]).into_owned();
            s = &s[unit_len..];
            let unit = unit_nanos(&unit_str).ok_or_else(|| DurationError::UnknownUnit {
                input: input.to_owned(),
                unit: unit_str.clone(),
            })?;
            let mut value = whole
                .checked_mul(unit)
                .filter(|&v| v <= OVERFLOW_LIMIT)
                .ok_or_else(too_long)?;
            if frac > 0 {
                // f64 keeps nanosecond accuracy for fractions of the largest unit we meet in
                // practice; this matches tcld's arithmetic.
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    clippy::cast_precision_loss,
                    reason = "same float arithmetic as Go's time.ParseDuration, which tcld copies"
                )]
                let extra = (frac as f64 * (unit as f64 / scale)) as u64;
                value = value
                    .checked_add(extra)
                    .filter(|&v| v <= OVERFLOW_LIMIT)
                    .ok_or_else(too_long)?;
            }
            total = total
                .checked_add(value)
                .filter(|&v| v <= OVERFLOW_LIMIT)
                .ok_or_else(too_long)?;
        }
        if negative {
            // -2^63 is representable.
            return Ok(Self(0i64.wrapping_sub_unsigned(total)));
        }
        i64::try_from(total).map(Self).map_err(|_| too_long())
    }

    /// From whole seconds (handy for tests and for computed periods).
    pub fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds.
    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// As a `time::Duration`.
    pub fn to_duration(self) -> time::Duration {
        time::Duration::nanoseconds(self.0)
    }
}

impl fmt::Display for ValidityPeriod {
    /// Days, hours, minutes and seconds with the zero ones left out: `1y` shows as `365d`, `90m`
    /// as `1h30m`, `1.5s` as `1.5s` (what `-d` takes back; Go's `365d0h0m0s` buried the figure).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        let secs = nanos / SECOND;
        let rem_nanos = nanos % SECOND;
        let (d, h, m, s) = (
            secs / 86_400,
            (secs % 86_400) / 3600,
            (secs % 3600) / 60,
            secs % 60,
        );
        write!(f, "{sign}")?;
        for (n, unit) in [(d, "d"), (h, "h"), (m, "m")] {
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        if rem_nanos > 0 {
            let frac = format!("{rem_nanos:09}");
            write!(f, "{s}.{}s", frac.trim_end_matches('0'))
        } else if s > 0 || secs == 0 {
            write!(f, "{s}s")
        } else {
            Ok(())
        }
    }
}

impl std::str::FromStr for ValidityPeriod {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    const M: i64 = 60 * S;
    const H: i64 = 60 * M;
    const D: i64 = 24 * H;
    const Y: i64 = 365 * D;

    fn p(s: &str) -> i64 {
        ValidityPeriod::parse(s).expect(s).as_nanos()
    }

    /// Why `s` is not a validity period.
    fn refused(s: &str) -> DurationError {
        ValidityPeriod::parse(s).unwrap_err()
    }

    #[test]
    fn tcld_accepted_forms() {
        // The cases of tcld's own utils/duration_test.go, plus the forms in Temporal's docs.
        assert_eq!(p("99s"), 99 * S);
        assert_eq!(p("99m"), 99 * M);
        assert_eq!(p("99m99s"), 99 * M + 99 * S);
        assert_eq!(p("99h"), 99 * H);
        assert_eq!(p("99h99m99s"), 99 * H + 99 * M + 99 * S);
        assert_eq!(p("99d"), 99 * D);
        assert_eq!(p("99d99h99m99s"), 99 * D + 99 * H + 99 * M + 99 * S);
        assert_eq!(p("99y"), 99 * Y);
        assert_eq!(
            p("99y99d99h99m99s"),
            99 * Y + 99 * D + 99 * H + 99 * M + 99 * S
        );
        assert_eq!(p("1y"), Y);
        assert_eq!(p("365d"), Y);
        assert_eq!(p("364d"), 364 * D);
        assert_eq!(p("30d10h"), 30 * D + 10 * H);
        assert_eq!(p("1.5d"), 36 * H);
        assert_eq!(p(".5h"), 30 * M);
        assert_eq!(p("1.h"), H);
        assert_eq!(p("0"), 0);
        assert_eq!(p("+0"), 0);
        assert_eq!(p("+2d"), 2 * D);
        assert_eq!(p("-2d"), -2 * D);
        assert_eq!(p("1d1d"), 2 * D);
    }

    #[test]
    fn fraction_of_a_year_matches_go() {
        // Go: 99.9*365*24*time.Hour
        assert_eq!(p("99.9y"), (99.9_f64 * 365.0 * 24.0 * 3600.0 * 1e9) as i64);
    }

    #[test]
    fn rejects_like_tcld() {
        for bad in [
            "", "y", "+", "-", ".", ".d", "d1", "1d ", " 1d", "1 d", "1e3s",
        ] {
            assert!(ValidityPeriod::parse(bad).is_err(), "{bad:?} should fail");
        }
        assert!(matches!(refused("12"), DurationError::MissingUnit { .. }));
        assert!(matches!(
            refused("99y45"),
            DurationError::MissingUnit { .. }
        ));
        assert!(matches!(
            refused("99yy"),
            DurationError::UnknownUnit { ref unit, .. } if unit == "yy"
        ));
        assert!(matches!(
            refused("3w"),
            DurationError::UnknownUnit { ref unit, .. } if unit == "w"
        ));
        assert!(matches!(refused("10ms"), DurationError::UnknownUnit { .. }));
        assert!(matches!(refused("1D"), DurationError::UnknownUnit { .. }));
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        assert!(matches!(refused("300y"), DurationError::TooLong { .. }));
        assert!(ValidityPeriod::parse("99999999999999999999999s").is_err());
        assert!(ValidityPeriod::parse("292y").is_ok());
        assert!(ValidityPeriod::parse("1.99999999999999999999999999999y").is_ok());
    }

    #[test]
    fn error_messages_name_the_input_and_the_units() {
        let e = refused("3w").to_string();
        assert!(
            e.contains("\"w\"") && e.contains("\"3w\"") && e.contains("y (365d)"),
            "{e}"
        );
    }

    #[test]
    fn display_round_trips() {
        for s in ["1y", "364d", "30d10h", "1.5d", "45s", "90m"] {
            let v = ValidityPeriod::parse(s).unwrap();
            assert_eq!(
                ValidityPeriod::parse(&v.to_string()).unwrap(),
                v,
                "{s} -> {v}"
            );
        }
        for (given, shown) in [
            ("1y", "365d"),
            ("90m", "1h30m"),
            ("36h", "1d12h"),
            ("0s", "0s"),
        ] {
            assert_eq!(ValidityPeriod::parse(given).unwrap().to_string(), shown);
        }
    }
}
