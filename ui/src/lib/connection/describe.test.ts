import { describe, expect, test } from 'vitest';
import { describeConnection } from './describe';
import { STARTING } from './connection.svelte';

const base = { ...STARTING, server: 'This computer' };

describe('the connection bar says what is happening in words', () => {
  test('connected on WebSocket is green', () => {
    const s = describeConnection({ ...base, status: 'connected', transport: 'ws', rtt_ms: 3 }, 0);
    expect(s).toEqual({ label: 'Connected', tone: 'ok', why: null, canRetry: false });
  });

  test('falling back to a slower transport is amber and says why on hover', () => {
    const s = describeConnection(
      { ...base, status: 'connected', transport: 'poll', degraded: true, reason: 'WebSocket blocked by a proxy' },
      0,
    );
    expect(s.tone).toBe('warn');
    expect(s.why).toBe('WebSocket blocked by a proxy');
  });

  test('reconnecting counts down to the next attempt and offers Retry now', () => {
    const s = describeConnection({ ...base, status: 'reconnecting', attempt: 3, retry_at: 10_000 }, 6_100);
    expect(s.label).toBe('Reconnecting in 4 s');
    expect(s.canRetry).toBe(true);
    expect(describeConnection({ ...base, status: 'reconnecting', retry_at: 10_000 }, 12_000).label).toBe(
      'Reconnecting in 0 s',
    );
  });

  test('offline is red', () => {
    expect(describeConnection({ ...base, status: 'offline' }, 0)).toMatchObject({ label: 'Offline', tone: 'bad' });
  });
});
