import { describe, expect, test } from 'vitest';
import { Monitor } from './monitor.svelte';
import { compileFilter } from './filter';
import { describeQueryError } from './query';
import { RateHistory } from './rate';
import type { ClientEvent } from '../backend';

const raw = (channel: string, payload: string, received = 1_000_000): Extract<ClientEvent, { kind: 'raw' }> => ({
  kind: 'raw', channel, id: null, ts: null, payload, binary: false, size: payload.length, received,
});

describe('the monitor log', () => {
  test('shows what watched channels publish, once per frame', () => {
    const m = new Monitor(100);
    m.ingest(raw('orders', '{"a":1}'));
    m.ingest(raw('orders', '{"a":2}'));
    expect(m.version).toBe(0);
    m.frame();
    expect(m.version).toBe(1);
    expect(m.view.slice().map((i) => i.kind === 'raw' && i.payload)).toEqual(['{"a":1}', '{"a":2}']);
    m.frame();
    expect(m.version).toBe(1);
  });

  test('10,000 messages a second for a minute keeps memory bounded by the capacity', () => {
    const m = new Monitor(5_000);
    m.setFilter('paid', null);
    const start = 1_700_000_000_000;
    for (let i = 0; i < 600_000; i++) m.ingest(raw('orders', i % 2 ? '{"s":"paid"}' : '{"s":"new"}', start + i / 10));
    expect(m.buffered.log).toBe(5_000);
    expect(m.buffered.view).toBe(5_000);
    expect(m.view.total).toBe(300_000);
    m.tick(start + 60_000);
    expect(m.channel('orders')!.rate).toBe(10_000);
    expect(m.channel('orders')!.messages).toBe(600_000);
    // About boundedness, not speed: on a busy shared CI machine 600,000 items can take a while.
  }, 120_000);

  test('the filter narrows by text, by /regex/ and by channel, over what was already logged', () => {
    const m = new Monitor(100);
    m.ingest(raw('orders', '{"status":"paid"}'));
    m.ingest(raw('orders', '{"status":"refunded"}'));
    m.ingest(raw('metrics', 'cpu=93'));
    m.setFilter('PAID', null);
    expect(m.view.slice().map((i) => i.kind === 'raw' && i.payload)).toEqual(['{"status":"paid"}']);
    m.setFilter('/ref|cpu/', null);
    expect(m.view.length).toBe(2);
    m.setFilter('', 'metrics');
    expect(m.view.slice().map((i) => i.channel)).toEqual(['metrics']);
    m.ingest(raw('orders', 'x'));
    m.ingest(raw('metrics', 'y'));
    expect(m.view.length).toBe(2);
    m.setFilter('', null);
    expect(m.view.length).toBe(5);
  });

  test('pause holds new items back; resume shows them all, in order', () => {
    const m = new Monitor(100);
    m.ingest(raw('orders', '1'));
    m.frame();
    m.pause();
    m.ingest(raw('orders', '2'));
    m.ingest(raw('orders', '3'));
    m.frame();
    expect(m.heldCount).toBe(2);
    expect(m.view.length).toBe(1);
    m.resume();
    expect(m.view.slice().map((i) => i.kind === 'raw' && i.payload)).toEqual(['1', '2', '3']);
    expect(m.heldCount).toBe(0);
  });

  test('clear empties the log but keeps the watched channels', () => {
    const m = new Monitor(100);
    m.ingest(raw('orders', '1'));
    m.clear();
    expect(m.view.length).toBe(0);
    expect(m.channels.map((c) => c.name)).toEqual(['orders']);
  });
});

describe('gaps in a channel', () => {
  const gap = (channel: string, after_id: number | null, type: 'room' | 'channel' = 'channel'): ClientEvent => ({
    kind: 'gap', target: { type, name: channel }, after_id,
  });
  const lines = (m: Monitor) => m.view.slice().map((e) => (e.kind === 'gap' ? `gap ${e.channel}` : e.payload));

  test("a watched channel's gap goes into the log where it happened; a room's of the same name does not", () => {
    const m = new Monitor(100);
    m.addChannel('news');
    m.apply(raw('news', 'first'));
    m.apply(gap('news', 1));
    m.apply(gap('news', 1, 'room'));
    m.apply(gap('unwatched', 4));
    m.apply(raw('news', 'after'));
    expect(lines(m)).toEqual(['first', 'gap news', 'after']);
  });

  test('a gap shows whatever the text filter, and only with its channel', () => {
    const m = new Monitor(100);
    m.addChannel('news');
    m.addChannel('orders');
    m.apply(raw('news', 'first'));
    m.apply(gap('news', 1));
    m.apply(raw('orders', 'other'));
    m.setFilter('nothing matches this', null);
    expect(lines(m)).toEqual(['gap news']);
    m.setFilter('', 'orders');
    expect(lines(m)).toEqual(['other']);
  });

  test('while paused a gap is held back with the items, in order', () => {
    const m = new Monitor(100);
    m.addChannel('news');
    m.pause();
    m.apply(raw('news', 'first'));
    m.apply(gap('news', 1));
    m.resume();
    expect(lines(m)).toEqual(['first', 'gap news']);
  });
});

describe('memory', () => {
  test('the log and the engine each say how many of their oldest items they dropped', () => {
    const m = new Monitor(3);
    for (let i = 0; i < 5; i++) m.ingest(raw('orders', `${i}`));
    m.apply({ kind: 'stats', target: { type: 'channel', name: 'orders' }, messages: 5, bytes: 5, dropped: 2, rate_1s: 5, rate_10s: 0.5, latency_ms: null });
    m.tick();
    expect(m.dropped).toEqual({ log: 2, export: 2 });
    m.clear();
    m.tick();
    expect(m.dropped).toEqual({ log: 0, export: 2 });
  });

  test("a room's figures are not a channel's of the same name", () => {
    const m = new Monitor(3);
    m.addChannel('news');
    m.apply({ kind: 'stats', target: { type: 'room', name: 'news' }, messages: 99, bytes: 99, dropped: 0, rate_1s: 0, rate_10s: 0, latency_ms: null });
    m.tick();
    expect(m.channel('news')!.messages).toBe(0);
  });
});

