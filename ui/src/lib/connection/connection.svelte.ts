//! The connection as the bar shows it: the engine's latest state plus what the server told us.

import type { ConnectionState, ServerInfo } from '../backend';
import { describeConnection } from './describe';

export const STARTING: ConnectionState = {
  status: 'connecting',
  transport: null,
  attempt: 0,
  retry_at: null,
  rtt_ms: null,
  server: '',
  reason: null,
  degraded: false,
};

export class Connection {
  state = $state<ConnectionState>({ ...STARTING });
  /** What the server knows us by and supports; null until the first `server` event. */
  server = $state<ServerInfo | null>(null);
  /** Wall clock for the reconnect countdown; ticked by the bar while a retry is scheduled. */
  now = $state(Date.now());

  summary = $derived(describeConnection(this.state, this.now));

  get nick(): string | null {
    return this.server?.nick ?? null;
  }

  apply(state: ConnectionState): void {
    this.state = state;
    this.now = Date.now();
  }

  reset(serverName: string): void {
    this.state = { ...STARTING, server: serverName };
    this.server = null;
  }
}
