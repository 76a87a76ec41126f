//! jq filters on item payloads (`tack watch --jq`, and the monitor's filter): compiled once,
//! run on each item's payload, keeping, dropping or mapping it.
//!
//! What the filter sees (the rule for payloads that are not JSON):
//! - a text payload that is one JSON value is that value;
//! - any other text payload is a jq string holding the text, so `select(test("timeout"))`
//!   works on plain text too;
//! - a binary payload is a jq string holding its base64 text, as the engine carries it.
//!
//! What comes out: each output of the filter is one payload text. An output equal to the
//! filter's input is the item's payload unchanged (so `select(...)` keeps an item byte for
//! byte); a string output is its text, as `jq -r` prints it; any other value is compact JSON.
//! No output drops the item.
//!
//! Bounds: an expression is at most [`MAX_EXPRESSION_BYTES`] long, and one item yields at
//! most [`MAX_OUTPUTS_PER_ITEM`] outputs (so `range(1e9)` stops). A filter that loops without
//! ever yielding (`last(range(1e18))`) cannot be bounded from outside and stalls its caller;
//! the caller runs it where a stall is visible, not on a UI thread. `halt` never ends the
//! process: it is reported as an error of that item.
//!
//! This module never decides what to do with a failure on one item (print it, count it,
//! show it inline): it returns it.

use crate::error::JqError;
use jaq_core::data::JustLut;
use jaq_core::load::{self, Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars};
use jaq_json::Val;

/// The longest expression accepted. Filters are typed on a command line or in a filter box;
/// the longest examples in jq's manual are under 200 bytes, so this leaves room for real ones
/// while keeping compile time and error messages small.
pub const MAX_EXPRESSION_BYTES: usize = 4096;

/// Outputs kept from one item; the rest are not computed. An item is one event in a log: a
/// filter that makes more lines than this from it is a mistake, and without the cap
/// `range(1e9)` would keep the caller busy for minutes.
pub const MAX_OUTPUTS_PER_ITEM: usize = 1000;

/// A compiled jq expression.
pub struct JqFilter {
    expression: String,
    filter: jaq_core::Filter<JustLut<Val>>,
}

impl std::fmt::Debug for JqFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JqFilter")
            .field("expression", &self.expression)
            .finish_non_exhaustive()
    }
}

impl JqFilter {
    /// Parses and compiles `expression` with jq's standard library (`select`, `map`, `test`,
    /// ...). A mistake is reported with the column it is at.
    pub fn compile(expression: &str) -> Result<JqFilter, JqError> {
        Self::compile_with(expression, Env::Allowed)
    }

    /// As [`compile`](Self::compile), without `env` and `$ENV`: for a filter whose outputs are
    /// shown somewhere other than to the person who typed it on their own shell (the window's
    /// monitor, a screenshot, an export), where the app's environment (tokens, paths) must not
    /// appear. Using either is a mistake with its column.
    pub fn compile_without_env(expression: &str) -> Result<JqFilter, JqError> {
        Self::compile_with(expression, Env::Refused)
    }

