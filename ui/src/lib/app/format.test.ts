import { expect, test } from 'vitest';
import { bytes, clockMs, rate } from './format';

test('sizes, rates and times read the way the monitor shows them', () => {
  expect(bytes(812)).toBe('812 B');
  expect(bytes(1234)).toBe('1.2 KB');
  expect(rate(812)).toBe('812/s');
  expect(rate(12_400)).toBe('12k/s');
  expect(clockMs(new Date(2024, 0, 1, 10, 41, 7, 5).getTime())).toBe('10:41:07.005');
});
