import { describe, expect, test } from 'vitest';
import { offset, parseOffset, seekTo } from './replay.svelte';

describe('a time into a recording', () => {
  test('is typed as seconds, m:ss or h:mm:ss', () => {
    expect(parseOffset('90')).toBe(90_000);
    expect(parseOffset(' 1.5 ')).toBe(1_500);
    expect(parseOffset('1:05')).toBe(65_000);
    expect(parseOffset('1:05.250')).toBe(65_250);
    expect(parseOffset('1:00:03')).toBe(3_603_000);
  });

  test('anything else is refused, not guessed', () => {
    for (const bad of ['', 'soon', '-5', '1:2:3:4', '1.5:00', '1e3', '::']) expect(parseOffset(bad)).toBeNull();
  });

  test('reads back as it is typed', () => {
    expect(offset(65_250)).toBe('1:05.250');
    expect(offset(0)).toBe('0:00.000');
    expect(offset(3_603_000)).toBe('1:00:03');
    expect(parseOffset(offset(65_250))).toBe(65_250);
  });

  test('a seek counts from the recording’s first item', () => {
    const status = { total: 10, position: 0, playing: false, speed: 1, at: 5_000, first: 5_000, last: 9_000 };
    expect(seekTo(status, 1_500)).toEqual({ do: 'seek', at: 6_500 });
  });
});
