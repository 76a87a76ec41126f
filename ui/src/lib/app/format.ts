//! How times, sizes and rates read in the window.

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** 10:41 */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** 10:41:07.123 */
export function clockMs(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** 812 B, 1.2 KB, 3.4 MB */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)} KB`;
  if (n < 1_000_000_000) return `${(n / 1_000_000).toFixed(1)} MB`;
  return `${(n / 1_000_000_000).toFixed(2)} GB`;
}

/** 812/s, 12.4k/s */
export function rate(n: number): string {
  if (n < 1000) return `${Math.round(n)}/s`;
  return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k/s`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}
