//! What a log row shows of an item: its payload on one line (binary as hex), or, under a jq
//! map, what the engine's map yielded from it.

import type { LogItem } from './monitor.svelte';
import { bytes } from '../app/format';

/** Bytes of a binary item shown in its row; the detail pane has the whole dump. */
const ROW_HEX_BYTES = 24;

/** The first `max` bytes of a base64 payload as hex pairs (`81 a1 61 01 …`). */
export function hexPreview(base64: string, max = ROW_HEX_BYTES): string {
  // Only the prefix is decoded: a row never pays for a megabyte it cannot show.
  const prefix = base64.slice(0, Math.ceil(max / 3) * 4);
  let raw: string;
  try {
    raw = atob(prefix);
  } catch {
    return '';
  }
  const shown = Array.from(raw.slice(0, max), (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join(' ');
  return base64.length > prefix.length || raw.length > max ? `${shown} …` : shown;
}

export interface RowText {
  text: string;
  /** `mapped`: what a jq map yielded; `empty`: it yielded nothing; `failed`: it failed here. */
  kind: 'payload' | 'mapped' | 'empty' | 'failed';
}

/** The row's text; `mapping` when a jq map is in force (generation `generation`). */
export function rowText(item: LogItem, mapping: number | null): RowText {
  const verdict = item.query;
  if (mapping != null && verdict?.generation === mapping) {
    if (verdict.error) return { text: verdict.error, kind: 'failed' };
    if (verdict.shown) {
      return verdict.shown.length
        ? { text: verdict.shown.map((out) => out.slice(0, 400).replace(/\s+/g, ' ')).join(' · ').slice(0, 400), kind: 'mapped' }
        : { text: 'no output', kind: 'empty' };
    }
  }
  if (item.binary) return { text: `⟨binary ${bytes(item.size)}⟩ ${hexPreview(item.payload)}`, kind: 'payload' };
  return { text: item.payload.slice(0, 400).replace(/\s+/g, ' '), kind: 'payload' };
}
