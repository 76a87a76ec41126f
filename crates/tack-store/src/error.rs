//! The store's error types. Messages say what went wrong in words a user can act on.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the history database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the history file {path}: {detail}")]
    Io { path: String, detail: String },
    #[error("a history cap of {bytes} bytes is outside what it may be ({min} to {max} bytes)")]
    CapOutOfRange { bytes: u64, min: u64, max: u64 },
    #[error("this system's SQLite ({version}) was built without full-text search (FTS5), which the history needs; install a SQLite with FTS5 (Debian's libsqlite3-0 has it)")]
    NoFullTextSearch { version: String },
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("the history database has schema version {found}, newer than this app knows ({known}); update the app or open another file")]
    TooNew { found: i64, known: i64 },
    #[error("no stored entry has key {0}; it may have been removed to keep the history under its size cap")]
    NoSuchEntry(i64),
    /// A batch the writer thread could not store (its entries are lost); reported by the next
    /// `flush` or `close`.
    #[error("the history writer could not store {lost} entries: {reason}")]
    WriteFailed { lost: u64, reason: String },
    /// The writer thread has stopped (closed, or it panicked); nothing more can be written through it.
    #[error("the history writer has stopped")]
    WriterStopped,
}

/// Why a search query was refused. Each names the part of the query that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the search is {len} characters long; the limit is {max}")]
    TooLong { len: usize, max: usize },
    #[error("the search has more than {max} words and filters; remove some")]
    TooManyTerms { max: usize },
    #[error("nothing to search for: type a word, a \"phrase\" or a filter such as from:nick")]
    Empty,
    #[error("a quote opened at character {at} is never closed")]
    UnclosedQuote { at: usize },
    #[error("`{filter}:` needs a value, as in `{filter}:{example}`")]
    EmptyFilter {
        filter: &'static str,
        example: &'static str,
    },
    #[error("`{filter}:{value}` is not a date: write 2026-12-01 or 2026-12-01T18:30:00Z")]
    BadDate { filter: &'static str, value: String },
    #[error("`{filter}:` is given twice; use it once")]
    Repeated { filter: &'static str },
    #[error("only excluded words (`-{example}`): add a word or a filter to search for")]
    OnlyExclusions { example: String },
    #[error("after:{after} is not before before:{before}, so nothing can match")]
    EmptyRange { after: String, before: String },
}