describe('a channel too fast to show every item', () => {
  test('the log holds what was sent, while counters and rate include what the shell left out', () => {
    const m = new Monitor(100);
    const now = Date.now();
    m.apply({ kind: 'skipped', channel: 'firehose', count: 900, bytes: 9_000 });
    for (let i = 0; i < 100; i++) m.apply(raw('firehose', '{"n":1}', now));
    m.frame();
    m.tick(now + 1000);
    const ch = m.channel('firehose')!;
    expect(m.view.length).toBe(100);
    expect(ch.messages).toBe(1_000);
    expect(ch.bytes).toBe(9_000 + 100 * 7);
    expect(ch.rate).toBe(1_000);
    expect(m.skipped).toBe(900);
    m.clear();
    expect(m.skipped).toBe(0);
  });
});

describe('the filter text', () => {
  test('an invalid regex says so and filters nothing out', () => {
    const f = compileFilter('/([/', null);
    expect(f.error).toMatch(/^Not a valid regular expression/);
    expect(f.matches({ channel: 'a', payload: 'b' })).toBe(true);
  });

  test('regex flags work and g does not make matching stateful', () => {
    const f = compileFilter('/PAID/gi', null);
    expect([1, 2, 3].map(() => f.matches({ channel: 'a', payload: 'paid' }))).toEqual([true, true, true]);
  });
});

describe('rate history', () => {
  test('counts per second over the last five minutes and forgets older seconds', () => {
    const h = new RateHistory(300);
    h.add(10_000);
    h.add(10_500);
    h.add(11_000);
    expect(h.lastSecond(12_000)).toBe(1);
    expect(h.lastSecond(11_000)).toBe(2);
    const s = h.series(12_000);
    expect(s).toHaveLength(300);
    expect(s.slice(-2)).toEqual([2, 1]);
    h.add(400_000);
    expect(h.series(401_000).reduce((a, b) => a + b)).toBe(1);
  });
});

describe('a jq query', () => {
  const judged = (payload: string, generation: number, keep: boolean) => ({ ...raw('market', payload), query: { generation, keep } });

  test('in jq mode the view is what the query in force kept, over what was already logged', () => {
    const m = new Monitor(100);
    m.ingest(raw('market', 'not judged'));
    m.ingest(judged('old query kept', 1, true));
    m.ingest(judged('kept', 2, true));
    m.ingest(judged('hidden', 2, false));
    m.setMode('jq');
    // No query yet: everything shows.
    expect(m.view.length).toBe(4);
    m.queryApplied('.a', '', { generation: 2, rejudged: [] });
    expect(m.view.slice().map((i) => i.kind === 'raw' && i.payload)).toEqual(['kept']);
    m.ingest(judged('kept too', 2, true));
    m.ingest(judged('hidden too', 2, false));
    expect(m.view.length).toBe(2);
    // Back to text: the whole log.
    m.setMode('text');
    expect(m.view.length).toBe(6);
  });

  test('a refusal leaves the query in force; blank fields are no query', () => {
    const m = new Monitor(100);
    m.setMode('jq');
    m.queryApplied('.a', '', { generation: 3, rejudged: [] });
    m.queryRefused({ field: 'filter', column: 4, message: 'bad', expression: '.a |' });
    expect(m.jq.generation).toBe(3);
    expect(m.jqError?.column).toBe(4);
    m.queryApplied('', '', { generation: 4, rejudged: [] });
    expect(m.jq.generation).toBeNull();
    expect(m.jqError).toBeNull();
  });
});

describe('a query set after items arrived', () => {
  test('narrows the newest of them, as the engine judged them again', () => {
    const m = new Monitor(100);
    const item = (id: number, payload: string) => ({ ...raw('market', payload), id });
    m.ingest(item(1, 'too old to be judged again'));
    m.ingest(item(2, 'ticker'));
    m.ingest(item(3, 'trade'));
    m.ingest({ ...raw('other', 'ticker elsewhere'), id: 2 });
    m.setMode('jq');
    m.queryApplied('.type == "ticker"', '.price', {
      generation: 5,
      rejudged: [
        { channel: 'market', id: 3, verdict: { generation: 5, keep: false } },
        { channel: 'market', id: 2, verdict: { generation: 5, keep: true, shown: ['101.5'] } },
      ],
    });
    expect(m.view.slice().map((i) => i.kind === 'raw' && `${i.channel} ${i.payload}`)).toEqual(['market ticker']);
    const kept = m.view.at(0)!;
    expect(kept.kind === 'raw' && kept.query?.shown).toEqual(['101.5']);
  });
});

describe('a refused query', () => {
  test('is titled with its field and column, with a caret under the column', () => {
    const text = describeQueryError({
      field: 'map', column: 9, expression: '.price |',
      message: 'jq expression, column 9: expected a term but found the end of the expression',
    });
    expect(text.title).toBe('Map, column 9:');
    expect(text.message).toBe('expected a term but found the end of the expression.');
    expect(text.caret).toBe(8);
    const nowhere = describeQueryError({ field: 'filter', column: null, expression: 'x', message: 'not connected to a server' });
    expect([nowhere.title, nowhere.caret]).toEqual(['Filter:', null]);
  });
});
