//! The monitor's jq query: a filter that decides which channel items the window shows, and a
//! map that shows only what an expression yields from each. Both run in the engine, on every
//! item as it is delivered, so the window (which may be sent only a sample of a fast channel)
//! never evaluates jq and never misses a match for being busy.
//!
//! A query is compiled once when it is set; a mistake refuses it (the one in force stays). On
//! each item it gives a [`Verdict`], stamped with the query's generation so the window knows
//! which query judged which item. Neither expression may read the app's environment (see
//! [`JqFilter::compile_without_env`]), and each is bounded per item as `jq` bounds it.

use crate::error::JqError;
use crate::jq::JqFilter;
use serde::{Deserialize, Serialize};

/// What the query made of one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Verdict {
    /// The query that judged the item (see [`MonitorQuery::generation`]).
    pub generation: u32,
    /// Whether the filter keeps the item (always, without a filter).
    pub keep: bool,
    /// With a map, what it yielded from a kept item, one text per output (none: it yielded
    /// nothing).
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown: Option<Vec<String>>,
    /// Why the filter or the map failed on this item (a failed filter drops the item).
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A query taken: its generation, and the verdicts on the newest items already delivered, so
/// a window can show what the new query keeps of what it has (not only of what comes next).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QueryApplied {
    pub generation: u32,
    /// Newest first, at most [`REJUDGE_MAX`]; none when the query was cleared.
    pub rejudged: Vec<Rejudged>,
}

/// An item delivered before the query was set, judged by it; found by its channel and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Rejudged {
    pub channel: String,
    pub id: u64,
    pub verdict: Verdict,
}

/// Items judged again when a query is set: the newest a person scrolls through, at a cost of
/// milliseconds, not the whole 64 MiB the engine may keep for Export.
pub const REJUDGE_MAX: usize = 2000;

/// Which of the query's two fields a refused expression was typed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum QueryField {
    Filter,
    Map,
}

/// Why a query was refused: which field, and jq's message with its column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[error("{field:?}: {message}")]
pub struct QueryError {
    pub field: QueryField,
    /// 1-based character column of the mistake in that field, when it has one.
    pub column: Option<u32>,
    pub message: String,
}

/// A compiled query. Empty fields are left out: no filter keeps every item, no map shows each
/// item whole.
#[derive(Debug)]
pub struct MonitorQuery {
    generation: u32,
    filter: Option<JqFilter>,
    map: Option<JqFilter>,
}

impl MonitorQuery {
    /// Compiles both fields; `None` when both are blank (no query at all).
    pub fn compile(
        generation: u32,
        filter: &str,
        map: &str,
    ) -> Result<Option<MonitorQuery>, QueryError> {
        let filter = compile_field(QueryField::Filter, filter)?;
        let map = compile_field(QueryField::Map, map)?;
        if filter.is_none() && map.is_none() {
            return Ok(None);
        }
        Ok(Some(MonitorQuery {
            generation,
            filter,
            map,
        }))
    }

    /// Numbers the queries of a session, so each item's verdict names the query it is from.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Judges one item's payload (text as is, binary as base64; see `jq` for what jq sees).
    pub fn judge(&self, payload: &str, binary: bool) -> Verdict {
        let mut verdict = Verdict {
            generation: self.generation,
            keep: true,
            shown: None,
            error: None,
        };
        if let Some(filter) = &self.filter {
            match filter.keeps(payload, binary) {
                Ok(keep) => verdict.keep = keep,
                Err(e) => {
                    verdict.keep = false;
                    verdict.error = Some(e.to_string());
                }
            }
        }
        if let (true, Some(map)) = (verdict.keep, &self.map) {
            match map.apply(payload, binary) {
                Ok(outputs) => verdict.shown = Some(outputs),
                Err(e) => verdict.error = Some(e.to_string()),
            }
        }
        verdict
    }
}

