//! One connected server's session: its connection, rooms, monitor and deployment, what the user
//! looks at on it, and the routing of its engine event batches (its own channel: a batch of
//! another server never reaches these stores). User actions come here and go out through the
//! backend, naming this server; errors come back as plain-language notices. What is shared by
//! every server (profiles, notices, search, which server is focused) is the `Workspace`'s.

import type { Backend, BinaryView, ClientEvent, EventBatch, HistoryEvent, Profile, QueryError, SearchHit, Steer, Target } from '../backend';
import { Connection } from '../connection/connection.svelte';
import { Rooms } from '../rooms/rooms.svelte';
import type { ChatOutcome } from '../rooms/rooms.svelte';
import { Monitor } from '../monitor/monitor.svelte';
import { Replay, seekTo } from '../monitor/replay.svelte';
import { serverKey } from '../profiles/profiles.svelte';
import type { Notices } from './notices.svelte';
import { Deployment, STATS_CHANNEL } from '../deployment/deployment.svelte';

export type View = { kind: 'room'; name: string } | { kind: 'channel'; name: string } | { kind: 'deployment' } | null;

/** A channel of the server's own deployment figures (`$pushpin`, `$pushpin/<instance>`). */
const isStatsChannel = (name: string) => name === STATS_CHANNEL || name.startsWith(`${STATS_CHANNEL}/`);

/** The room everyone starts in. */
export const LOBBY = 'lobby';

/** Stored events shown at once when a room or channel opens. */
export const STORED_ON_OPEN = 200;

/** Stored events loaded on each side of a search hit that the room does not show. */
const HIT_CONTEXT = 30;

export const reason = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** What a server's session needs of the window around it. */
export interface SessionHost {
  readonly notices: Notices;
  /** Is `session` the server the window shows? */
  isFocused(session: Session): boolean;
  /** The user turned to `session` (opened one of its rooms or channels). */
  focus(session: Session): void;
  /** Someone mentioned us on `session`. */
  mentioned(session: Session, mention: NonNullable<ChatOutcome['mention']>): void;
}

/** The shell refuses a query with its `QueryError` as JSON; anything else is a plain reason. */
function queryError(e: unknown): QueryError {
  try {
    const parsed = JSON.parse(reason(e)) as QueryError;
    if (parsed && typeof parsed.message === 'string') return parsed;
  } catch {
    // Not JSON: not connected, say.
  }
  return { field: 'filter', column: null, message: reason(e) };
}

export class Session {
  /** The server's key (`serverKey`): what every command and the history name it by. */
  readonly key: string;
  readonly profile: Profile;
  readonly connection = new Connection();
  readonly rooms = new Rooms();
  readonly monitor = new Monitor();
  readonly replay = new Replay();
  readonly deployment = new Deployment();
  readonly #backend: Backend;
  readonly #host: SessionHost;
  view = $state<View>(null);
  /** Disconnected: nothing more goes out in this server's name from this object. */
  #closed = false;
  /** Queries asked of the engine: only the last one's answer counts. */
  #queryAsked = 0;

  constructor(backend: Backend, host: SessionHost, profile: Profile) {
    this.#backend = backend;
    this.#host = host;
    this.profile = profile;
    this.key = serverKey(profile);
    this.connection.reset(profile.name);
    // The lobby and its composer show at once; the connection catches up (typing works
    // meanwhile, and the connection bar says what is going on).
    this.view = { kind: 'room', name: LOBBY };
    this.rooms.ensure(LOBBY);
  }

  /** The server's name as the user gave it. */
  get name(): string {
    return this.profile.name;
  }

  get notices(): Notices {
    return this.#host.notices;
  }

  /** Is this the server the window shows? */
  get focused(): boolean {
    return this.#host.isFocused(this);
  }

  /** The room the user is reading: none on a server the window does not show. */
  get activeRoom(): string | null {
    return this.focused && this.view?.kind === 'room' ? this.view.name : null;
  }

