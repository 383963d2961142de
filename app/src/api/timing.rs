//! How the API documents a cron expression and a time zone, so that a
//! client (or a fuzzer) generated from the OpenAPI document sends what the
//! server accepts: [`cron_pattern`] is the grammar as a regular expression,
//! and the zone is one of the IANA names the server knows.
//!
//! The pattern covers the common grammar, not every extension the server's
//! parser takes (`W`, `#`, `L` in day-of-week, ranges with steps, lower-case
//! names are accepted but not documented). What no pattern can say: an
//! expression may still never match a date (`0 0 30 2 *`), which is a 422
//! naming `cron` with code `never`.

/// Steps: `/1` to `/99`.
const STEP: &str = "[1-9][0-9]?";

/// One field: `*` alone, or a list of `*/step`, `value`, `value/step` and
/// `value-value` (a range that wraps when it ends before it starts, as
/// `22-2` or `FRI-MON`); `item` adds list items and `alone` whole-field
/// alternatives.
fn field(value: &str, item: &str, alone: &str) -> String {
    let item = format!(r"(\*/{STEP}|({value})(/{STEP})?|({value})-({value}){item})");
    format!(r"(\*{alone}|{item}(,{item})*)")
}

/// The documented grammar of a cron expression: five fields (minute hour
/// day-of-month month day-of-week), or six with seconds first, separated by
/// one space; or a shorthand such as `@daily`. Anchored.
pub fn cron_pattern() -> String {
    let sixty = field("[1-5]?[0-9]", "", "");
    let hour = field("1?[0-9]|2[0-3]", "", "");
    let day = field("[1-9]|[12][0-9]|3[01]", "|L", r"|\?");
    let month = field(
        "[1-9]|1[0-2]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC",
        "",
        "",
    );
    let weekday = field("[0-6]|SUN|MON|TUE|WED|THU|FRI|SAT", "", r"|\?");
    format!(
        "^(@(yearly|annually|monthly|weekly|daily|hourly)|({sixty} )?{sixty} {hour} {day} {month} {weekday})$"
    )
}

/// A cron expression, as documented (see [`cron_pattern`]).
#[cfg(feature = "ssr")]
pub struct CronExpression;

#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for CronExpression {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(cron_pattern()))
            .description(Some(
                "5 fields (minute hour day-of-month month day-of-week), or 6 with seconds \
                 first, one space apart; names (`MON`, `JAN`), lists, ranges (a range that \
                 ends before it starts wraps: `22-2`, `FRI-MON`), steps (`*/15`), `L` (last \
                 day of the month), `?`; or `@yearly`, `@monthly`, `@weekly`, `@daily`, \
                 `@hourly`.",
            ))
            .examples(["0 6 * * *", "*/15 9-17 * * MON-FRI"])
            .into()
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for CronExpression {}

/// An IANA time zone name, such as `Europe/Berlin` or `UTC`.
#[cfg(feature = "ssr")]
pub struct TimeZoneName;

#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for TimeZoneName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        names.sort_unstable();
        text_choice(
            names,
            "An IANA time zone, such as `Europe/Berlin` or `UTC`.",
        )
    }
}

/// A string schema that takes one of `values`.
#[cfg(feature = "ssr")]
pub(crate) fn text_choice<'a>(
    values: impl IntoIterator<Item = &'a str>,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .into()
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for TimeZoneName {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_takes_the_common_grammar_and_refuses_the_rest() {
        let re = regex_lite::Regex::new(&cron_pattern()).unwrap();
        for ok in [
            "0 6 * * *",
            "*/15 9-17 * * MON-FRI",
            "30 0 6 * * *",
            "0 22-2 * * FRI-MON",
            "0 0 L * ?",
            "5,10/5 0 1,15 JAN,7-9 0",
            "@daily",
        ] {
            assert!(re.is_match(ok), "{ok}");
        }
        for bad in [
            "",
            "0",
            "60 * * * *",
            "0 24 * * *",
            "0 0 0 * *",
            "* * * 13 *",
            "* * * * 7x",
            "*,5 * * * *",
            "*/0 * * * *",
            "0 0 L/2 * *",
            "0 6 * * * * *",
            "@never",
            "0  6 * * *",
        ] {
            assert!(!re.is_match(bad), "{bad:?}");
        }
    }
}
