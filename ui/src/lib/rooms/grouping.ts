//! Chat lines as the room view draws them: consecutive messages from one sender within the same
//! minute form one block under a single nick and time.

import type { ChatItem, ChatMessage, GapMarker, PresenceEvent } from './room.svelte';

export type ChatBlock =
  | { kind: 'group'; key: string; user: string; own: boolean; ts: number; messages: ChatMessage[] }
  | { kind: 'presence'; key: string; event: PresenceEvent }
  | { kind: 'gap'; key: string; marker: GapMarker };

const minute = (ts: number) => Math.floor(ts / 60_000);

export function groupChat(items: readonly ChatItem[]): ChatBlock[] {
  const blocks: ChatBlock[] = [];
  let open: Extract<ChatBlock, { kind: 'group' }> | null = null;
  for (const item of items) {
    if (item.kind === 'message') {
      if (open && open.user === item.user && open.own === item.own && minute(open.ts) === minute(item.ts)) {
        open.messages.push(item);
        continue;
      }
      open = { kind: 'group', key: item.key, user: item.user, own: item.own, ts: item.ts, messages: [item] };
      blocks.push(open);
    } else {
      open = null;
      blocks.push(item.kind === 'gap' ? { kind: 'gap', key: item.key, marker: item } : { kind: 'presence', key: item.key, event: item });
    }
  }
  return blocks;
}

/** Does `text` mention `nick` as a word (case-insensitive)? */
export function mentions(text: string, nick: string | null): boolean {
  if (!nick) return false;
  const escaped = nick.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\p{L}\\p{N}_-])@?${escaped}($|[^\\p{L}\\p{N}_-])`, 'iu').test(text);
}
