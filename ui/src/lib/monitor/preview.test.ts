import { describe, expect, test } from 'vitest';
import { hexPreview, rowText } from './preview';
import type { LogItem } from './monitor.svelte';

const item = (patch: Partial<LogItem>): LogItem => ({
  kind: 'raw', channel: 'market', id: 1, ts: null, payload: '{"price":101.5}', binary: false, size: 15, received: 0, seq: 1, ...patch,
});

describe('a row of the log', () => {
  test('a binary item shows its first bytes in hex', () => {
    // MessagePack {"a":1}
    expect(rowText(item({ payload: 'gaFhAQ==', binary: true, size: 4 }), null).text).toBe('⟨binary 4 B⟩ 81 a1 61 01');
    const long = btoa(String.fromCharCode(...Array.from({ length: 100 }, (_, i) => i)));
    expect(hexPreview(long, 4)).toBe('00 01 02 03 …');
    expect(hexPreview('not base64!')).toBe('');
  });

  test('under a map it shows what the engine yielded, its failure, or that it yielded nothing', () => {
    const judged = (shown?: string[], error?: string) => item({ query: { generation: 3, keep: true, shown, error } });
    expect(rowText(judged(['101.5']), 3)).toEqual({ text: '101.5', kind: 'mapped' });
    expect(rowText(judged(['a', '2']), 3).text).toBe('a · 2');
    expect(rowText(judged([]), 3)).toEqual({ text: 'no output', kind: 'empty' });
    expect(rowText(judged(undefined, 'jq: cannot add'), 3)).toEqual({ text: 'jq: cannot add', kind: 'failed' });
    // Judged by an older query, or no map in force: the payload itself.
    expect(rowText(judged(['101.5']), 4).text).toBe('{"price":101.5}');
    expect(rowText(judged(['101.5']), null).text).toBe('{"price":101.5}');
  });
});
