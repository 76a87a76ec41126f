//! The search box's language, parsed into a [`SearchQuery`]. Pure: no database here.
//!
//! `lamp "red bike" -sold from:ana in:market server:home after:2026-12-01 before:2027-01-01`
//!
//! - words and `"quoted phrases"` must all appear (in a message or a text item); `word*`
//!   matches words starting with it; `-word` or `-"phrase"` must not appear;
//! - `from:nick` (who said it), `in:name` (a room or channel of that name) and `server:name`
//!   (its key or display name) may be given several times: any of them matches; a value with
//!   spaces is quoted (`in:"north hall"`);
//! - `after:` (inclusive) and `before:` (exclusive) take a date, `2026-12-01` (the start of
//!   that day, UTC), or an RFC 3339 time, `2026-12-01T18:30:00+01:00`.
//!
//! An unknown `word:value` is searched as words. Limits keep a pasted page from becoming a
//! query the index spends seconds on: [`MAX_QUERY_CHARS`] and [`MAX_TERMS`].

use crate::error::QueryError;

/// The longest search, in characters.
pub const MAX_QUERY_CHARS: usize = 1_000;
/// The most words, phrases and filters one search may have.
pub const MAX_TERMS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    /// Must all appear.
    pub words: Vec<Term>,
    /// Must not appear.
    pub excluded: Vec<Term>,
    pub from: Vec<String>,
    pub places: Vec<String>,
    pub servers: Vec<String>,
    /// ms since the Unix epoch, inclusive.
    pub after: Option<u64>,
    /// ms since the Unix epoch, exclusive.
    pub before: Option<u64>,
}

/// A word or a phrase to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    /// `word*`: any word that starts with `text`.
    pub prefix: bool,
}

/// Reads the search box. Errors name the part of the input that is wrong.
pub fn parse_query(input: &str) -> Result<SearchQuery, QueryError> {
    let len = input.chars().count();
    if len > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong {
            len,
            max: MAX_QUERY_CHARS,
        });
    }
    let mut query = SearchQuery::default();
    let mut terms = 0;
    let mut rest = Cursor::new(input);
    while let Some(token) = rest.next_token()? {
        terms += 1;
        if terms > MAX_TERMS {
            return Err(QueryError::TooManyTerms { max: MAX_TERMS });
        }
        match token {
            Token::Filter { name, value } => query.add_filter(name, value)?,
            Token::Term {
                text,
                excluded,
                quoted,
            } => {
                let (text, prefix) = match text.strip_suffix('*') {
                    Some(stem) if !quoted => (stem.trim_end_matches('*').to_owned(), true),
                    _ => (text, false),
                };
                // Punctuation alone ("--", "?!") holds nothing the index can find.
                if !text.chars().any(char::is_alphanumeric) {
                    continue;
                }
                let term = Term { text, prefix };
                if excluded {
                    query.excluded.push(term);
                } else {
                    query.words.push(term);
                }
            }
        }
    }
    query.check()?;
    Ok(query)
}

impl SearchQuery {
    /// Whether the full-text index is needed (words, or a nick to find in it).
    pub fn uses_text_index(&self) -> bool {
        !self.words.is_empty() || !self.from.is_empty()
    }

    fn add_filter(&mut self, name: FilterName, value: String) -> Result<(), QueryError> {
        if value.is_empty() {
            return Err(QueryError::EmptyFilter {
                filter: name.label(),
                example: name.example(),
            });
        }
        match name {
            FilterName::From => self.from.push(value),
            FilterName::In => self.places.push(value),
            FilterName::Server => self.servers.push(value),
            FilterName::After | FilterName::Before => {
                let slot = if name == FilterName::After {
                    &mut self.after
                } else {
                    &mut self.before
                };
                if slot.is_some() {
                    return Err(QueryError::Repeated {
                        filter: name.label(),
                    });
                }
                *slot = Some(parse_time(&value).ok_or_else(|| QueryError::BadDate {
                    filter: name.label(),
                    value,
                })?);
            }
        }
        Ok(())
    }

    fn check(&self) -> Result<(), QueryError> {
        let filters = !self.from.is_empty()
            || !self.places.is_empty()
            || !self.servers.is_empty()
            || self.after.is_some()
            || self.before.is_some();
        if self.words.is_empty() && self.excluded.is_empty() && !filters {
            return Err(QueryError::Empty);
        }
        // The index can only take words away from a set it found: something must find it.
        if !self.uses_text_index() && !self.excluded.is_empty() {
            return Err(QueryError::OnlyExclusions {
                example: self.excluded[0].text.clone(),
            });
        }
        if let (Some(after), Some(before)) = (self.after, self.before) {
            if after >= before {
                return Err(QueryError::EmptyRange {
                    after: format_ms(after),
                    before: format_ms(before),
                });
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterName {
    From,
    In,
    Server,
    After,
    Before,
}

impl FilterName {
    fn parse(name: &str) -> Option<FilterName> {
        Some(match name.to_ascii_lowercase().as_str() {
            "from" => FilterName::From,
            "in" => FilterName::In,
            "server" => FilterName::Server,
            "after" => FilterName::After,
            "before" => FilterName::Before,
            _ => return None,
        })
    }

    fn label(self) -> &'static str {
        match self {
            FilterName::From => "from",
            FilterName::In => "in",
            FilterName::Server => "server",
            FilterName::After => "after",
            FilterName::Before => "before",
        }
    }

    fn example(self) -> &'static str {
        match self {
            FilterName::From => "ana",
            FilterName::In => "lobby",
            FilterName::Server => "home",
            FilterName::After | FilterName::Before => "2026-12-01",
        }
    }
}

enum Token {
    Term {
        text: String,
        excluded: bool,
        quoted: bool,
    },
    Filter {
        name: FilterName,
        value: String,
    },
}

/// Walks the input by characters; positions in errors count characters from 1.
struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    input: &'a str,
}

impl<'a> Cursor<'a> {
    fn new(input: &'a str) -> Self {
        Cursor {
            chars: input.char_indices().peekable(),
            input,
        }
    }