    fn compile_with(expression: &str, env: Env) -> Result<JqFilter, JqError> {
        if expression.len() > MAX_EXPRESSION_BYTES {
            return Err(JqError::TooLong {
                len: expression.len(),
                max: MAX_EXPRESSION_BYTES,
            });
        }
        if expression.trim().is_empty() {
            return Err(JqError::Syntax {
                column: 1,
                message: "the expression is empty; `.` keeps every item".into(),
            });
        }
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs())
            .filter(|(name, _, _)| env == Env::Allowed || *name != "env");
        let arena = Arena::default();
        let file = File {
            code: expression,
            path: (),
        };
        let modules = Loader::new(defs)
            .load(&arena, file)
            .map_err(|errs| load_error(expression, errs))?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| compile_error(expression, errs, env))?;
        Ok(JqFilter {
            expression: expression.to_owned(),
            filter,
        })
    }

    /// The expression as given.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Runs the filter on one item's payload (see the module doc for what it sees and what
    /// comes out). An empty result means the item is left out.
    pub fn apply(&self, payload: &str, binary: bool) -> Result<Vec<String>, JqError> {
        let input = input_value(payload, binary);
        let ctx = Ctx::<JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let mut out = Vec::new();
        for result in self
            .filter
            .id
            .run((ctx, input.clone()))
            .take(MAX_OUTPUTS_PER_ITEM)
        {
            let value = result.map_err(runtime_error)?;
            out.push(if value == input {
                payload.to_owned()
            } else {
                output_text(&value)
            });
        }
        Ok(out)
    }

    /// Whether the filter keeps an item, as a condition: true when one of its first
    /// [`MAX_OUTPUTS_PER_ITEM`] outputs is neither `false` nor `null` (so `select(...)` and
    /// `.type == "ticker"` both work); no output, or only false and null, drops it.
    pub fn keeps(&self, payload: &str, binary: bool) -> Result<bool, JqError> {
        let input = input_value(payload, binary);
        let ctx = Ctx::<JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        for result in self.filter.id.run((ctx, input)).take(MAX_OUTPUTS_PER_ITEM) {
            if jaq_core::ValT::as_bool(&result.map_err(runtime_error)?) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Whether a filter may read the process's environment.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Env {
    Allowed,
    Refused,
}

// Not `jaq_core::unwrap_valr`: it exits the process on `halt`.
fn runtime_error(exn: jaq_core::Exn<Val>) -> JqError {
    match exn.get_err() {
        Ok(err) => JqError::Runtime(err.to_string()),
        Err(_) => JqError::Runtime(
            "the filter called halt; here a filter can only keep, drop or map items".into(),
        ),
    }
}

fn input_value(payload: &str, binary: bool) -> Val {
    if !binary {
        if let Ok(v) = jaq_json::read::parse_single(payload.as_bytes()) {
            return v;
        }
    }
    Val::utf8_str(payload.as_bytes().to_vec())
}

fn output_text(value: &Val) -> String {
    match value {
        Val::TStr(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        other => other.to_string(),
    }
}

/// The 1-based column (in characters) where `part`, a slice of `whole`, starts. `None` when
/// `part` is not inside `whole` (an error in jq's own library, which never happens for a
/// library that compiles).
fn column(whole: &str, part: &str) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start <= whole.len() && whole.is_char_boundary(start))
        .then(|| whole[..start].chars().count() + 1)
}

/// What was found where a mistake is: the token, or the end of the expression.
fn found(part: &str) -> String {
    match part.chars().next() {
        None => "the end of the expression".into(),
        Some(_) => {
            let token: String = part.chars().take(20).collect();
            format!("`{token}`")
        }
    }
}

fn load_error(expression: &str, errs: load::Errors<&str, ()>) -> JqError {
    let first = errs.into_iter().next().map(|(_, e)| e);
    let (at, message) = match first {
        Some(load::Error::Lex(lex)) => match lex.into_iter().next() {
            Some((expect, at)) => (at, lex_message(expression, &expect, at)),
            None => ("", "cannot read the expression".to_owned()),
        },
        Some(load::Error::Parse(parse)) => match parse.into_iter().next() {
            Some((expect, at)) => (
                at,
                format!("expected {} but found {}", expect.as_str(), found(at)),
            ),
            None => ("", "cannot parse the expression".to_owned()),
        },
        // Modules and data files are not offered: a filter is one expression.
        Some(load::Error::Io(io)) => match io.into_iter().next() {
            Some((at, why)) => (at, format!("cannot import: {why}")),
            None => ("", "cannot import".to_owned()),
        },
        None => ("", "the expression cannot be read".to_owned()),
    };
    JqError::Syntax {
        column: column(expression, at).unwrap_or(1),
        message,
    }
}

