//! Search latency over a million entries, and the writer's insert rate.
//!
//! `cargo run -p tack-store --release --example search_bench [path]`
//!
//! Builds (or, when the file already holds them, reuses) a history of 1,000,000 entries of
//! generated chat: 4,000 words with Zipf-like frequencies, 500 nicks, 50 rooms (a tenth of
//! entries are channel items) on 3 servers, about 35 days at 3 s apart. Everything is drawn
//! from a fixed seed, so two runs search the same file. Then runs 200 searches of every kind
//! the search box takes and prints p50/p99/max latency (limit 50), per kind and in all.

use std::time::{Duration, Instant};
use tack_store::{Body, Entry, Payload, Place, Store, StoreOptions, StoreWriter, WriterOptions};

const ENTRIES: u64 = 1_000_000;
const WORDS: usize = 4_000;
const NICKS: usize = 500;
const ROOMS: usize = 50;
const SERVERS: [&str; 3] = ["home", "work", "club"];
/// 2026-01-01T00:00:00Z.
const START_MS: u64 = 1_767_225_600_000;
const LIMIT: usize = 50;

fn main() {
    let path = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tack-store-bench.sqlite3"));
    let corpus = Corpus::new();
    let stored = Store::open(&path, StoreOptions::default())
        .map(|s| count(&s))
        .unwrap_or(0);
    if stored == ENTRIES {
        println!("reusing {} ({stored} entries)", path.display());
    } else {
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(path.with_extension("sqlite3-wal"));
        let _ = std::fs::remove_file(path.with_extension("sqlite3-shm"));
        build(&path, &corpus);
    }
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    println!(
        "db size: {:.1} MiB ({} entries)",
        store.size_bytes().unwrap() as f64 / (1 << 20) as f64,
        count(&store)
    );
    run_queries(&store, &corpus);
}

fn count(store: &Store) -> u64 {
    SERVERS
        .iter()
        .flat_map(|server| {
            store
                .places(server)
                .unwrap()
                .into_iter()
                .map(move |p| (server, p.place))
        })
        .map(|(server, place)| {
            store
                .last_id(server, &place)
                .unwrap()
                .map_or(0, |point| point.id)
        })
        .sum()
}

fn build(path: &std::path::Path, corpus: &Corpus) {
    println!("building {} ({ENTRIES} entries)...", path.display());
    let writer = StoreWriter::start(
        Store::open(path, StoreOptions::default()).unwrap(),
        WriterOptions::default(),
    );
    for (i, server) in SERVERS.iter().enumerate() {
        writer
            .name_server(server, &format!("{} server", ["Home", "Work", "Club"][i]))
            .unwrap();
    }
    let mut rng = Rng(7);
    let mut next_id = vec![1u64; ROOMS];
    let mut at = START_MS;
    let started = Instant::now();
    for _ in 0..ENTRIES {
        let room = rng.below(ROOMS as u64) as usize;
        at += 1 + rng.below(6_000);
        let id = next_id[room];
        next_id[room] += 1;
        let text = corpus.sentence(&mut rng);
        // Rooms 45..49 are channels of JSON items, the rest chat rooms.
        let (place, body) = if room >= 45 {
            let payload = format!(
                "{{\"symbol\":\"{}\",\"price\":{},\"note\":\"{text}\"}}",
                corpus.word(&mut rng),
                rng.below(100_000)
            );
            (
                Place::Channel(format!("feed{room}")),
                Body::Item {
                    payload: Payload::Text(payload),
                },
            )
        } else {
            (
                Place::Room(format!("room{room}")),
                Body::Message {
                    nick: corpus.nick(&mut rng),
                    comment: text,
                },
            )
        };
        writer
            .send(Entry {
                server: SERVERS[room % SERVERS.len()].into(),
                place,
                epoch: "e1".into(),
                id,
                at,
                body,
            })
            .unwrap();
    }
    writer.close().unwrap();
    let took = started.elapsed();
    println!(
        "writer: {ENTRIES} entries in {:.1} s = {:.0} entries/s (batches of {}, one transaction each)",
        took.as_secs_f64(),
        ENTRIES as f64 / took.as_secs_f64(),
        WriterOptions::default().batch_entries
    );
}

