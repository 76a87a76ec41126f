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
acks: boolean, };

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
received: number, } | { "kind": "skipped", channel: string, count: number, bytes: number, } | { "kind": "stats" } & ChannelStats | { "kind": "error", code: string, message: string, room: string | null, 
/**
 * Something the user could use instead (for `nick_taken`, a free nick).
 */
suggestion: string | null, };

export type EventBatch = Array<ClientEvent>;