fn lex_message(expression: &str, expect: &load::lex::Expect<&str>, at: &str) -> String {
    use load::lex::Expect;
    let what = match expect {
        Expect::Digit => "a digit".to_owned(),
        Expect::Ident => "a name after `$` or `@`".to_owned(),
        Expect::Delim(open) => {
            let close = match *open {
                "(" => "`)`",
                "[" => "`]`",
                "{" => "`}`",
                "\"" => "a closing `\"`",
                _ => "a closing delimiter",
            };
            match column(expression, open) {
                Some(c) => format!("{close} to match the `{open}` at column {c}"),
                None => close.to_owned(),
            }
        }
        Expect::Escape => "a string escape such as `\\n` or `\\(...)`".to_owned(),
        Expect::Unicode => "four hex digits after `\\u`".to_owned(),
        Expect::Token => "a jq token".to_owned(),
        _ => "something else".to_owned(),
    };
    format!("expected {what} but found {}", found(at))
}

fn compile_error(expression: &str, errs: jaq_core::compile::Errors<&str, ()>, env: Env) -> JqError {
    let first = errs.into_iter().flat_map(|(_, es)| es).next();
    match first {
        Some((name, undefined)) => {
            use jaq_core::compile::Undefined;
            let what = match undefined {
                _ if env == Env::Refused && matches!(name, "env" | "$ENV" | "ENV") => {
                    format!("`{name}` is not available here: it would show the app's environment")
                }
                Undefined::Filter(arity) => {
                    format!("no filter `{name}` taking {arity} argument(s)")
                }
                Undefined::Var => format!("no variable `{name}`"),
                Undefined::Label => format!("no label `{name}`"),
                Undefined::Mod => format!("no module `{name}`"),
                _ => format!("`{name}` is not defined"),
            };
            JqError::Syntax {
                column: column(expression, name).unwrap_or(1),
                message: what,
            }
        }
        None => JqError::Syntax {
            column: 1,
            message: "the expression does not compile".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(expr: &str, payload: &str) -> Vec<String> {
        JqFilter::compile(expr)
            .unwrap()
            .apply(payload, false)
            .unwrap()
    }

    #[test]
    fn select_keeps_an_item_byte_for_byte_or_drops_it() {
        let big = r#"{"order": {"total": 150,  "id": "a1"}}"#;
        let small = r#"{"order":{"total":20}}"#;
        let f = JqFilter::compile("select(.order.total > 100)").unwrap();
        assert_eq!(f.apply(big, false).unwrap(), vec![big.to_owned()]);
        assert!(f.apply(small, false).unwrap().is_empty());
    }

    #[test]
    fn a_path_maps_each_item_to_its_value() {
        assert_eq!(run(".price", r#"{"price": 12.5}"#), vec!["12.5"]);
        assert_eq!(run(".type", r#"{"type":"ticker"}"#), vec!["ticker"]);
        assert_eq!(
            run(".type == \"ticker\"", r#"{"type":"ticker"}"#),
            vec!["true"]
        );
        assert_eq!(
            run("{p: .price}", r#"{"price":1,"x":2}"#),
            vec![r#"{"p":1}"#]
        );
        assert_eq!(run(".[]", "[1,2,3]"), vec!["1", "2", "3"]);
    }

    #[test]
    fn plain_text_is_a_string_and_binary_is_its_base64_text() {
        assert_eq!(
            run(r#"select(test("timeout"))"#, "request timeout after 5 s"),
            vec!["request timeout after 5 s"]
        );
        assert!(run(r#"select(test("timeout"))"#, "all fine").is_empty());
        let f = JqFilter::compile("length").unwrap();
        assert_eq!(f.apply("AAEC", true).unwrap(), vec!["4"]);
        assert_eq!(
            f.apply("[1,2]", true).unwrap(),
            vec!["5"],
            "binary is never parsed"
        );
    }

    #[test]
    fn a_runtime_error_belongs_to_the_item() {
        let f = JqFilter::compile(".price + 1").unwrap();
        let err = f.apply("plain text", false).unwrap_err();
        assert!(matches!(err, JqError::Runtime(_)), "{err}");
        assert!(err.to_string().contains("cannot"), "{err}");
        assert_eq!(f.apply(r#"{"price":1}"#, false).unwrap(), vec!["2"]);
        // `?` silences it, as in jq.
        assert!(run(".price?", "plain text").is_empty());
    }

    #[test]
    fn halt_is_an_error_not_an_exit() {
        let f = JqFilter::compile("halt").unwrap();
        let err = f.apply("1", false).unwrap_err();
        assert!(err.to_string().contains("halt"), "{err}");
    }

    #[test]
    fn outputs_per_item_are_capped() {
        assert_eq!(run("range(1e9)", "null").len(), MAX_OUTPUTS_PER_ITEM);
    }

    #[test]
    fn an_unclosed_parenthesis_says_which_one_and_where() {
        let err = JqFilter::compile("select(.order.total > 100").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`)`"), "{text}");
        assert!(text.contains("column 7"), "the `(` is at column 7: {text}");
    }

    #[test]
    fn a_parse_error_names_the_column_of_what_was_found() {
        let err = JqFilter::compile(".a | | .b").unwrap_err();
        let JqError::Syntax { column, message } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(*column, 6, "{message}");
        assert!(message.contains("`|"), "{message}");
    }

    #[test]
    fn an_unknown_filter_is_named() {
        let err = JqFilter::compile(".a | selct(.b)").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("selct"), "{text}");
        assert!(text.contains("column 6"), "{text}");
    }

    #[test]
    fn an_empty_or_overlong_expression_is_refused() {
        assert!(JqFilter::compile("  ")
            .unwrap_err()
            .to_string()
            .contains("empty"));
        let long = format!(".a{}", " ".repeat(MAX_EXPRESSION_BYTES));
        let err = JqFilter::compile(&long).unwrap_err();
        assert!(matches!(err, JqError::TooLong { .. }), "{err}");
        assert!(err.to_string().contains("4096"), "{err}");
    }

    #[test]
    fn a_filter_can_move_to_another_thread() {
        fn send<T: Send + Sync>(_: &T) {}
        send(&JqFilter::compile(".").unwrap());
    }

    proptest! {
        /// Whatever is typed, compiling answers (a filter or an error with a column inside the
        /// expression) and never panics.
        #[test]
        fn any_expression_compiles_or_says_where(expr in "[ -~]{0,40}") {
            match JqFilter::compile(&expr) {
                Ok(_) => {}
                Err(JqError::Syntax { column, .. }) => {
                    prop_assert!(column >= 1 && column <= expr.chars().count() + 1);
                }
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }

        /// Made of jq's own pieces, expressions hit the parser's deeper paths.
        #[test]
        fn jq_shaped_expressions_never_panic(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("."), Just(".a"), Just("|"), Just("("), Just(")"), Just("["),
                    Just("]"), Just("{"), Just("}"), Just("select"), Just("\""), Just("$x"),
                    Just("as"), Just("if"), Just("then"), Just("else"), Just("end"),
                    Just(","), Just(":"), Just("1"), Just("=="), Just("?"), Just("\\("),
                    Just("reduce"), Just("def"), Just(";"), Just("@base64"),
                ],
                0..12,
            )
        ) {
            let expr = parts.join(" ");
            if let Ok(f) = JqFilter::compile(&expr) {
                let _ = f.apply(r#"{"a":[1,{"b":2}]}"#, false);
            }
        }

        /// `.` keeps any payload exactly as it came, JSON or not.
        #[test]
        fn identity_keeps_every_payload(payload in "\\PC{0,60}") {
            let f = JqFilter::compile(".").unwrap();
            prop_assert_eq!(f.apply(&payload, false).unwrap(), vec![payload.clone()]);
            prop_assert_eq!(f.apply(&payload, true).unwrap(), vec![payload]);
        }

        /// `empty` and `select(false)` drop everything; nothing is kept by accident.
        #[test]
        fn dropping_filters_drop(payload in "\\PC{0,60}") {
            for expr in ["empty", "select(false)"] {
                let f = JqFilter::compile(expr).unwrap();
                prop_assert!(f.apply(&payload, false).unwrap().is_empty());
            }
        }
    }
}
