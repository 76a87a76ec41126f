// Generated from crates/tack-client (ts-rs). Do not edit: run `scripts/gen-bindings.sh`.

export type Target = { "type": "room", "name": string } | { "type": "channel", "name": string };

export type TransportChoice = "auto" | "ws" | "stream" | "poll";

export type Transport = "ws" | "stream" | "poll";

export type Profile = { 
/**
 * Display name ("This computer", "staging").
 */
name: string, url: string, transport: TransportChoice, 
/**
 * Sent as `Authorization: Bearer <token>` on every request and handshake.
 */
token: string | null, 
/**
 * Extra headers on every request and handshake.
 */
headers: Array<[string, string]>, 
/**
 * Nickname to say `hello` with; the server picks one when absent.
 */
nick: string | null, 
/**
 * Accept invalid TLS certificates (self-signed development servers only).
 */
insecure_tls: boolean, };

export type BuiltinServer = { 
/**
 * Where clients connect: `http://127.0.0.1:PORT`.
 */
url: string, 
/**
 * Where backends publish: `http://127.0.0.1:PORT/publish/`.
 */
publish_url: string, token: string, };

export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "offline";

export type ConnectionState = { status: ConnectionStatus, 
/**
 * The transport in use (or being tried).
 */
transport: Transport | null, 
/**
 * Reconnect attempt number; 0 while connected.
 */
attempt: number, 
/**
 * When the next attempt starts, if one is scheduled.
 */
retry_at: number | null, 
/**
 * Last measured round trip.
 */
rtt_ms: number | null, 
/**
 * The profile's display name.
 */
server: string, 
/**
 * Why we are not (fully) connected: the last error, or why a slower transport is in use.
 */
reason: string | null, 
/**
 * Connected, but on a fallback transport.
 */
degraded: boolean, };

export type SendState = { "state": "pending" } | { "state": "sent", id: number | null, } | { "state": "failed", reason: string, };

export type ServerInfo = { 
/**
 * The nickname the server knows us by.
 */
nick: string, 
/**
 * `tack/<version>`, or `legacy` for an original-system server.
 */
server: string, 
/**
 * False on original-system servers: no ids, no history, no resume.
 */
resume: boolean, 
/**
 * False on original-system servers: sends are "sent" once written, never acknowledged.
 */
acks: boolean, 
/**
 * The server's numbering epoch: ids count within it, and a restarted server counts from 1
 * again under a new one. `None` on servers that do not say (original-system ones).
 */
epoch: string | null, };

export type ChannelStats = { target: Target, messages: number, bytes: number, 
/**
 * Oldest items of a channel the engine no longer keeps for export: its memory for them is
 * bounded in bytes (`SessionOptions::export_budget`).
 */
dropped: number, rate_1s: number, rate_10s: number, 
/**
 * Median delivery latency over the last second, when the server stamps `ts`.
 */
latency_ms: number | null, };

export type ReplayStatus = { 
/**
 * Items in the recording.
 */
total: number, 
/**
 * Items delivered so far.
 */
position: number, playing: boolean, 
/**
 * How many times faster than recorded; 0: as fast as possible.
 */
speed: number, 
/**
 * The recorded time the replay stands at, and the first and last items' receive times.
 */
at: number, first: number, last: number, };

export type Steer = { "do": "play" } | { "do": "pause" } | { "do": "step" } | { "do": "seek", at: number, } | { "do": "speed", times: number, };

export type Verdict = { 
/**
 * The query that judged the item (see [`MonitorQuery::generation`]).
 */
generation: number, 
/**
 * Whether the filter keeps the item (always, without a filter).
 */
keep: boolean, 
/**
 * With a map, what it yielded from a kept item, one text per output (none: it yielded
 * nothing).
 */
shown?: Array<string>, 
/**
 * Why the filter or the map failed on this item (a failed filter drops the item).
 */
error?: string, };

export type QueryField = "filter" | "map";

export type QueryError = { field: QueryField, 
/**
 * 1-based character column of the mistake in that field, when it has one.
 */
column: number | null, message: string, };

export type Rejudged = { channel: string, id: number, verdict: Verdict, };

export type QueryApplied = { generation: number, 
/**
 * Newest first, at most [`REJUDGE_MAX`]; none when the query was cleared.
 */
rejudged: Array<Rejudged>, };

export type BinaryFormat = "messagepack" | "cbor";

export type DecodedValue = { format: BinaryFormat, 
/**
 * The value as indented JSON. Byte strings are hex strings, MessagePack extensions
 * `{"ext": type, "data": hex}`, CBOR tags `{"tag": n, "value": …}`.
 */
json: string, };

export type BinaryView = { 
/**
 * Decoded size in bytes.
 */
size: number, 
/**
 * Offset, 16 bytes in hex, and their printable ASCII, per line; at most `HEX_MAX_BYTES`.
 */
hex: string, 
/**
 * Bytes left out of `hex`.
 */
hex_omitted: number, 
/**
 * What the payload decodes as (none: neither format, or too large to try).
 */
decoded: Array<DecodedValue>, };

export type ClientEvent = { "kind": "state" } & ConnectionState | { "kind": "server" } & ServerInfo | { "kind": "message", room: string, id: number | null, user: string, comment: string, ts: number | null, cid: string | null, 
/**
 * Sent by this session.
 */
own: boolean, } | { "kind": "entered", room: string, id: number | null, user: string, viewers: number | null, ts: number | null, } | { "kind": "left", room: string, id: number | null, user: string, viewers: number | null, ts: number | null, } | { "kind": "nickChanged", room: string, id: number | null, user: string, nick: string, ts: number | null, } | { "kind": "presence", room: string, viewers: number, users: Array<string>, } | { "kind": "joined", room: string, } | { "kind": "parted", room: string, } | { "kind": "send", cid: string, room: string, comment: string, } & ({ "state": "pending" } | { "state": "sent", id: number | null, } | { "state": "failed", reason: string, }) | { "kind": "gap", target: Target, after_id: number | null, } | { "kind": "raw", channel: string, id: number | null, ts: number | null, 
/**
 * Text as is; binary content base64-encoded.
 */
payload: string, binary: boolean, 
/**
 * Payload size in bytes (decoded).
 */
size: number, 
/**
 * When the engine received it.
 */
received: number, 
/**
 * What the monitor's jq query made of it, while one is set
 * (`Session::set_monitor_query`).
 */
query?: Verdict, } | { "kind": "skipped", channel: string, count: number, bytes: number, } | { "kind": "stats" } & ChannelStats | { "kind": "recording", path: string, items: number, error: string | null, } | { "kind": "replay" } & ReplayStatus | { "kind": "error", code: string, message: string, room: string | null, 
/**
 * Something the user could use instead (for `nick_taken`, a free nick).
 */
suggestion: string | null, };

export type EventBatch = Array<ClientEvent>;
