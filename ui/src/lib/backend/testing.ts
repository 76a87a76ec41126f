//! TEST ONLY: a fake desktop shell behind `mockIPC`, answering the same commands the real one
//! does, recording every call, and streaming event batches down the `connect` channel the way
//! Tauri does (indexed messages to the channel's callback).

import { mockIPC } from '@tauri-apps/api/mocks';
import type { ClientEvent, ConnectionState, Profile } from './bindings';

export interface Call {
  cmd: string;
  args: Record<string, unknown>;
}

type Internals = { runCallback: (id: number, data: unknown) => void };

export const builtinProfile: Profile = {
  name: 'This computer',
  url: 'builtin:',
  transport: 'auto',
  token: null,
  headers: [],
  nick: null,
  insecure_tls: false,
};

export const connected = (patch: Partial<ConnectionState> = {}): ClientEvent => ({
  kind: 'state',
  status: 'connected',
  transport: 'ws',
  attempt: 0,
  retry_at: null,
  rtt_ms: 3,
  server: 'This computer',
  reason: null,
  degraded: false,
  ...patch,
});

export function fakeShell(options: { initial?: Profile; answers?: Record<string, (args: Record<string, unknown>) => unknown> } = {}) {
  const calls: Call[] = [];
  const stored = new Map<string, unknown>();
  let channelId: number | null = null;
  let index = 0;
  let cid = 0;

  mockIPC((cmd, raw) => {
    const args = (raw ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args });
    const answer = options.answers?.[cmd];
    if (answer) return answer(args);
    switch (cmd) {
      case 'initial_profile':
        return options.initial ?? builtinProfile;
      case 'connect':
        // The Channel serializes to its callback id when sent; in the mock we get the object.
        channelId = (args.onEvent as { id: number }).id;
        index = 0;
        return null;
      case 'send':
        return `c-${++cid}`;
      case 'export_jsonl':
        return 42;
      case 'plugin:store|load':
        return 1;
      case 'plugin:store|get':
        return [stored.get(args.key as string) ?? null, stored.has(args.key as string)];
      case 'plugin:store|set':
        stored.set(args.key as string, args.value);
        return null;
      default:
        return null;
    }
  });

  return {
    calls,
    /** The calls of one command, in order. */
    called: (cmd: string) => calls.filter((c) => c.cmd === cmd).map((c) => c.args),
    /** Streams one batch of engine events to the UI. */
    push(...events: ClientEvent[]) {
      if (channelId == null) throw new Error('the UI has not connected yet');
      const internals = (window as unknown as { __TAURI_INTERNALS__: Internals }).__TAURI_INTERNALS__;
      internals.runCallback(channelId, { index: index++, message: events });
    },
  };
}
