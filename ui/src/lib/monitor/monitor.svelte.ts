//! The traffic monitor's state: every item from watched channels in one bounded log (with a
//! marker where a channel's history could not be recovered), the view of it the filter lets
//! through, pause, selection and per-channel figures.
//!
//! Items arrive at network speed (10,000/s is a design point), so they go into plain ring
//! buffers and nothing reactive changes per item. `frame()` (once per animation frame) bumps
//! `version` when the view changed, and `tick()` (once per second) publishes the figures. The
//! log never holds more than `capacity` items, and nor does the hold-back queue while paused.

import type { ChannelStats, ClientEvent, QueryApplied } from '../backend';
import { RingBuffer } from '../app/ring';
import { compileFilter, jqFilter, type LogFilter } from './filter';
import type { RefusedQuery } from './query';
import { RateHistory } from './rate';

/**
 * One logged item: the engine's `raw` event itself, numbered. (At thousands of items a second a
 * copy per item would be garbage for the webview to collect, for nothing.)
 */
export type LogItem = Extract<ClientEvent, { kind: 'raw' }> & {
  /** Position in arrival order, unique in this window. */
  seq: number;
};

/** Where a channel's items could not all be recovered: some after `after_id` may be missing. */
export interface LogGap {
  kind: 'gap';
  channel: string;
  after_id: number | null;
  seq: number;
}

/** A line of the log: an item, or a gap marker at its place among them. */
export type LogEntry = LogItem | LogGap;

/** How the filter box reads what is typed: text and /regex/ here, or jq in the engine. */
export type FilterMode = 'text' | 'jq';

/** The jq query the engine has in force (blank fields: none), and its generation. */
export interface JqQuery {
  filter: string;
  map: string;
  /** The verdicts of this query carry this number; null: no query. */
  generation: number | null;
}

/** Items the log keeps (all channels together). */
export const LOG_CAPACITY = 50_000;

/** A watched channel with its figures, refreshed once a second. */
export class WatchedChannel {
  readonly name: string;
  messages = $state(0);
  bytes = $state(0);
  /** Messages in the last second. */
  rate = $state(0);
  latencyMs = $state<number | null>(null);
  /** Oldest items the engine dropped from what it keeps for Export (its memory is bounded). */
  dropped = $state(0);
  /** Non-reactive counters, written per item and published by `publish()`. */
  counted = { messages: 0, bytes: 0 };
  history = new RateHistory(300);
  serverStats: ChannelStats | null = null;

  constructor(name: string) {
    this.name = name;
  }

  publish(nowMs: number): void {
    // The engine's own figures (when it sends them) are authoritative over our counting.
    const s = this.serverStats;
    this.messages = Math.max(this.counted.messages, s?.messages ?? 0);
    this.bytes = Math.max(this.counted.bytes, s?.bytes ?? 0);
    this.rate = this.history.lastSecond(nowMs);
    this.latencyMs = s?.latency_ms ?? null;
    this.dropped = s?.dropped ?? 0;
  }
}

export class Monitor {
  channels = $state<WatchedChannel[]>([]);
  paused = $state(false);
  filterText = $state('');
  channelFilter = $state<string | null>(null);
  filter: LogFilter = $state.raw(compileFilter('', null));
  mode = $state<FilterMode>('text');
  /** The query in force in the engine. */
  jq = $state.raw<JqQuery>({ filter: '', map: '', generation: null });
  /** What is typed in the jq fields (kept across mode switches; not reactive). */
  jqDraft = { filter: '', map: '' };
  /** Why the last query typed was refused (the one in force stays), shown in its field. */
  jqError = $state.raw<RefusedQuery | null>(null);
  /**
   * Items the query in force failed on (a filter that cannot read an item hides it), and the
   * last reason; published once a second.
   */
  jqFailed = $state.raw<{ count: number; last: string | null }>({ count: 0, last: null });
  selected = $state.raw<LogItem | null>(null);
  /** Changes whenever the visible log changed; components read it to know when to redraw. */
  version = $state(0);
  /** Items waiting while paused (published per frame). */
  heldCount = $state(0);
  /** Seconds since the epoch of the last `tick()`, so the chart redraws once a second. */
  second = $state(0);
  /**
   * Items counted but not sent to the window (published once a second): at extreme rates the
   * shell sends only the newest items of each frame, so the log is a sample. The counters and
   * the export include every item.
   */
  skipped = $state(0);
  /**
   * Oldest entries forgotten to keep memory bounded (published once a second): by this
   * window's log (`capacity` entries), and by the engine's store for Export (a byte budget).
   */
  dropped = $state({ log: 0, export: 0 });

