//! The deployment view's state: what each Pushpin instance says about itself, read from the
//! server's `$pushpin` channel (one snapshot per instance per second, see docs/PROTOCOL.md).
//!
//! Snapshots come from the server, which had them from Pushpin's stats socket: they are checked
//! field by field, and one that does not read is counted and left out rather than shown half.

import { RateHistory } from '../monitor/rate';

/** The channel every instance's snapshots arrive on. */
export const STATS_CHANNEL = '$pushpin';

/** Instances shown; more would not fit a window, and the server names a handful. */
const MAX_INSTANCES = 32;
/** Channel rows shown per instance (the server sends at most 100). */
const MAX_CHANNELS = 100;

/** One instance's snapshot, as the server publishes it. */
export interface Snapshot {
  instance: string;
  at_ms: number;
  connections: number;
  connections_by_type: Record<string, number>;
  channels: { channel: string; subscribers: number }[];
  channels_truncated: boolean;
  messages_per_second: { received: number; sent: number };
  messages_total: { received: number; sent: number };
  stale: boolean;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The snapshot in `payload`, or null when it is not one. */
export function readSnapshot(payload: string): Snapshot | null {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return null;
  }
  if (!isObject(v) || typeof v.instance !== 'string' || !v.instance || !isCount(v.at_ms) || !isCount(v.connections)) return null;
  const perSecond = v.messages_per_second;
  const total = v.messages_total;
  if (!isObject(perSecond) || !isCount(perSecond.received) || !isCount(perSecond.sent)) return null;
  if (!isObject(total) || !isCount(total.received) || !isCount(total.sent)) return null;
  if (!Array.isArray(v.channels)) return null;
  const channels: Snapshot['channels'] = [];
  for (const c of v.channels.slice(0, MAX_CHANNELS)) {
    if (!isObject(c) || typeof c.channel !== 'string' || !isCount(c.subscribers)) return null;
    channels.push({ channel: c.channel, subscribers: c.subscribers });
  }
  const byType: Record<string, number> = {};
  if (isObject(v.connections_by_type)) {
    for (const [kind, n] of Object.entries(v.connections_by_type)) if (isCount(n)) byType[kind] = n;
  }
  return {
    instance: v.instance,
    at_ms: v.at_ms,
    connections: v.connections,
    connections_by_type: byType,
    channels,
    channels_truncated: v.channels_truncated === true || v.channels.length > MAX_CHANNELS,
    messages_per_second: { received: perSecond.received, sent: perSecond.sent },
    messages_total: { received: total.received, sent: total.sent },
    stale: v.stale === true,
  };
}

/** One Pushpin instance as the view shows it: its latest snapshot and the last minutes of it. */
export class Instance {
  readonly name: string;
  latest = $state<Snapshot | null>(null);
  /** Messages Pushpin sent to its clients per second, and connections, over the last 5 min. */
  readonly sent = new RateHistory(300);
  readonly connections = new RateHistory(300);

  constructor(name: string) {
    this.name = name;
  }

  take(s: Snapshot): void {
    this.latest = s;
    this.sent.set(s.at_ms, s.messages_per_second.sent);
    this.connections.set(s.at_ms, s.connections);
  }
}

export class Deployment {
  /** Instances by name, in the order they first reported. */
  instances = $state<Instance[]>([]);
  /** Whether the window asked the server for the snapshots. */
  watching = $state(false);
  /** Why the server refused them (its words), or null. */
  refused = $state<string | null>(null);
  /** Snapshots that did not read. */
  unreadable = $state(0);
  /** The second the charts end at; bumped by `tick()`. */
  second = $state(Math.floor(Date.now() / 1000));

  /** A `$pushpin` item's payload. */
  apply(payload: string, binary: boolean): void {
    const snapshot = binary ? null : readSnapshot(payload);
    if (!snapshot) {
      this.unreadable += 1;
      return;
    }
    this.refused = null;
    let instance = this.instances.find((i) => i.name === snapshot.instance);
    if (!instance) {
      if (this.instances.length >= MAX_INSTANCES) return;
      instance = new Instance(snapshot.instance);
      this.instances = [...this.instances, instance].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    }
    instance.take(snapshot);
  }

  tick(nowMs = Date.now()): void {
    this.second = Math.floor(nowMs / 1000);
  }

  reset(): void {
    this.instances = [];
    this.watching = false;
    this.refused = null;
    this.unreadable = 0;
  }
}
