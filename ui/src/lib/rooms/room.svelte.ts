//! One room as this window knows it: its recent chat (bounded), who is in it, unread count.
//!
//! The engine drops duplicates of what it delivered, but the window also shows what the app
//! stored before (`restore`), and the server's replay after a restart may overlap it: events
//! are told apart by their id within the server's numbering (epoch), and one already shown is
//! not added again. What only the window knows is its own outbox: a message it sent shows at
//! once as pending, and the server's broadcast of it (same client id, `cid`) turns that line
//! into "sent" rather than adding a second one.

import type { ClientEvent, HistoryEvent } from '../backend';

export type SendStatus = 'pending' | 'sent' | 'failed';

export interface ChatMessage {
  kind: 'message';
  key: string;
  id: number | null;
  /** The server's numbering `id` counts in (null: unknown). */
  epoch: string | null;
  user: string;
  comment: string;
  ts: number;
  own: boolean;
  cid: string | null;
  /** Delivery state of our own messages; null for others'. */
  status: SendStatus | null;
  failure: string | null;
}

export interface PresenceEvent {
  kind: 'entered' | 'left' | 'renamed';
  key: string;
  id: number | null;
  epoch: string | null;
  user: string;
  viewers: number | null;
  ts: number;
  /** For `renamed`: the new nick (`user` is the old one). */
  nick?: string;
}

/** Events after `afterId` may be missing here. */
export interface GapMarker {
  kind: 'gap';
  key: string;
  afterId: number | null;
  epoch: string | null;
  ts: number;
}

export type ChatItem = ChatMessage | PresenceEvent | GapMarker;

/** Lines kept per room; older ones are forgotten. */
export const ROOM_HISTORY = 2000;

let keySeq = 0;
const nextKey = () => `k${++keySeq}`;

/** An event's identity in the room: its id within its numbering. */
const identity = (epoch: string | null, id: number | null) => (id == null ? null : `${epoch ?? ''}:${id}`);

type Said = { id: number | null; user: string; comment: string; ts: number | null; cid: string | null; own: boolean };
type Moved = { id: number | null; user: string; viewers: number | null; ts: number | null };
type Renamed = { id: number | null; user: string; nick: string; ts: number | null };

export class Room {
  readonly name: string;
  items = $state<ChatItem[]>([]);
  viewers = $state<number | null>(null);
  /** Nick → connections in the room (a nick may be connected more than once). */
  members = $state<Record<string, number>>({});
  unread = $state(0);
  /** The engine confirmed we are in the room. */
  joined = $state(false);
  /** The server's numbering live events count in (from its welcome). */
  epoch: string | null = null;
  /** The line a search jumped to, shown highlighted (its `key`). */
  highlighted = $state<string | null>(null);
  /** Identities of the events shown (see `identity`). */
  #shown = new Set<string>();

  memberNames = $derived(Object.keys(this.members).sort((a, b) => a.localeCompare(b)));

  constructor(name: string) {
    this.name = name;
  }