  readonly capacity: number;
  readonly total = new RateHistory(300);
  #all: RingBuffer<LogEntry>;
  #shown: RingBuffer<LogEntry>;
  #held: RingBuffer<LogEntry>;
  #seq = 0;
  #dirty = false;
  #skipped = 0;
  #jqFailed = 0;
  #jqLastFailure: string | null = null;
  // Per-item lookups skip the reactive list (a proxy) — it matters at 10,000 items/s.
  #byName = new Map<string, WatchedChannel>();

  constructor(capacity = LOG_CAPACITY) {
    this.capacity = capacity;
    this.#all = new RingBuffer(capacity);
    this.#shown = this.#all;
    this.#held = new RingBuffer(capacity);
  }

  /** The filtered log, oldest first. Read `version` first to be re-run when it changes. */
  get view(): RingBuffer<LogEntry> {
    return this.#shown;
  }

  /**
   * A recording is being replayed into the log: its items carry their recorded receive
   * times, so the rate chart counts them when they arrive here instead.
   */
  replaying = false;

  /** Items held in bounded buffers, for the performance probe. */
  get buffered(): Record<string, number> {
    return { log: this.#all.length, view: this.#shown === this.#all ? 0 : this.#shown.length, held: this.#held.length };
  }

  /** Lookup for the hot path (not reactive: a channel added later does not re-run the caller). */
  channel(name: string): WatchedChannel | undefined {
    return this.#byName.get(name);
  }

  /** Lookup for views: re-runs the caller when channels come and go. */
  find(name: string): WatchedChannel | undefined {
    return this.channels.find((c) => c.name === name);
  }

  /** Starts showing a channel in the sidebar (the watch itself is the backend's). */
  addChannel(name: string): WatchedChannel {
    const found = this.channel(name);
    if (found) return found;
    this.channels.push(new WatchedChannel(name));
    const added = this.channels[this.channels.length - 1];
    this.#byName.set(name, added);
    return added;
  }

  removeChannel(name: string): void {
    this.channels = this.channels.filter((c) => c.name !== name);
    this.#byName.delete(name);
    if (this.channelFilter === name) this.setFilter(this.filterText, null);
  }

  /** Takes a `raw`, `skipped`, or a channel's `gap` or `stats` event from the engine. */
  apply(e: ClientEvent): void {
    switch (e.kind) {
      case 'raw':
        this.ingest(e);
        return;
      case 'skipped':
        this.#countSkipped(e);
        return;
      case 'gap':
        if (e.target.type === 'channel') this.#gap(e.target.name, e.after_id);
        return;
      case 'stats': {
        const ch = e.target.type === 'channel' ? this.channel(e.target.name) : undefined;
        if (ch) ch.serverStats = e;
        return;
      }
    }
  }

  /** A marker in the log where `channel`'s history could not be recovered, in arrival order. */
  #gap(channel: string, afterId: number | null): void {
    if (!this.channel(channel)) return;
    const gap: LogGap = { kind: 'gap', channel, after_id: afterId, seq: ++this.#seq };
    if (this.paused) this.#held.push(gap);
    else this.#log(gap);
    this.#dirty = true;
  }

  #countSkipped(e: Extract<ClientEvent, { kind: 'skipped' }>): void {
    const ch = this.channel(e.channel) ?? this.addChannel(e.channel);
    const now = Date.now();
    ch.counted.messages += e.count;
    ch.counted.bytes += e.bytes;
    ch.history.add(now, e.count);
    this.total.add(now, e.count);
    this.#skipped += e.count;
  }

  ingest(e: Extract<ClientEvent, { kind: 'raw' }>): void {
    const item = e as LogItem;
    item.seq = ++this.#seq;
    const ch = this.channel(e.channel) ?? this.addChannel(e.channel);
    ch.counted.messages++;
    ch.counted.bytes += e.size;
    const at = this.replaying ? Date.now() : e.received;
    ch.history.add(at);
    this.total.add(at);
    if (e.query?.error && e.query.generation === this.jq.generation) {
      this.#jqFailed++;
      this.#jqLastFailure = e.query.error;
    }
    if (this.paused) this.#held.push(item);
    else this.#log(item);
    this.#dirty = true;
  }