fn run_queries(store: &Store, corpus: &Corpus) {
    let mut rng = Rng(99);
    let day = 86_400_000;
    let date = |ms: u64| {
        let days = (ms - START_MS) / day;
        format!("2026-{:02}-{:02}", 1 + days / 31, 1 + days % 31)
    };
    let mut kinds: Vec<(&str, Vec<Duration>, usize)> = Vec::new();
    let cases: Vec<(&str, MakeQuery)> = vec![
        (
            "common word",
            Box::new(|r| corpus.ranked(r.below(10) as usize)),
        ),
        (
            "mid word",
            Box::new(|r| corpus.ranked(100 + r.below(400) as usize)),
        ),
        (
            "rare word",
            Box::new(|r| corpus.ranked(3_500 + r.below(500) as usize)),
        ),
        (
            "two words",
            Box::new(|r| {
                format!(
                    "{} {}",
                    corpus.ranked(r.below(50) as usize),
                    corpus.ranked(50 + r.below(500) as usize)
                )
            }),
        ),
        (
            "two common words",
            Box::new(|r| {
                format!(
                    "{} {}",
                    corpus.ranked(r.below(5) as usize),
                    corpus.ranked(5 + r.below(5) as usize)
                )
            }),
        ),
        (
            "phrase",
            Box::new(|r| {
                let s = corpus.sentence(r);
                let words: Vec<&str> = s.split(' ').collect();
                format!("\"{} {}\"", words[0], words[1])
            }),
        ),
        (
            "prefix",
            Box::new(|r| format!("{}*", &corpus.ranked(r.below(2_000) as usize)[..3])),
        ),
        (
            "from: alone",
            Box::new(|r| format!("from:{}", corpus.nick(r))),
        ),
        (
            "from: + word",
            Box::new(|r| {
                format!(
                    "from:{} {}",
                    corpus.nick(r),
                    corpus.ranked(r.below(200) as usize)
                )
            }),
        ),
        ("in: alone", Box::new(|r| format!("in:room{}", r.below(45)))),
        (
            "in: + common word",
            Box::new(|r| {
                format!(
                    "in:room{} {}",
                    r.below(45),
                    corpus.ranked(r.below(10) as usize)
                )
            }),
        ),
        (
            "in: + rare word",
            Box::new(|r| {
                format!(
                    "in:room{} {}",
                    r.below(45),
                    corpus.ranked(3_000 + r.below(1_000) as usize)
                )
            }),
        ),
        (
            "server: + word",
            Box::new(|r| {
                format!(
                    "server:{} {}",
                    SERVERS[r.below(3) as usize],
                    corpus.ranked(r.below(300) as usize)
                )
            }),
        ),
        (
            "word + old time range",
            Box::new(move |r| {
                let from = START_MS + r.below(5) * day;
                format!(
                    "{} after:{} before:{}",
                    corpus.ranked(r.below(20) as usize),
                    date(from),
                    date(from + 2 * day)
                )
            }),
        ),
        (
            "time range alone",
            Box::new(move |r| {
                let from = START_MS + r.below(30) * day;
                format!("after:{} before:{}", date(from), date(from + day))
            }),
        ),
        (
            "word -common",
            Box::new(|r| {
                format!(
                    "{} -{}",
                    corpus.ranked(r.below(10) as usize),
                    corpus.ranked(10 + r.below(10) as usize)
                )
            }),
        ),
    ];
    let per_kind = 200usize.div_ceil(cases.len());
    for (name, make) in &cases {
        let mut times = Vec::new();
        let mut hits = 0;
        for _ in 0..per_kind {
            let query = make(&mut rng);
            let started = Instant::now();
            let found = store
                .search(&query, LIMIT)
                .unwrap_or_else(|e| panic!("{query}: {e}"));
            times.push(started.elapsed());
            hits += found.len();
        }
        kinds.push((name, times, hits));
    }
    println!(
        "\n{:<24} {:>9} {:>9} {:>9} {:>10}",
        "query kind", "p50 ms", "p99 ms", "max ms", "avg hits"
    );
    let mut all = Vec::new();
    for (name, times, hits) in &kinds {
        let (p50, p99, max) = percentiles(times);
        println!(
            "{name:<24} {p50:>9.2} {p99:>9.2} {max:>9.2} {:>10.1}",
            *hits as f64 / times.len() as f64
        );
        all.extend(times);
    }
    let (p50, p99, max) = percentiles(&all);
    println!(
        "{:<24} {p50:>9.2} {p99:>9.2} {max:>9.2}",
        format!("all ({} queries)", all.len())
    );
}

/// Draws one search of a kind.
type MakeQuery<'a> = Box<dyn Fn(&mut Rng) -> String + 'a>;

fn percentiles(times: &[Duration]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99), ms[ms.len() - 1])
}

/// The generated language: words by rank (rank 0 the most frequent) and nicks.
struct Corpus {
    words: Vec<String>,
    /// Cumulative Zipf weights (1/rank) for drawing a rank.
    cumulative: Vec<f64>,
    nicks: Vec<String>,
}

impl Corpus {
    fn new() -> Corpus {
        const SYLLABLES: [&str; 24] = [
            "ka", "lo", "mi", "ren", "to", "sa", "vi", "no", "pe", "ru", "da", "zen", "bo", "li",
            "ta", "mar", "ke", "so", "fi", "gu", "ne", "ho", "wa", "tri",
        ];
        let mut rng = Rng(1);
        let mut seen = std::collections::HashSet::new();
        let mut words = Vec::new();
        while words.len() < WORDS {
            let syllables = 1 + rng.below(3) + u64::from(words.len() > 200);
            let word: String = (0..syllables)
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len() as u64) as usize])
                .collect();
            if seen.insert(word.clone()) {
                words.push(word);
            }
        }
        let mut total = 0.0;
        let cumulative = (1..=WORDS)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        let nicks = (0..NICKS)
            .map(|i| format!("{}{}", words[(i * 7) % 300], i % 10))
            .collect();
        Corpus {
            words,
            cumulative,
            nicks,
        }
    }

    fn ranked(&self, rank: usize) -> String {
        self.words[rank].clone()
    }

    fn word(&self, rng: &mut Rng) -> &str {
        let total = self.cumulative[WORDS - 1];
        let x = rng.unit() * total;
        let rank = self.cumulative.partition_point(|c| *c < x).min(WORDS - 1);
        &self.words[rank]
    }

    fn sentence(&self, rng: &mut Rng) -> String {
        let len = 3 + rng.below(15);
        (0..len)
            .map(|_| self.word(rng))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn nick(&self, rng: &mut Rng) -> String {
        self.nicks[rng.below(NICKS as u64) as usize].clone()
    }
}

/// splitmix64: fixed seeds give the same history on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