fn compile_field(field: QueryField, expression: &str) -> Result<Option<JqFilter>, QueryError> {
    if expression.trim().is_empty() {
        return Ok(None);
    }
    JqFilter::compile_without_env(expression)
        .map(Some)
        .map_err(|e| QueryError {
            field,
            column: match &e {
                JqError::Syntax { column, .. } => Some(*column as u32),
                _ => None,
            },
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jq::MAX_OUTPUTS_PER_ITEM;
    use proptest::prelude::*;

    fn query(filter: &str, map: &str) -> MonitorQuery {
        MonitorQuery::compile(7, filter, map).unwrap().unwrap()
    }

    #[test]
    fn a_condition_or_a_select_keeps_matching_items_and_hides_the_rest() {
        let big = r#"{"order":{"total":150}}"#;
        let small = r#"{"order":{"total":20}}"#;
        for filter in ["select(.order.total > 100)", ".order.total > 100"] {
            let q = query(filter, "");
            assert!(q.judge(big, false).keep, "{filter}");
            assert!(!q.judge(small, false).keep, "{filter}");
        }
        let ticker = query(r#".type == "ticker""#, "");
        assert!(ticker.judge(r#"{"type":"ticker"}"#, false).keep);
        assert!(!ticker.judge(r#"{"type":"trade"}"#, false).keep);
    }

    #[test]
    fn false_null_and_nothing_hide_an_item_any_other_value_keeps_it() {
        for (filter, keep) in [
            ("false", false),
            ("null", false),
            ("empty", false),
            ("false, null", false),
            ("true", true),
            ("0", true),
            (r#""""#, true),
            ("null, 1", true),
            (".missing", false),
        ] {
            assert_eq!(query(filter, "").judge("{}", false).keep, keep, "{filter}");
        }
    }

    #[test]
    fn a_map_shows_what_it_yields_from_each_kept_item() {
        let q = query(r#".type == "ticker""#, ".price");
        let v = q.judge(r#"{"type":"ticker","price":101.5}"#, false);
        assert_eq!(v.shown, Some(vec!["101.5".to_owned()]));
        assert_eq!(v.generation, 7);
        let hidden = q.judge(r#"{"type":"trade","price":3}"#, false);
        assert!(!hidden.keep);
        assert_eq!(hidden.shown, None, "a hidden item is not mapped");
        let all = query("", ".items[]");
        assert_eq!(
            all.judge(r#"{"items":["a",2]}"#, false).shown,
            Some(vec!["a".to_owned(), "2".to_owned()])
        );
    }

    #[test]
    fn blank_fields_are_no_query() {
        assert!(MonitorQuery::compile(1, " ", "").unwrap().is_none());
    }

    #[test]
    fn plain_text_is_a_jq_string_and_binary_is_its_base64() {
        let q = query(r#"test("timeout")"#, "");
        assert!(q.judge("request timeout after 5 s", false).keep);
        assert!(!q.judge("all fine", false).keep);
        let b = query(r#". == "AAEC""#, "");
        assert!(b.judge("AAEC", true).keep);
    }

    #[test]
    fn a_bad_expression_is_refused_with_its_field_and_column() {
        let err = MonitorQuery::compile(1, "select(.order.total > 100", "").unwrap_err();
        assert_eq!(err.field, QueryField::Filter);
        // Where it ran out, and which `(` is still open.
        assert_eq!(err.column, Some(26), "{err}");
        assert!(err.message.contains("the `(` at column 7"), "{err}");
        let err = MonitorQuery::compile(1, ".a", ".price |").unwrap_err();
        assert_eq!(err.field, QueryField::Map);
        assert_eq!(err.column, Some(9), "{err}");
    }

    /// jaq's `env` and `$ENV` would put the app's environment (whatever the user's shell
    /// exports: tokens, paths) on screen; the monitor refuses both when they are set.
    #[test]
    fn the_apps_environment_is_refused() {
        for (filter, column) in [
            ("env", 1),
            ("$ENV", 1),
            (".a | env.HOME", 6),
            ("$ENV.PATH", 1),
        ] {
            let err = MonitorQuery::compile(1, filter, "").unwrap_err();
            assert!(err.message.contains("environment"), "{filter}: {err}");
            assert_eq!(err.column, Some(column), "{filter}: {err}");
            let err = MonitorQuery::compile(1, "", filter).unwrap_err();
            assert_eq!(err.field, QueryField::Map, "{filter}");
        }
        // Where it is typed on one's own shell, `tack watch --jq` keeps jq's `env`.
        assert!(JqFilter::compile("env").is_ok());
    }

    #[test]
    fn a_failure_on_one_item_belongs_to_that_item() {
        let q = query(".order.total > 100", ".price + 1");
        let text = q.judge("plain text", false);
        assert!(!text.keep);
        assert!(text.error.unwrap().contains("cannot"));
        let bad_map = q.judge(r#"{"order":{"total":200},"price":"x"}"#, false);
        assert!(bad_map.keep);
        assert!(bad_map.error.is_some());
        let good = q.judge(r#"{"order":{"total":200},"price":1}"#, false);
        assert_eq!(
            (good.keep, good.shown, good.error),
            (true, Some(vec!["2".into()]), None)
        );
    }

    #[test]
    fn outputs_are_bounded_per_item() {
        let q = query("", "range(1e9)");
        assert_eq!(
            q.judge("null", false).shown.unwrap().len(),
            MAX_OUTPUTS_PER_ITEM
        );
        // A filter stops at its first truthy output; one that never yields one stops at the cap.
        assert!(
            query("range(1e9) | false, true", "")
                .judge("null", false)
                .keep
        );
        assert!(!query("range(1e9) | false", "").judge("null", false).keep);
    }

    proptest! {
        /// Whatever the payload, a judged item says which query judged it, a hidden one shows
        /// nothing, and the map never yields more than the cap.
        #[test]
        fn any_payload_gets_a_bounded_verdict(payload in "\\PC{0,60}", binary: bool) {
            let q = query(r#"(.a? // .) | tostring | test("x")"#, ".[]?");
            let v = q.judge(&payload, binary);
            prop_assert_eq!(v.generation, 7);
            if !v.keep {
                prop_assert!(v.shown.is_none());
            }
            prop_assert!(v.shown.map_or(0, |s| s.len()) <= MAX_OUTPUTS_PER_ITEM);
        }
    }
}
