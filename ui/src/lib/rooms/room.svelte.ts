//! One room as this window knows it: its recent chat (bounded), who is in it, unread count.
//!
//! Duplicates by server id never reach here (the engine drops them, replays included). What
//! only the window knows is its own outbox: a message it sent shows at once as pending, and the
//! server's broadcast of it (same client id, `cid`) turns that line into "sent" rather than
//! adding a second one.

export type SendStatus = 'pending' | 'sent' | 'failed';

export interface ChatMessage {
  kind: 'message';
  key: string;
  id: number | null;
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
  ts: number;
}

export type ChatItem = ChatMessage | PresenceEvent | GapMarker;

/** Lines kept per room; older ones are forgotten. */
export const ROOM_HISTORY = 2000;

let keySeq = 0;
const nextKey = () => `k${++keySeq}`;

export class Room {
  readonly name: string;
  items = $state<ChatItem[]>([]);
  viewers = $state<number | null>(null);
  /** Nick → connections in the room (a nick may be connected more than once). */
  members = $state<Record<string, number>>({});
  unread = $state(0);
  /** The engine confirmed we are in the room. */
  joined = $state(false);

  memberNames = $derived(Object.keys(this.members).sort((a, b) => a.localeCompare(b)));

  constructor(name: string) {
    this.name = name;
  }

  #append(item: ChatItem): void {
    this.items.push(item);
    if (this.items.length > ROOM_HISTORY) this.items.splice(0, this.items.length - ROOM_HISTORY);
  }

  #byCid(cid: string): ChatMessage | undefined {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const it = this.items[i];
      if (it.kind === 'message' && it.cid === cid) return it;
    }
    return undefined;
  }

  /** A chat message from the server. Returns true when it is new to this window. */
  message(m: { id: number | null; user: string; comment: string; ts: number | null; cid: string | null; own: boolean }): boolean {
    const mine = m.cid != null ? this.#byCid(m.cid) : undefined;
    if (mine) {
      // The server's broadcast of our own outbox message: it is delivered.
      if (m.id != null) mine.id = m.id;
      mine.status = 'sent';
      mine.failure = null;
      return false;
    }
    this.#append({
      kind: 'message',
      key: nextKey(),
      id: m.id,
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
    if (extra.id != null) mine.id = extra.id;
  }

  entered(e: { id: number | null; user: string; viewers: number | null; ts: number | null }): void {
    this.members[e.user] = (this.members[e.user] ?? 0) + 1;
    if (e.viewers != null) this.viewers = e.viewers;
    this.#append({ kind: 'entered', key: nextKey(), id: e.id, user: e.user, viewers: e.viewers, ts: e.ts ?? Date.now() });
  }

  left(e: { id: number | null; user: string; viewers: number | null; ts: number | null }): void {
    const n = (this.members[e.user] ?? 1) - 1;
    if (n <= 0) delete this.members[e.user];
    else this.members[e.user] = n;
    if (e.viewers != null) this.viewers = e.viewers;
    this.#append({ kind: 'left', key: nextKey(), id: e.id, user: e.user, viewers: e.viewers, ts: e.ts ?? Date.now() });
  }

  renamed(e: { id: number | null; user: string; nick: string; ts: number | null }): void {
    const n = this.members[e.user] ?? 0;
    if (n > 0) {
      if (n === 1) delete this.members[e.user];
      else this.members[e.user] = n - 1;
      this.members[e.nick] = (this.members[e.nick] ?? 0) + 1;
    }
    this.#append({ kind: 'renamed', key: nextKey(), id: e.id, user: e.user, nick: e.nick, viewers: null, ts: e.ts ?? Date.now() });
  }

  presence(viewers: number, users: string[]): void {
    this.viewers = viewers;
    const members: Record<string, number> = {};
    for (const u of users) members[u] = (members[u] ?? 0) + 1;
    this.members = members;
  }

  /** History could not be fully recovered after `afterId`: the marker goes right after it. */
  gap(afterId: number | null): void {
    const marker: GapMarker = { kind: 'gap', key: nextKey(), afterId, ts: Date.now() };
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
