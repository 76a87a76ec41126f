//! The monitor's recording and replay, as the window sees them: the recording in progress (its
//! file and how many items it holds so far) and where the open recording's replay stands. The
//! engine writes the file and runs the replay; this only keeps what its events say.

import type { ReplayStatus, Steer } from '../backend';

/** The speeds offered, as the engine takes them (0: as fast as possible). */
export const SPEEDS: ReadonlyArray<{ times: number; label: string }> = [
  { times: 1, label: '1×' },
  { times: 10, label: '10×' },
  { times: 100, label: '100×' },
  { times: 0, label: 'Max' },
];

export class Replay {
  /** The recording in progress: its file and the items written so far. */
  recording = $state.raw<{ path: string; items: number; error?: string | null } | null>(null);
  /** The open recording's file, and where its replay stands (null: none open). */
  path = $state<string | null>(null);
  status = $state.raw<ReplayStatus | null>(null);
  /** Why the last recording could not be opened (its line and column), until the next try. */
  error = $state<string | null>(null);

  get open(): boolean {
    return this.path != null;
  }

  opened(path: string, total: number): void {
    this.path = path;
    this.error = null;
    this.status = { total, position: 0, playing: false, speed: 1, at: 0, first: 0, last: 0 };
  }

  closed(): void {
    this.path = null;
    this.status = null;
  }
}

/** 1:05.250 (minutes) or 1:02:03 (hours): a time into the recording. */
export function offset(ms: number): string {
  const total = Math.max(0, Math.floor(ms));
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor(total / 60_000) % 60;
  const s = Math.floor(total / 1000) % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (h) return `${h}:${pad(m)}:${pad(s)}`;
  return `${m}:${pad(s)}.${String(total % 1000).padStart(3, '0')}`;
}

/**
 * A time into the recording as typed: seconds (`90`, `1.5`), `m:ss` or `h:mm:ss` (with
 * fractions of a second); null when it is none of these.
 */
export function parseOffset(text: string): number | null {
  const parts = text.trim().split(':');
  if (parts.length > 3 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) return null;
  // Only the seconds may have a fraction.
  if (parts.slice(0, -1).some((p) => p.includes('.'))) return null;
  const seconds = parts.reduce((sum, p) => sum * 60 + Number(p), 0);
  return Math.round(seconds * 1000);
}

/** The steer that seeks to `ms` into the recording `status` describes. */
export function seekTo(status: ReplayStatus, ms: number): Steer {
  return { do: 'seek', at: status.first + ms };
}
