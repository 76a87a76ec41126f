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
   * (Re)connects the one active session. Engine events arrive in batches on `onEvent` until
   * the next `connect` or `disconnect`.
   */
  connect(profile: Profile, onEvent: (batch: EventBatch) => void): Promise<void>;
  disconnect(): Promise<void>;
  /**
   * Enters a room, resuming after the last event stored of it (what was said meanwhile
   * arrives once; a gap marks what the server no longer holds).
   */
  enter(room: string): Promise<void>;
  leave(room: string): Promise<void>;
  /**
   * Queues a chat message; returns its client id. `send` events follow: pending → sent |
   * failed.
   */
  send(room: string, comment: string): Promise<string>;
  retrySend(cid: string): Promise<void>;
  /**
   * Watches a channel, resuming after the last item stored of it.
   */
  watch(channel: string): Promise<void>;
  unwatch(channel: string): Promise<void>;
  /**
   * The rooms and channels that were open on this connection's server when the app last
   * closed, rooms first: the window opens them again.
   */
  openPlaces(): Promise<Array<Target>>;
  /**
   * The newest `limit` stored events of a room or channel on this connection's server,
   * oldest first, gaps where they fall: shown at once, before the server answers.
   */
  history(target: Target, limit: number): Promise<Array<HistoryEvent>>;
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
   * Removes everything stored, on every server.
   */
  forgetHistory(): Promise<void>;
  setNick(nick: string): Promise<void>;
  /**
   * Skips the reconnect back-off and tries now.
   */
  retryNow(): Promise<void>;
  /**
   * Sets the monitor's jq query (`filter` keeps items, `map` shows what it yields of each;
   * blank fields are none); answers its generation, which the verdicts on items name, and
   * its verdicts on the newest items already delivered. A mistake is refused with its field
   * and column, and the query in force stays.
   */
  setMonitorQuery(filter: string, map: string): Promise<QueryApplied>;
  /**
   * A binary item (as the engine carries it, base64) as hex, and as MessagePack or CBOR
   * when it is one.
   */
  decodeBinary(payload: string): Promise<BinaryView>;
  /**
   * Writes the engine's kept items of `channels` as JSON Lines to `path` (chosen by the user
   * in the save dialog); answers how many lines were written.
   */
  exportJsonl(path: string, channels: Array<string>): Promise<number>;
  /**
   * Starts recording the items of `targets` to `path` (chosen in the save dialog) as they
   * arrive, in the export's format; `recording` events count what is written.
   */
  startRecording(path: string, targets: Array<Target>): Promise<void>;
  /**
   * Stops the recording; answers how many items the file holds.
   */
  stopRecording(): Promise<number>;
  /**
   * Opens a recording (read by the engine; a bad line is refused with its line and column)
   * for replay, paused at its start; answers how many items it holds. Its items and
   * `replay` events arrive on the connection's `onEvent`.
   */
  openRecording(path: string): Promise<number>;
  /**
   * Plays, pauses, steps, seeks or changes the speed of the open recording's replay.
   */
  steerReplay(steer: Steer): Promise<void>;
  /**
   * Ends the replay.
   */
  closeReplay(): Promise<void>;
  /**
   * Shows a desktop notification; `body` is plain text and shows as typed.
   */
  notify(title: string, body: string): Promise<void>;
}

/** Each command's name in the shell and its arguments' names, in order. */
export const COMMANDS = {
  initialProfile: { cmd: 'initial_profile', args: [] },
  builtinServer: { cmd: 'builtin_server', args: [] },
  connect: { cmd: 'connect', args: ['profile', 'onEvent'] },
  disconnect: { cmd: 'disconnect', args: [] },
  enter: { cmd: 'enter', args: ['room'] },
  leave: { cmd: 'leave', args: ['room'] },
  send: { cmd: 'send', args: ['room', 'comment'] },
  retrySend: { cmd: 'retry_send', args: ['cid'] },
  watch: { cmd: 'watch', args: ['channel'] },
  unwatch: { cmd: 'unwatch', args: ['channel'] },
  openPlaces: { cmd: 'open_places', args: [] },
  history: { cmd: 'history', args: ['target', 'limit'] },
  search: { cmd: 'search', args: ['query', 'limit'] },
  searchContext: { cmd: 'search_context', args: ['key', 'before', 'after'] },
  storeInfo: { cmd: 'store_info', args: [] },
  forgetHistory: { cmd: 'forget_history', args: [] },
  setNick: { cmd: 'set_nick', args: ['nick'] },
  retryNow: { cmd: 'retry_now', args: [] },
  setMonitorQuery: { cmd: 'set_monitor_query', args: ['filter', 'map'] },
  decodeBinary: { cmd: 'decode_binary', args: ['payload'] },
  exportJsonl: { cmd: 'export_jsonl', args: ['path', 'channels'] },
  startRecording: { cmd: 'start_recording', args: ['path', 'targets'] },
  stopRecording: { cmd: 'stop_recording', args: [] },
  openRecording: { cmd: 'open_recording', args: ['path'] },
  steerReplay: { cmd: 'steer_replay', args: ['steer'] },
  closeReplay: { cmd: 'close_replay', args: [] },
  notify: { cmd: 'notify', args: ['title', 'body'] },
} as const satisfies Record<keyof Commands, { cmd: string; args: readonly string[] }>;