    fn next_token(&mut self) -> Result<Option<Token>, QueryError> {
        while self.chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(_, first)) = self.chars.peek() else {
            return Ok(None);
        };
        let excluded = first == '-' && {
            self.chars.next();
            // A lone `-` is punctuation, not an exclusion.
            matches!(self.chars.peek(), Some((_, c)) if !c.is_whitespace())
        };
        if let Some(text) = self.quoted()? {
            return Ok(Some(Token::Term {
                text,
                excluded,
                quoted: true,
            }));
        }
        let word = self.bare();
        if !excluded {
            if let Some((name, value)) = word.split_once(':') {
                if let Some(name) = FilterName::parse(name) {
                    let value = match (value.is_empty(), self.quoted()?) {
                        (true, Some(quoted)) => quoted,
                        _ => value.to_owned(),
                    };
                    return Ok(Some(Token::Filter {
                        name,
                        value: value.trim().to_owned(),
                    }));
                }
            }
        }
        Ok(Some(Token::Term {
            text: word.to_owned(),
            excluded,
            quoted: false,
        }))
    }

    /// A `"quoted string"` starting here, without its quotes.
    fn quoted(&mut self) -> Result<Option<String>, QueryError> {
        let Some((open, _)) = self.chars.next_if(|(_, c)| *c == '"') else {
            return Ok(None);
        };
        for (at, c) in self.chars.by_ref() {
            if c == '"' {
                return Ok(Some(self.input[open + 1..at].to_owned()));
            }
        }
        Err(QueryError::UnclosedQuote {
            at: self.input[..open].chars().count() + 1,
        })
    }

    /// Characters up to the next space or quote.
    fn bare(&mut self) -> &'a str {
        let start = self.chars.peek().map_or(self.input.len(), |(i, _)| *i);
        let mut end = start;
        while let Some((i, c)) = self.chars.next_if(|(_, c)| !c.is_whitespace() && *c != '"') {
            end = i + c.len_utf8();
        }
        &self.input[start..end]
    }
}

