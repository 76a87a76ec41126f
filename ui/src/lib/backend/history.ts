// Generated from crates/tack-history (ts-rs). Do not edit: run `scripts/gen-bindings.sh`.

import type { ClientEvent, Target } from './bindings';

export type HistoryEvent = { key: number, epoch: string, event: ClientEvent, };

export type SnippetPiece = { text: string, matched: boolean, };

export type SearchHit = { key: number, 
/**
 * The server's key and the name the app shows for it.
 */
server: string, server_name: string, target: Target, id: number, 
/**
 * ms since the Unix epoch.
 */
at: number, nick: string | null, snippet: Array<SnippetPiece>, };

export type StoreInfo = { size_bytes: number, 
/**
 * Past this the oldest entries go first.
 */
max_bytes: number, };
