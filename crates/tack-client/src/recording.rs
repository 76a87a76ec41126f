//! A recording: items as JSON Lines, one [`Record`] a line, in the format the monitor's export
//! writes and `tack watch --json` prints, so a file made either way reads the same here.
//!
//! This module reads a recording back and says when each item is due on a replay at a given
//! [`Speed`]. It never publishes anything or waits: the caller (`tack replay`, later the
//! monitor's player) owns the clock and the destination.
//!
//! Reading rules: blank lines are skipped; any other line that is not a record stops the read
//! with [`RecordingError`] naming the line, before the caller has sent anything, because a
//! file with a bad line is not the recording the user thinks it is (and replaying half of it
//! would reproduce something else). Items are put in the order they were received: the
//! window's export lists channel by channel, `tack watch --json` prints in arrival order, and
//! both replay the same way.

use crate::error::RecordingError;
use crate::monitor::Record;
use std::io::BufRead;
use std::str::FromStr;
use std::time::Duration;

/// Reads at most `max_items` records from `input`, sorted by receive time (items received at
/// the same millisecond keep their order in the file). One more item than `max_items` is an
/// error, so a bound never cuts a recording short without saying so.
pub fn read_records(input: impl BufRead, max_items: usize) -> Result<Vec<Record>, RecordingError> {
    let mut records = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line_no = index + 1;
        let line = line.map_err(|e| RecordingError::Io(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        if records.len() == max_items {
            return Err(RecordingError::TooManyItems { max: max_items });
        }
        let record =
            serde_json::from_str::<Record>(&line).map_err(|e| RecordingError::BadLine {
                line: line_no,
                reason: json_problem(&e),
            })?;
        if record.binary && binary_payload(&record).is_none() {
            return Err(RecordingError::BadLine {
                line: line_no,
                reason: "`binary` is true but the payload is not base64".into(),
            });
        }
        records.push(record);
    }
    // Stable: ties keep the file's order.
    records.sort_by_key(|r| r.received);
    Ok(records)
}

/// Reads the recording at `path` (see [`read_records`]).
pub fn read_file(path: &std::path::Path, max_items: usize) -> Result<Vec<Record>, RecordingError> {
    let file = std::fs::File::open(path).map_err(|e| RecordingError::Io(e.to_string()))?;
    // A large buffer: a million-item file is read in big gulps.
    read_records(std::io::BufReader::with_capacity(1 << 20, file), max_items)
}

/// serde_json's message with its position given as a column only: the line is ours to name,
/// and its "line 1" would contradict it.
fn json_problem(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let problem = text.strip_suffix(&suffix).unwrap_or(&text);
    format!("{problem} at column {}", e.column())
}

/// The bytes of a binary record (its payload is base64, as the engine carries it); `None` for
/// a text record or a payload that is not base64.
pub fn binary_payload(record: &Record) -> Option<Vec<u8>> {
    use base64::Engine as _;
    if !record.binary {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(&record.payload)
        .ok()
}

/// How fast a replay goes: the recording's own spacing divided by a factor, or no waiting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// `--speed 10`: ten times faster than recorded; `--speed 0.5`: half as fast.
    Times(f64),
    /// `--speed max` (or 0): each item as soon as the one before is sent.
    AsFastAsPossible,
}

impl Speed {
    /// When the item received at `received` is due, counted from the start of the replay,
    /// for a recording whose first item was received at `first`.
    pub fn due_after(self, first: u64, received: u64) -> Duration {
        match self {
            Speed::AsFastAsPossible => Duration::ZERO,
            Speed::Times(factor) => {
                let recorded = received.saturating_sub(first) as f64 / 1000.0;
                Duration::from_secs_f64(recorded / factor)
            }
        }
    }
}

impl FromStr for Speed {
    type Err = String;

    fn from_str(text: &str) -> Result<Speed, String> {
        if text.eq_ignore_ascii_case("max") {
            return Ok(Speed::AsFastAsPossible);
        }
        match text.parse::<f64>() {
            Ok(0.0) => Ok(Speed::AsFastAsPossible),
            // Below this a one-second gap would take over a day: a typo, not a wish.
            Ok(f) if f.is_finite() && f >= 0.001 => Ok(Speed::Times(f)),
            _ => Err(format!(
                "`{text}` is not a speed: use a factor such as 1, 10 or 0.5, or `max` (or 0) for as fast as possible"
            )),
        }
    }
}

/// How long a replay of `records` (sorted as [`read_records`] returns them) takes at `speed`,
/// not counting the time to send.
pub fn span(records: &[Record], speed: Speed) -> Duration {
    match (records.first(), records.last()) {
        (Some(first), Some(last)) => speed.due_after(first.received, last.received),
        _ => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(channel: &str, received: u64, payload: &str) -> String {
        format!(
            r#"{{"channel":"{channel}","id":1,"ts":{received},"received":{received},"payload":"{payload}"}}"#
        )
    }

    #[test]
    fn a_recording_reads_back_in_receive_order_with_blank_lines_skipped() {
        // As the window exports: channel by channel.
        let file = [
            line("a", 100, "a1"),
            line("a", 300, "a2"),
            String::new(),
            line("b", 200, "b1"),
            line("b", 300, "b2"),
        ]
        .join("\n");
        let records = read_records(file.as_bytes(), 100).unwrap();
        let order: Vec<&str> = records.iter().map(|r| r.payload.as_str()).collect();
        assert_eq!(
            order,
            ["a1", "b1", "a2", "b2"],
            "ties keep the file's order"
        );
        assert!(
            !records[0].binary,
            "binary defaults to false, as the export omits it"
        );
    }

    /// The promise of the format: what the window exports is what a replay reads.
    #[test]
    fn an_export_reads_back_as_the_items_it_wrote() {
        use crate::events::Target;
        use crate::monitor::Monitor;
        let mut monitor = Monitor::new(1 << 20);
        let now = std::time::Instant::now();
        let item = |channel: &str, id, received, payload: &str, binary| Record {
            channel: channel.into(),
            id: Some(id),
            ts: Some(received - 2),
            received,
            user: None,
            payload: payload.into(),
            binary,
        };
        let items = [
            item("prices", 1, 1_000, r#"{"price":1}"#, false),
            item("orders", 7, 1_500, "AAEC", true),
            item("prices", 2, 2_000, "line with \"quotes\"\n", false),
        ];
        for r in &items {
            let target = Target::Channel(r.channel.clone());
            monitor.record(now, &target, r.payload.len(), r.clone());
        }
        let mut file = Vec::new();
        assert_eq!(monitor.export_jsonl(&[], &mut file).unwrap(), 3);
        assert_eq!(read_records(file.as_slice(), 10).unwrap(), items);
    }

    #[test]
    fn a_bad_line_is_named_by_its_number() {
        let file = [
            line("a", 1, "x"),
            "{\"channel\":\"a\"".into(),
            line("a", 2, "y"),
        ]
        .join("\n");
        let err = read_records(file.as_bytes(), 100).unwrap_err();
        assert!(
            matches!(err, RecordingError::BadLine { line: 2, .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("line 2"), "{text}");
        assert!(!text.contains("line 1"), "no second line number: {text}");

        let not_base64 = r#"{"channel":"a","received":1,"payload":"x y","binary":true}"#;
        let err = read_records(not_base64.as_bytes(), 100).unwrap_err();
        assert!(
            matches!(err, RecordingError::BadLine { line: 1, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("base64"), "{err}");

        let missing_time = r#"{"channel":"a","payload":"x"}"#;
        let err = read_records(missing_time.as_bytes(), 100).unwrap_err();
        assert!(err.to_string().contains("received"), "{err}");
    }

    #[test]
    fn more_items_than_the_bound_is_an_error_not_a_cut() {
        let file = (0..5)
            .map(|i| line("a", i, "x"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(read_records(file.as_bytes(), 5).unwrap().len(), 5);
        let err = read_records(file.as_bytes(), 4).unwrap_err();
        assert!(
            matches!(err, RecordingError::TooManyItems { max: 4 }),
            "{err:?}"
        );
    }

    #[test]
    fn spacing_is_divided_by_the_speed() {
        assert_eq!(
            Speed::Times(1.0).due_after(1000, 3000),
            Duration::from_secs(2)
        );
        assert_eq!(
            Speed::Times(10.0).due_after(1000, 3000),
            Duration::from_millis(200)
        );
        assert_eq!(
            Speed::Times(0.5).due_after(1000, 3000),
            Duration::from_secs(4)
        );
        assert_eq!(
            Speed::AsFastAsPossible.due_after(1000, 3000),
            Duration::ZERO
        );
    }

    #[test]
    fn speeds_read_as_the_flag_is_typed() {
        assert_eq!("10".parse::<Speed>(), Ok(Speed::Times(10.0)));
        assert_eq!("0.5".parse::<Speed>(), Ok(Speed::Times(0.5)));
        assert_eq!("max".parse::<Speed>(), Ok(Speed::AsFastAsPossible));
        assert_eq!("0".parse::<Speed>(), Ok(Speed::AsFastAsPossible));
        for bad in ["-1", "fast", "inf", "NaN", "0.0000001"] {
            let err = bad.parse::<Speed>().unwrap_err();
            assert!(err.contains("max"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_span_is_first_to_last_at_the_speed() {
        let file = [line("a", 5_000, "x"), line("a", 65_000, "y")].join("\n");
        let records = read_records(file.as_bytes(), 10).unwrap();
        assert_eq!(span(&records, Speed::Times(1.0)), Duration::from_secs(60));
        assert_eq!(
            span(&records, Speed::Times(100.0)),
            Duration::from_millis(600)
        );
        assert_eq!(span(&[], Speed::Times(1.0)), Duration::ZERO);
    }
}
