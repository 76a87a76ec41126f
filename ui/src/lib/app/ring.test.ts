import { describe, expect, test } from 'vitest';
import { RingBuffer } from './ring';

describe('a ring buffer', () => {
  test('keeps items in order until it is full', () => {
    const ring = new RingBuffer<number>(3);
    ring.push(1);
    ring.push(2);
    expect(ring.slice()).toEqual([1, 2]);
    expect(ring.length).toBe(2);
    expect(ring.dropped).toBe(0);
  });

  test('forgets the oldest item once full, so memory stays bounded', () => {
    const ring = new RingBuffer<number>(3);
    const evicted = [1, 2, 3, 4, 5].map((n) => ring.push(n));
    expect(evicted).toEqual([undefined, undefined, undefined, 1, 2]);
    expect(ring.slice()).toEqual([3, 4, 5]);
    expect(ring.at(0)).toBe(3);
    expect(ring.at(3)).toBeUndefined();
    expect(ring.total).toBe(5);
    expect(ring.dropped).toBe(2);
  });

  test('a million pushes hold only its capacity', () => {
    const ring = new RingBuffer<number>(1000);
    for (let i = 0; i < 1_000_000; i++) ring.push(i);
    expect(ring.length).toBe(1000);
    expect(ring.at(0)).toBe(999_000);
    expect(ring.slice(998)).toEqual([999_998, 999_999]);
  });

  test('clear starts over', () => {
    const ring = new RingBuffer<string>(2);
    ring.push('a');
    ring.clear();
    expect(ring.length).toBe(0);
    expect(ring.total).toBe(0);
  });
});