  /**
   * Items the app stored, shown when a channel opens (before the server resumes after them):
   * in the log, not counted in the channel's figures, which are about traffic now.
   */
  restore(stored: ClientEvent[]): void {
    for (const e of stored) {
      if (e.kind === 'raw') {
        const item = { ...e, seq: ++this.#seq } as LogItem;
        this.#log(item);
      } else if (e.kind === 'gap' && e.target.type === 'channel') this.#gap(e.target.name, e.after_id);
    }
    this.#dirty = true;
  }

  /** Selects the newest logged item of `channel` with id `id` (a search hit); false if none. */
  selectById(channel: string, id: number): boolean {
    for (let i = this.#all.length - 1; i >= 0; i--) {
      const item = this.#all.at(i);
      if (item && item.kind === 'raw' && item.channel === channel && item.id === id) {
        this.selected = item as LogItem;
        return true;
      }
    }
    return false;
  }

  #log(item: LogEntry): void {
    this.#all.push(item);
    if (this.#shown !== this.#all && this.filter.matches(item)) this.#shown.push(item);
  }

  /** Once per animation frame: tell the view if anything changed. */
  frame(): void {
    if (!this.#dirty) return;
    this.#dirty = false;
    if (this.paused) this.heldCount = this.#held.length;
    else this.version++;
  }

  /** Once per second: publish rates and counters. */
  tick(nowMs = Date.now()): void {
    let exportDropped = 0;
    for (const ch of this.channels) {
      ch.publish(nowMs);
      exportDropped += ch.dropped;
    }
    this.second = Math.floor(nowMs / 1000);
    if (this.skipped !== this.#skipped) this.skipped = this.#skipped;
    if (this.jqFailed.count !== this.#jqFailed) this.jqFailed = { count: this.#jqFailed, last: this.#jqLastFailure };
    const logDropped = this.#all.dropped;
    if (this.dropped.log !== logDropped || this.dropped.export !== exportDropped) {
      this.dropped = { log: logDropped, export: exportDropped };
    }
  }

  setFilter(text: string, channel: string | null): void {
    this.filterText = text;
    this.channelFilter = channel;
    this.#refilter();
  }

  /** Text (and /regex/) filtering here, or the engine's jq query. */
  setMode(mode: FilterMode): void {
    this.mode = mode;
    this.jqError = null;
    this.#refilter();
  }

  /**
   * The engine took a query: the view is what it keeps, of the newest items already logged
   * (judged again by the engine) and of every item from now on.
   */
  queryApplied(filter: string, map: string, { generation, rejudged }: QueryApplied): void {
    const none = !filter.trim() && !map.trim();
    if (rejudged.length) {
      const verdicts = new Map(rejudged.map((r) => [`${r.channel}\u0000${r.id}`, r.verdict]));
      for (const ring of [this.#all, this.#held]) {
        for (let i = 0; i < ring.length; i++) {
          const item = ring.at(i)!;
          if (item.kind !== 'raw' || item.id == null) continue;
          const verdict = verdicts.get(`${item.channel}\u0000${item.id}`);
          // Only newer news: an item may have been judged live by this query already.
          if (verdict && (item.query?.generation ?? -1) < verdict.generation) item.query = verdict;
        }
      }
    }
    this.jq = { filter, map, generation: none ? null : generation };
    this.jqError = null;
    this.#jqFailed = 0;
    this.#jqLastFailure = null;
    this.jqFailed = { count: 0, last: null };
    if (this.mode === 'jq') this.#refilter();
  }

  /** The engine refused a query; the one in force stays. */
  queryRefused(error: RefusedQuery): void {
    this.jqError = error;
  }

  #refilter(): void {
    const channel = this.channelFilter;
    this.filter = this.mode === 'jq' ? jqFilter(this.jq.generation, channel) : compileFilter(this.filterText, channel);
    if (!this.filter.active) {
      this.#shown = this.#all;
    } else {
      this.#shown = new RingBuffer(this.capacity);
      for (let i = 0; i < this.#all.length; i++) {
        const item = this.#all.at(i)!;
        if (this.filter.matches(item)) this.#shown.push(item);
      }
    }
    this.version++;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (let i = 0; i < this.#held.length; i++) this.#log(this.#held.at(i)!);
    this.#held.clear();
    this.heldCount = 0;
    this.version++;
  }

  clear(): void {
    this.#all.clear();
    this.#held.clear();
    if (this.#shown !== this.#all) this.#shown = new RingBuffer(this.capacity);
    this.heldCount = 0;
    this.selected = null;
    for (const ch of this.channels) ch.history.clear();
    this.total.clear();
    this.#skipped = 0;
    this.skipped = 0;
    this.#jqFailed = 0;
    this.jqFailed = { count: 0, last: null };
    this.dropped = { log: 0, export: this.dropped.export };
    this.version++;
  }

  /** Forget everything (switching servers). */
  reset(): void {
    this.clear();
    this.channels = [];
    this.#byName.clear();
    // A new session's engine has no query.
    this.mode = 'text';
    this.jq = { filter: '', map: '', generation: null };
    this.jqError = null;
    this.setFilter('', null);
    this.paused = false;
  }
}