  /** Connects this server, in the lobby, and reopens what was open on it at the last close. */
  async connect(): Promise<void> {
    const ok = await this.#do(`Could not connect to ${this.name}`, async () => {
      await this.#backend.connect(this.key, this.profile, (batch) => {
        // A batch still in flight after a disconnect belongs to no window.
        if (!this.#closed) this.handle(batch);
      });
      // The lobby, then whatever was open on this server when the app last closed: each shows
      // what was stored of it at once, then resumes from there.
      const places = await this.#backend.openPlaces(this.key).catch(() => [] as Target[]);
      const rooms = [LOBBY, ...places.filter((p) => p.type === 'room' && p.name !== LOBBY).map((p) => p.name)];
      for (const room of rooms) {
        this.rooms.ensure(room);
        await this.#restore({ type: 'room', name: room });
        if (this.#closed) return;
        await this.#backend.enter(this.key, room);
      }
      for (const p of places) {
        if (p.type !== 'channel' || isStatsChannel(p.name)) continue;
        this.monitor.addChannel(p.name);
        await this.#restore(p);
        if (this.#closed) return;
        await this.#backend.watch(this.key, p.name);
      }
    });
    if (!ok) this.connection.apply({ ...this.connection.state, status: 'offline' });
  }

  /** Closes this server's connection; a session on the same server later is a new object. */
  async disconnect(): Promise<void> {
    this.#closed = true;
    await this.#do(`Could not disconnect from ${this.name}`, () => this.#backend.disconnect(this.key));
  }

  handle(batch: EventBatch): void {
    for (const e of batch) this.#apply(e);
  }

  #apply(e: ClientEvent): void {
    switch (e.kind) {
      case 'state':
        this.connection.apply(e);
        return;
      case 'server':
        this.connection.server = { nick: e.nick, server: e.server, resume: e.resume, acks: e.acks, epoch: e.epoch };
        this.rooms.epoch = e.epoch;
        return;
      case 'raw':
        if (isStatsChannel(e.channel)) this.deployment.apply(e.payload, e.binary);
        else this.monitor.apply(e);
        return;
      case 'skipped':
        this.monitor.apply(e);
        return;
      // A room and a channel may share a name: a gap goes where its target says.
      case 'gap':
        if (e.target.type === 'channel') {
          // The deployment view shows the latest figures: a missed one is nothing to mark.
          if (!isStatsChannel(e.target.name)) this.monitor.apply(e);
        } else this.rooms.apply(e, this.activeRoom, this.connection.nick);
        return;
      case 'recording':
        if (this.replay.recording) this.replay.recording = { path: e.path, items: e.items, error: e.error };
        return;
      case 'replay':
        if (this.replay.open) this.replay.status = e;
        return;
      case 'stats':
        // Rooms' figures are not shown.
        if (e.target.type === 'channel' && !isStatsChannel(e.target.name)) this.monitor.apply(e);
        return;
      case 'error': {
        // The server keeps its deployment figures to those it allows: the view says why.
        if (e.code === 'forbidden' && e.message.includes(STATS_CHANNEL)) {
          this.deployment.refused = e.message;
          this.deployment.watching = false;
          return;
        }
        const text = e.room ? `#${e.room}: ${e.message}` : e.message;
        // A refused nick comes with a free one: say it, so the user can pick it.
        this.notices.show(e.suggestion ? `${text} — “${e.suggestion}” is free.` : text, 'error');
        return;
      }
      case 'parted':
        this.rooms.apply(e, this.activeRoom, this.connection.nick);
        if (this.activeRoom === e.room) this.view = this.rooms.list[0] ? { kind: 'room', name: this.rooms.list[0].name } : null;
        return;
      default: {
        const { mention } = this.rooms.apply(e, this.activeRoom, this.connection.nick);
        if (mention) this.#host.mentioned(this, mention);
      }
    }
  }

  /** Shows `view` of this server (turning the window to it). */
  open(view: View): void {
    this.view = view;
    this.#host.focus(this);
    if (view?.kind === 'room') {
      const room = this.rooms.get(view.name);
      if (room) room.unread = 0;
    }
    if (view?.kind === 'channel') this.monitor.setFilter(this.monitor.filterText, view.name);
  }

  /** Shows the deployment view, asking the server for its Pushpin figures the first time. */
  async openDeployment(): Promise<void> {
    this.view = { kind: 'deployment' };
    if (this.deployment.watching) return;
    this.deployment.watching = true;
    this.deployment.refused = null;
    if (!(await this.#do('Could not show the deployment', () => this.#backend.watch(this.key, STATS_CHANNEL)))) this.deployment.watching = false;
  }

  async #do(what: string, action: () => Promise<unknown>): Promise<boolean> {
    try {
      await action();
      return true;
    } catch (e) {
      this.notices.show(`${what}: ${reason(e)}`, 'error');
      return false;
    }
  }

  async joinRoom(name: string): Promise<void> {
    const room = name.trim().replace(/^#/, '');
    if (!room) return;
    this.rooms.ensure(room);
    this.open({ kind: 'room', name: room });
    await this.#restore({ type: 'room', name: room });
    if (!(await this.#do(`Could not join #${room}`, () => this.#backend.enter(this.key, room)))) this.rooms.remove(room);
  }

  /** Shows what the app stored of a room or channel (a failure only leaves it unshown). */
  async #restore(target: Target): Promise<void> {
    let stored: HistoryEvent[];
    try {
      stored = await this.#backend.history(this.key, target, STORED_ON_OPEN);
    } catch {
      return;
    }
    this.#show(target, stored);
  }

  #show(target: Target, stored: HistoryEvent[]): void {
    if (target.type === 'room') this.rooms.get(target.name)?.restore(stored);
    else this.monitor.restore(stored.map((s) => s.event));
  }

  /**
   * Opens the room or channel of a search hit (one of this server's) and shows the hit there, highlighted; when the
   * room does not show it (it is older), what was stored around it is loaded first.
   */
  async jumpTo(hit: SearchHit): Promise<void> {
    const { target } = hit;
    if (target.type === 'channel') {
      if (!this.monitor.find(target.name)) await this.watch(target.name);
      else this.open({ kind: 'channel', name: target.name });
      if (!this.monitor.selectById(target.name, hit.id)) {
        this.monitor.restore((await this.#backend.searchContext(hit.key, 0, 0).catch(() => [])).map((s) => s.event));
        this.monitor.selectById(target.name, hit.id);
      }
      return;
    }
    if (!this.rooms.get(target.name)) await this.joinRoom(target.name);
    else this.open({ kind: 'room', name: target.name });
    const room = this.rooms.get(target.name);
    if (!room) return;
    let line = room.find(hit.id);
    if (!line) {
      try {
        room.restore(await this.#backend.searchContext(hit.key, HIT_CONTEXT, HIT_CONTEXT));
      } catch (e) {
        this.notices.show(`Could not show that message: ${reason(e)}`, 'error');
        return;
      }
      line = room.find(hit.id);
    }
    room.highlighted = line?.key ?? null;
  }

  async leaveRoom(name: string): Promise<void> {
    await this.#do(`Could not leave #${name}`, () => this.#backend.leave(this.key, name));
    this.rooms.remove(name);
    if (this.activeRoom === name) this.open(this.rooms.list[0] ? { kind: 'room', name: this.rooms.list[0].name } : null);
  }

  async send(room: string, comment: string): Promise<void> {
    if (!comment.trim()) return;
    await this.#do('Message not sent', async () => {
      const cid = await this.#backend.send(this.key, room, comment);
      // Normally the engine's `pending` event got here first; if not, show it now.
      this.rooms.ensure(room).outbox(cid, comment, 'pending', this.connection.nick ?? 'you');
    });
  }

  retrySend(cid: string): Promise<boolean> {
    return this.#do('Could not retry', () => this.#backend.retrySend(this.key, cid));
  }

  async watch(name: string): Promise<void> {
    const channel = name.trim();
    if (!channel) return;
    this.monitor.addChannel(channel);
    this.open({ kind: 'channel', name: channel });
    if (!isStatsChannel(channel)) await this.#restore({ type: 'channel', name: channel });
    if (!(await this.#do(`Could not watch ${channel}`, () => this.#backend.watch(this.key, channel)))) this.monitor.removeChannel(channel);
  }

  async unwatch(name: string): Promise<void> {
    await this.#do(`Could not stop watching ${name}`, () => this.#backend.unwatch(this.key, name));
    this.monitor.removeChannel(name);
    if (this.view?.kind === 'channel' && this.view.name === name) this.open(this.rooms.list[0] ? { kind: 'room', name: this.rooms.list[0].name } : null);
  }

  setNick(nick: string): Promise<boolean> {
    return this.#do('Could not change your nickname', () => this.#backend.setNick(this.key, nick.trim()));
  }

  retryNow(): Promise<boolean> {
    return this.#do('Could not retry', () => this.#backend.retryNow(this.key));
  }

  /**
   * Asks the engine to judge items with a jq query (blank fields: none). The engine compiles
   * it; a mistake comes back with its field and column and is shown there, and the query in
   * force stays.
   */
  async setQuery(filter: string, map: string): Promise<void> {
    const asked = ++this.#queryAsked;
    try {
      const applied = await this.#backend.setMonitorQuery(this.key, filter, map);
      if (asked === this.#queryAsked) this.monitor.queryApplied(filter, map, applied);
    } catch (e) {
      if (asked === this.#queryAsked) {
        const error = queryError(e);
        this.monitor.queryRefused({ ...error, expression: error.field === 'map' ? map : filter });
      }
    }
  }

  /** Text filtering in the window, or jq in the engine (which then judges every item). */
  async setFilterMode(mode: 'text' | 'jq', filter: string, map: string): Promise<void> {
    this.monitor.setMode(mode);
    // Text mode: the engine stops judging items. jq mode: what is typed is asked for again.
    await (mode === 'jq' ? this.setQuery(filter, map) : this.setQuery('', ''));
  }

  /** A binary item as hex, MessagePack or CBOR (decoded in the engine). */
  decodeBinary(payload: string): Promise<BinaryView> {
    return this.#backend.decodeBinary(payload);
  }

  /** The channels Export and Record take: the one shown, or all. */
  #shownChannels(): string[] {
    return this.monitor.channelFilter ? [this.monitor.channelFilter] : this.monitor.channels.map((c) => c.name);
  }

  /**
   * Records `channels` to a file chosen in the save dialog, as items arrive, until stopped;
   * true once recording.
   */
  async startRecording(channels: string[]): Promise<boolean> {
    if (!channels.length) return false;
    let started = false;
    await this.#do('Could not record', async () => {
      const path = await this.#backend.chooseRecordingPath(`${channels.length === 1 ? channels[0] : 'channels'}-recording.jsonl`);
      if (!path) return;
      await this.#backend.startRecording(
        this.key,
        path,
        channels.map((name) => ({ type: 'channel', name })),
      );
      this.replay.recording = { path, items: 0 };
      started = true;
    });
    return started;
  }

  async stopRecording(): Promise<void> {
    const path = this.replay.recording?.path;
    await this.#do('Could not stop recording', async () => {
      const items = await this.#backend.stopRecording(this.key);
      this.notices.show(`Recorded ${items.toLocaleString('en-US')} items to ${path}`);
    });
    this.replay.recording = null;
  }

  /**
   * Opens a recording chosen in the open dialog: the engine reads it (a bad line is refused,
   * with its line and column, and shown) and replays it into the log, paused at its start.
   */
  async openRecording(): Promise<void> {
    let path: string | null = null;
    try {
      path = await this.#backend.chooseRecordingToOpen();
      if (!path) return;
      const total = await this.#backend.openRecording(this.key, path);
      this.monitor.clear();
      this.monitor.replaying = true;
      // Whatever channel was shown, the recording's items show.
      this.monitor.setFilter(this.monitor.filterText, null);
      this.replay.opened(path, total);
    } catch (e) {
      this.replay.error = reason(e);
      this.notices.show(`Could not open the recording: ${reason(e)}`, 'error');
    }
  }

  steerReplay(steer: Steer): Promise<boolean> {
    return this.#do('Replay', () => this.#backend.steerReplay(this.key, steer));
  }

  /** Moves the replay to `ms` into the recording; the log starts again from there. */
  async seekReplay(ms: number): Promise<void> {
    const status = this.replay.status;
    if (!status) return;
    this.monitor.clear();
    await this.steerReplay(seekTo(status, ms));
  }

  async closeReplay(): Promise<void> {
    await this.#do('Could not close the recording', () => this.#backend.closeReplay(this.key));
    this.replay.closed();
    this.monitor.replaying = false;
  }

  /** Export through the save dialog; says how many lines were written. */
  async exportLog(): Promise<void> {
    const channels = this.#shownChannels();
    if (!channels.length) return;
    await this.#do('Export failed', async () => {
      const path = await this.#backend.chooseExportPath(`${channels.length === 1 ? channels[0] : 'channels'}.jsonl`);
      if (!path) return;
      const lines = await this.#backend.exportJsonl(this.key, path, channels);
      this.notices.show(`Exported ${lines.toLocaleString()} lines to ${path}`);
    });
  }
}