/// `2026-12-01` (the start of that day, UTC) or an RFC 3339 time (`2026-12-01T18:30:00Z`,
/// `...+01:00`, fractions of a second allowed; without an offset, UTC), as ms since the Unix
/// epoch. `None` for anything else, and for times before 1970.
pub fn parse_time(text: &str) -> Option<u64> {
    let (date, time) = match text.find(['T', 't', ' ']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let year = number(parts.next()?, 4)?;
    let month = number(parts.next()?, 2)?;
    let day = number(parts.next()?, 2)?;
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let mut ms = days * 86_400_000;
    if let Some(time) = time {
        ms += time_of_day_ms(time)?;
    }
    u64::try_from(ms).ok()
}

/// `HH:MM[:SS[.fff]][Z|±HH:MM]` as ms to add to midnight UTC (negative offsets make it larger).
fn time_of_day_ms(text: &str) -> Option<i64> {
    let (clock, offset_ms) = if let Some(clock) = text.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else if let Some(at) = text.rfind(['+', '-']) {
        let (clock, offset) = text.split_at(at);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (h, m) = offset[1..].split_once(':')?;
        let (h, m) = (number(h, 2)?, number(m, 2)?);
        if h > 23 || m > 59 {
            return None;
        }
        (clock, sign * (h * 3_600_000 + m * 60_000))
    } else {
        (text, 0)
    };
    let mut parts = clock.splitn(3, ':');
    let hour = number(parts.next()?, 2)?;
    let minute = number(parts.next()?, 2)?;
    let seconds_ms = match parts.next() {
        None => 0,
        Some(seconds) => {
            let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
            let whole = number(whole, 2)?;
            if whole > 60 || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let millis = format!("{fraction:0<3}")[..3].parse::<i64>().ok()?;
            whole * 1000 + millis
        }
    };
    if hour > 23 || minute > 59 {
        return None;
    }
    Some(hour * 3_600_000 + minute * 60_000 + seconds_ms - offset_ms)
}

/// Exactly `digits` ASCII digits.
fn number(text: &str, digits: usize) -> Option<i64> {
    if text.len() != digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A time for an error message, `2026-12-01T00:00:00Z`.
fn format_ms(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let secs = (ms / 1000) % 86_400;
    // Inverse of days_from_civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn word(text: &str) -> Term {
        Term {
            text: text.into(),
            prefix: false,
        }
    }

    #[test]
    fn words_phrases_and_exclusions_are_told_apart() {
        let q = parse_query(r#"lamp "red bike" -sold -"for parts" bik*"#).unwrap();
        assert_eq!(
            q.words,
            vec![
                word("lamp"),
                word("red bike"),
                Term {
                    text: "bik".into(),
                    prefix: true
                }
            ]
        );
        assert_eq!(q.excluded, vec![word("sold"), word("for parts")]);
    }

    #[test]
    fn filters_collect_their_values_and_repeat_as_alternatives() {
        let q = parse_query(r#"from:ana FROM:bo in:"north hall" server:home in:lobby"#).unwrap();
        assert_eq!(q.from, vec!["ana", "bo"]);
        assert_eq!(q.places, vec!["north hall", "lobby"]);
        assert_eq!(q.servers, vec!["home"]);
        assert!(q.words.is_empty());
    }

    #[test]
    fn an_unknown_filter_is_searched_as_a_word() {
        let q = parse_query("https://example.org colour:red").unwrap();
        assert_eq!(
            q.words,
            vec![word("https://example.org"), word("colour:red")]
        );
    }

    #[test]
    fn dates_and_times_bound_the_search() {
        let q = parse_query("after:2026-12-01 before:2026-12-01T18:30:00.5+01:00").unwrap();
        assert_eq!(q.after, parse_time("2026-12-01T00:00:00Z"));
        assert_eq!(
            q.before,
            Some(parse_time("2026-12-01").unwrap() + 17 * 3_600_000 + 30 * 60_000 + 500)
        );
        assert_eq!(parse_time("1970-01-01"), Some(0));
        assert_eq!(parse_time("2000-03-01"), Some(951_868_800_000));
        assert_eq!(parse_time("2024-02-29T00:00Z"), Some(1_709_164_800_000));
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        let cases: &[(&str, QueryError)] = &[
            ("", QueryError::Empty),
            ("   -- ?! ", QueryError::Empty),
            (r#"lamp "red bike"#, QueryError::UnclosedQuote { at: 6 }),
            (
                "from:",
                QueryError::EmptyFilter {
                    filter: "from",
                    example: "ana",
                },
            ),
            (
                "after:yesterday",
                QueryError::BadDate {
                    filter: "after",
                    value: "yesterday".into(),
                },
            ),
            (
                "before:2026-02-30",
                QueryError::BadDate {
                    filter: "before",
                    value: "2026-02-30".into(),
                },
            ),
            (
                "after:2026-01-01 after:2026-02-01",
                QueryError::Repeated { filter: "after" },
            ),
            (
                "-sold in:market",
                QueryError::OnlyExclusions {
                    example: "sold".into(),
                },
            ),
            (
                "lamp after:2026-02-01 before:2026-01-01",
                QueryError::EmptyRange {
                    after: "2026-02-01T00:00:00Z".into(),
                    before: "2026-01-01T00:00:00Z".into(),
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_query(input).as_ref(), Err(expected), "{input}");
        }
        assert!(QueryError::BadDate {
            filter: "after",
            value: "yesterday".into()
        }
        .to_string()
        .contains("after:yesterday"));
    }

    #[test]
    fn limits_are_enforced() {
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        assert_eq!(
            parse_query(&long),
            Err(QueryError::TooLong {
                len: MAX_QUERY_CHARS + 1,
                max: MAX_QUERY_CHARS
            })
        );
        let many = vec!["w"; MAX_TERMS + 1].join(" ");
        assert_eq!(
            parse_query(&many),
            Err(QueryError::TooManyTerms { max: MAX_TERMS })
        );
        assert!(parse_query(&vec!["w"; MAX_TERMS].join(" ")).is_ok());
    }

    proptest! {
        #[test]
        fn never_panics_and_stays_within_limits(input in "\\PC{0,1100}") {
            if let Ok(q) = parse_query(&input) {
                prop_assert!(input.chars().count() <= MAX_QUERY_CHARS);
                let terms = q.words.len() + q.excluded.len() + q.from.len()
                    + q.places.len() + q.servers.len();
                prop_assert!(terms <= MAX_TERMS);
            }
        }

        #[test]
        fn never_panics_on_query_shaped_input(
            parts in proptest::collection::vec(
                "(-|\")?(from|in|server|after|before|x)?:?[a-z0-9 \"*:+.TZ-]{0,12}", 0..40)
        ) {
            let _ = parse_query(&parts.join(" "));
        }

        #[test]
        fn dates_round_trip(days in 0i64..2_900_000) {
            let ms = days as u64 * 86_400_000;
            let text = format_ms(ms);
            prop_assert_eq!(parse_time(&text), Some(ms));
            prop_assert_eq!(parse_time(&text[..10]), Some(ms));
        }
    }
}