  #append(item: ChatItem): void {
    this.items.push(item);
    if (this.items.length > ROOM_HISTORY) this.items.splice(0, this.items.length - ROOM_HISTORY);
  }

  /** True the first time an event is shown; an event without an id is always new. */
  #first(epoch: string | null, id: number | null): boolean {
    const it = identity(epoch, id);
    if (it == null) return true;
    if (this.#shown.has(it)) return false;
    this.#shown.add(it);
    return true;
  }

  /** The line of event `id` (in numbering `epoch` when given), if it is shown. */
  find(id: number, epoch: string | null = null): ChatItem | undefined {
    return this.items.findLast((it) => it.kind !== 'gap' && it.id === id && (epoch == null || it.epoch === epoch));
  }

  /**
   * Events the app stored (shown at once on opening, or around a search hit): they are older
   * than what the room shows, so they go before it, each at most once.
   */
  restore(stored: HistoryEvent[]): void {
    const older: ChatItem[] = [];
    for (const { epoch, event } of stored) {
      const item = storedItem(event, epoch);
      if (!item) continue;
      if (item.kind !== 'gap' && !this.#first(epoch, item.id)) continue;
      older.push(item);
    }
    if (!older.length) return;
    this.items = [...older, ...this.items].slice(-ROOM_HISTORY);
  }

  #byCid(cid: string): ChatMessage | undefined {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const it = this.items[i];
      if (it.kind === 'message' && it.cid === cid) return it;
    }
    return undefined;
  }

  /** A chat message from the server. Returns true when it is new to this window. */
  message(m: Said): boolean {
    const mine = m.cid != null ? this.#byCid(m.cid) : undefined;
    if (mine) {
      // The server's broadcast of our own outbox message: it is delivered.
      if (m.id != null) {
        mine.id = m.id;
        mine.epoch = this.epoch;
        this.#first(this.epoch, m.id);
      }
      mine.status = 'sent';
      mine.failure = null;
      return false;
    }
    if (!this.#first(this.epoch, m.id)) return false;
    this.#append({
      kind: 'message',
      key: nextKey(),
      id: m.id,
      epoch: this.epoch,
      user: m.user,
      comment: m.comment,
      ts: m.ts ?? Date.now(),
      own: m.own,
      cid: m.cid,
      status: m.own ? 'sent' : null,
      failure: null,
    });
    return true;
  }

  /** Our own message changed state in the outbox. */
  outbox(cid: string, comment: string, status: SendStatus, user: string, extra: { id?: number | null; reason?: string } = {}): void {
    let mine = this.#byCid(cid);
    if (!mine) {
      this.#append({
        kind: 'message',
        key: nextKey(),
        id: null,
        epoch: null,
        user,
        comment,
        ts: Date.now(),
        own: true,
        cid,
        status,
        failure: null,
      });
      mine = this.items[this.items.length - 1] as ChatMessage;
    }
    // A late `pending` never downgrades a message the server already broadcast.
    if (status === 'pending' && mine.status === 'sent') return;
    mine.status = status;
    mine.failure = status === 'failed' ? (extra.reason ?? 'Not delivered.') : null;
    if (extra.id != null) {
      mine.id = extra.id;
      mine.epoch = this.epoch;
      this.#first(this.epoch, extra.id);
    }
  }

  entered(e: Moved): void {
    if (!this.#first(this.epoch, e.id)) return;
    this.members[e.user] = (this.members[e.user] ?? 0) + 1;
    if (e.viewers != null) this.viewers = e.viewers;
    this.#append({ kind: 'entered', key: nextKey(), id: e.id, epoch: this.epoch, user: e.user, viewers: e.viewers, ts: e.ts ?? Date.now() });
  }

  left(e: Moved): void {
    if (!this.#first(this.epoch, e.id)) return;
    const n = (this.members[e.user] ?? 1) - 1;
    if (n <= 0) delete this.members[e.user];
    else this.members[e.user] = n;
    if (e.viewers != null) this.viewers = e.viewers;
    this.#append({ kind: 'left', key: nextKey(), id: e.id, epoch: this.epoch, user: e.user, viewers: e.viewers, ts: e.ts ?? Date.now() });
  }

  renamed(e: Renamed): void {
    if (!this.#first(this.epoch, e.id)) return;
    const n = this.members[e.user] ?? 0;
    if (n > 0) {
      if (n === 1) delete this.members[e.user];
      else this.members[e.user] = n - 1;
      this.members[e.nick] = (this.members[e.nick] ?? 0) + 1;
    }
    this.#append({ kind: 'renamed', key: nextKey(), id: e.id, epoch: this.epoch, user: e.user, nick: e.nick, viewers: null, ts: e.ts ?? Date.now() });
  }

  presence(viewers: number, users: string[]): void {
    this.viewers = viewers;
    const members: Record<string, number> = {};
    for (const u of users) members[u] = (members[u] ?? 0) + 1;
    this.members = members;
  }

  /** History could not be fully recovered after `afterId`: the marker goes right after it. */
  gap(afterId: number | null): void {
    // What follows a live gap may be numbered again from 1 by a server that does not name its
    // epochs: ids shown before it no longer say what is a duplicate.
    const live = `${this.epoch ?? ''}:`;
    this.#shown = new Set([...this.#shown].filter((it) => !it.startsWith(live)));
    const marker: GapMarker = { kind: 'gap', key: nextKey(), afterId, epoch: this.epoch, ts: Date.now() };
    if (afterId != null) {
      const at = this.items.findLastIndex((it) => it.kind !== 'gap' && it.id === afterId);
      if (at >= 0 && at < this.items.length - 1) {
        this.items.splice(at + 1, 0, marker);
        return;
      }
    }
    this.#append(marker);
  }
}

/** A stored event as a line of the room (channel items and the like: none). */
function storedItem(e: ClientEvent, epoch: string): ChatItem | null {
  const ts = (t: number | null) => t ?? Date.now();
  switch (e.kind) {
    case 'message':
      return { kind: 'message', key: nextKey(), id: e.id, epoch, user: e.user, comment: e.comment, ts: ts(e.ts), own: e.own, cid: null, status: null, failure: null };
    case 'entered':
    case 'left':
      return { kind: e.kind, key: nextKey(), id: e.id, epoch, user: e.user, viewers: e.viewers, ts: ts(e.ts) };
    case 'nickChanged':
      return { kind: 'renamed', key: nextKey(), id: e.id, epoch, user: e.user, nick: e.nick, viewers: null, ts: ts(e.ts) };
    case 'gap':
      return { kind: 'gap', key: nextKey(), afterId: e.after_id, epoch, ts: Date.now() };
    default:
      return null;
  }
}
