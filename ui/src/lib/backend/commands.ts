// Generated from src-tauri/commands.rs. Do not edit: run `scripts/gen-bindings.sh`.

import type { BinaryView, BuiltinServer, EventBatch, Profile, QueryApplied, Steer, Target } from './bindings';
import type { HistoryEvent, SearchHit, StoreInfo } from './history';

/** The desktop shell's commands, as the UI calls them. */
export interface Commands {
  /**
   * The profile to start on: the built-in server, or the one from `--connect` /
   * `TACK_CONNECT`.
   */
  initialProfile(): Promise<Profile>;
  /**
   * The built-in server's address, publish address and launch secret (starting it if it
   * is not running), for the user's own scripts.
   */
  builtinServer(): Promise<BuiltinServer>;
  /**
   * Connects `profile` beside the servers already connected (a session already on this
   * server is replaced). `server` is its key — the profile's URL without a trailing `/`,
   * as the history and search name it — which every per-server command below takes first.
   * This server's engine events arrive in batches on `onEvent` until the next `connect` or
   * `disconnect` of it.
   */
  connect(server: string, profile: Profile, onEvent: (batch: EventBatch) => void): Promise<void>;
  /**
   * Closes the connection to `server`; the other servers' stay.
   */
  disconnect(server: string): Promise<void>;
  /**
   * Enters a room, resuming after the last event stored of it (what was said meanwhile
   * arrives once; a gap marks what the server no longer holds).
   */
  enter(server: string, room: string): Promise<void>;
  leave(server: string, room: string): Promise<void>;
  /**
   * Queues a chat message; returns its client id. `send` events follow: pending → sent |
   * failed.
   */
  send(server: string, room: string, comment: string): Promise<string>;
  retrySend(server: string, cid: string): Promise<void>;
  /**
   * Watches a channel, resuming after the last item stored of it.
   */
  watch(server: string, channel: string): Promise<void>;
  unwatch(server: string, channel: string): Promise<void>;
  /**
   * The rooms and channels that were open on `server` when the app last closed, rooms
   * first: the window opens them again.
   */
  openPlaces(server: string): Promise<Array<Target>>;
  /**
   * The newest `limit` stored events of a room or channel on `server`, oldest first, gaps
   * where they fall: shown at once, before the server answers.
   */
  history(server: string, target: Target, limit: number): Promise<Array<HistoryEvent>>;
  /**
   * Searches everything stored, every server: words, "phrases", prefix*, -word, from:,
   * in:, server:, after:, before:. A mistake in the query is refused with what to change.
   */
  search(query: string, limit: number): Promise<Array<SearchHit>>;
  /**
   * A search hit (its `key`) with up to `before` stored events before it and `after`
   * after it in its room or channel.
   */
  searchContext(key: number, before: number, after: number): Promise<Array<HistoryEvent>>;
  /**
   * The history file's size and its cap.
   */
  storeInfo(): Promise<StoreInfo>;
  /**
   * Sets the history's size cap (kept in the file); a lower one removes the oldest now.
   */
  setHistoryCap(maxBytes: number): Promise<StoreInfo>;
  /**
   * Removes everything stored, on every server.
   */
  forgetHistory(): Promise<void>;
  setNick(server: string, nick: string): Promise<void>;
  /**
   * Skips the reconnect back-off and tries now.
   */
  retryNow(server: string): Promise<void>;
  /**
   * Sets the monitor's jq query (`filter` keeps items, `map` shows what it yields of each;
   * blank fields are none); answers its generation, which the verdicts on items name, and
   * its verdicts on the newest items already delivered. A mistake is refused with its field
   * and column, and the query in force stays.
   */
  setMonitorQuery(server: string, filter: string, map: string): Promise<QueryApplied>;
  /**
   * A binary item (as the engine carries it, base64) as hex, and as MessagePack or CBOR
   * when it is one.
   */
  decodeBinary(payload: string): Promise<BinaryView>;
  /**
   * Writes the engine's kept items of `channels` as JSON Lines to `path` (chosen by the user
   * in the save dialog); answers how many lines were written.
   */
  exportJsonl(server: string, path: string, channels: Array<string>): Promise<number>;
  /**
   * Starts recording the items of `targets` to `path` (chosen in the save dialog) as they
   * arrive, in the export's format; `recording` events count what is written.
   */
  startRecording(server: string, path: string, targets: Array<Target>): Promise<void>;
  /**
   * Stops the recording; answers how many items the file holds.
   */
  stopRecording(server: string): Promise<number>;
  /**
   * Opens a recording (read by the engine; a bad line is refused with its line and column)
   * for replay in `server`'s monitor, paused at its start; answers how many items it
   * holds. Its items and `replay` events arrive on that server's `onEvent`.
   */
  openRecording(server: string, path: string): Promise<number>;
  /**
   * Plays, pauses, steps, seeks or changes the speed of the open recording's replay.
   */
  steerReplay(server: string, steer: Steer): Promise<void>;
  /**
   * Ends the replay.
   */
  closeReplay(server: string): Promise<void>;
  /**
   * Shows a desktop notification; `body` is plain text and shows as typed.
   */
  notify(title: string, body: string): Promise<void>;
}

/** Each command's name in the shell and its arguments' names, in order. */
export const COMMANDS = {
  initialProfile: { cmd: 'initial_profile', args: [] },
  builtinServer: { cmd: 'builtin_server', args: [] },
  connect: { cmd: 'connect', args: ['server', 'profile', 'onEvent'] },
  disconnect: { cmd: 'disconnect', args: ['server'] },
  enter: { cmd: 'enter', args: ['server', 'room'] },
  leave: { cmd: 'leave', args: ['server', 'room'] },
  send: { cmd: 'send', args: ['server', 'room', 'comment'] },
  retrySend: { cmd: 'retry_send', args: ['server', 'cid'] },
  watch: { cmd: 'watch', args: ['server', 'channel'] },
  unwatch: { cmd: 'unwatch', args: ['server', 'channel'] },
  openPlaces: { cmd: 'open_places', args: ['server'] },
  history: { cmd: 'history', args: ['server', 'target', 'limit'] },
  search: { cmd: 'search', args: ['query', 'limit'] },
  searchContext: { cmd: 'search_context', args: ['key', 'before', 'after'] },
  storeInfo: { cmd: 'store_info', args: [] },
  setHistoryCap: { cmd: 'set_history_cap', args: ['maxBytes'] },
  forgetHistory: { cmd: 'forget_history', args: [] },
  setNick: { cmd: 'set_nick', args: ['server', 'nick'] },
  retryNow: { cmd: 'retry_now', args: ['server'] },
  setMonitorQuery: { cmd: 'set_monitor_query', args: ['server', 'filter', 'map'] },
  decodeBinary: { cmd: 'decode_binary', args: ['payload'] },
  exportJsonl: { cmd: 'export_jsonl', args: ['server', 'path', 'channels'] },
  startRecording: { cmd: 'start_recording', args: ['server', 'path', 'targets'] },
  stopRecording: { cmd: 'stop_recording', args: ['server'] },
  openRecording: { cmd: 'open_recording', args: ['server', 'path'] },
  steerReplay: { cmd: 'steer_replay', args: ['server', 'steer'] },
  closeReplay: { cmd: 'close_replay', args: ['server'] },
  notify: { cmd: 'notify', args: ['title', 'body'] },
} as const satisfies Record<keyof Commands, { cmd: string; args: readonly string[] }>;
