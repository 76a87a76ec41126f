import { describe, expect, it } from 'vitest';
import { Deployment, readSnapshot } from './deployment.svelte';

const snapshot = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    instance: '0',
    at_ms: 1_765_000_000_000,
    connections: 3,
    connections_by_type: { ws: 2, http: 1 },
    channels: [{ channel: 'lobby', subscribers: 2 }],
    messages_per_second: { received: 1, sent: 2 },
    messages_total: { received: 10, sent: 20 },
    ...over,
  });

describe('a Pushpin snapshot from the server', () => {
  it('reads every figure the view shows', () => {
    const s = readSnapshot(snapshot());
    expect(s).toMatchObject({
      instance: '0',
      connections: 3,
      connections_by_type: { ws: 2, http: 1 },
      channels: [{ channel: 'lobby', subscribers: 2 }],
      messages_per_second: { received: 1, sent: 2 },
      messages_total: { received: 10, sent: 20 },
      stale: false,
      channels_truncated: false,
    });
  });

  it('is refused whole when a figure is missing or not a count', () => {
    expect(readSnapshot('not json')).toBeNull();
    expect(readSnapshot(snapshot({ connections: -1 }))).toBeNull();
    expect(readSnapshot(snapshot({ connections: '3' }))).toBeNull();
    expect(readSnapshot(snapshot({ instance: '' }))).toBeNull();
    expect(readSnapshot(snapshot({ messages_per_second: { sent: 1 } }))).toBeNull();
    expect(readSnapshot(snapshot({ channels: [{ channel: 'lobby' }] }))).toBeNull();
  });

  it('keeps the flags the server sets', () => {
    expect(readSnapshot(snapshot({ stale: true, channels_truncated: true }))).toMatchObject({ stale: true, channels_truncated: true });
  });
});

describe('the deployment view', () => {
  it('shows each instance once, in name order, with its latest figures', () => {
    const d = new Deployment();
    d.apply(snapshot({ instance: '1', connections: 5 }), false);
    d.apply(snapshot({ instance: '0', connections: 1 }), false);
    d.apply(snapshot({ instance: '1', connections: 6, at_ms: 1_765_000_001_000 }), false);
    expect(d.instances.map((i) => [i.name, i.latest?.connections])).toEqual([
      ['0', 1],
      ['1', 6],
    ]);
  });

  it('charts one point per second, not their sum, when two snapshots share a second', () => {
    const d = new Deployment();
    const at = 1_765_000_000_000;
    d.apply(snapshot({ at_ms: at, messages_per_second: { received: 1, sent: 40 } }), false);
    d.apply(snapshot({ at_ms: at + 500, messages_per_second: { received: 1, sent: 50 } }), false);
    const series = d.instances[0].sent.series(at + 1000);
    expect(series[series.length - 1]).toBe(50);
  });

  it('counts what does not read, and shows nothing of it', () => {
    const d = new Deployment();
    d.apply('{"instance":"0"}', false);
    d.apply('AAEC', true);
    expect(d.unreadable).toBe(2);
    expect(d.instances).toEqual([]);
  });

  it('forgets a refusal once figures arrive', () => {
    const d = new Deployment();
    d.refused = 'forbidden';
    d.apply(snapshot(), false);
    expect(d.refused).toBeNull();
  });
});
