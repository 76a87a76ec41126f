//! Turns the engine's connection state into what the bar says: words first, colour second.

import type { ConnectionState, Transport } from '../backend';

export type Tone = 'ok' | 'warn' | 'bad';

export const TRANSPORT_NAMES: Record<Transport, string> = {
  ws: 'WebSocket',
  stream: 'HTTP streaming',
  poll: 'Long-polling',
};

export interface ConnectionSummary {
  /** "Connected", "Reconnecting in 4 s", ... */
  label: string;
  tone: Tone;
  /** Shown on hover: why we are not (fully) connected. */
  why: string | null;
  /** Offer "Retry now". */
  canRetry: boolean;
}

export function describeConnection(state: ConnectionState, now: number): ConnectionSummary {
  switch (state.status) {
    case 'connecting':
      return { label: 'Connecting', tone: 'warn', why: state.reason, canRetry: false };
    case 'connected':
      return {
        label: 'Connected',
        tone: state.degraded ? 'warn' : 'ok',
        why: state.degraded ? (state.reason ?? 'Using a slower transport.') : null,
        canRetry: false,
      };
    case 'reconnecting': {
      const label =
        state.retry_at == null
          ? 'Reconnecting'
          : `Reconnecting in ${Math.max(0, Math.ceil((state.retry_at - now) / 1000))} s`;
      return { label, tone: 'warn', why: state.reason, canRetry: true };
    }
    case 'offline':
      return { label: 'Offline', tone: 'bad', why: state.reason, canRetry: true };
  }
}
