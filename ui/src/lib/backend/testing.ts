//! TEST ONLY: a fake backend. It implements the same `Backend` interface as the real shell,
//! records every call, answers like the shell would (or as a test says), and streams engine
//! event batches to each connected server's listener, as the shell does (one per server).

import type { Backend, ClientEvent, ConnectionState, EventBatch, Profile } from './index';

export interface Call {
  method: keyof Backend;
  args: unknown[];
}

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

export interface FakeOptions {
  initial?: Profile;
  /** Saved profiles, as the store holds them at start. */
  saved?: Profile[];
  /** Answers that replace the fake's own, per method. */
  answers?: Partial<Backend>;
}

export function fakeBackend(options: FakeOptions = {}) {
  const calls: Call[] = [];
  /** Server key → its connection's listener; the last connected is where `push` goes. */
  const listeners = new Map<string, (batch: EventBatch) => void>();
  let last: string | null = null;
  let saved = options.saved ?? [];
  let cid = 0;
  let queries = 0;
  const ok = async () => {};
  const answers: Backend = {
    initialProfile: async () => options.initial ?? builtinProfile,
    connect: async (server, _profile, listener) => {
      listeners.set(server, listener);
      last = server;
    },
    disconnect: async (server) => {
      listeners.delete(server);
    },
    enter: ok,
    leave: ok,
    send: async () => `c-${++cid}`,
    retrySend: ok,
    watch: ok,
    unwatch: ok,
    setNick: ok,
    retryNow: ok,
    exportJsonl: async () => 42,
    startRecording: ok,
    stopRecording: async () => 7,
    openRecording: async () => 3,
    steerReplay: ok,
    closeReplay: ok,
    setMonitorQuery: async () => ({ generation: ++queries, rejudged: [] }),
    decodeBinary: async (payload) => ({ size: 0, hex: `hex of ${payload}`, hex_omitted: 0, decoded: [] }),
    notify: ok,
    openPlaces: async () => [],
    history: async () => [],
    search: async () => [],
    searchContext: async () => [],
    storeInfo: async () => ({ size_bytes: 3 * 1024 * 1024, max_bytes: 1024 * 1024 * 1024 }),
    setHistoryCap: async (maxBytes) => ({ size_bytes: 3 * 1024 * 1024, max_bytes: maxBytes }),
    forgetHistory: ok,
    loadSavedProfiles: async () => structuredClone(saved),
    saveProfiles: async (profiles) => {
      saved = structuredClone(profiles);
    },
    chooseExportPath: async () => null,
    chooseRecordingPath: async () => null,
    chooseRecordingToOpen: async () => null,
    builtinServer: async () => ({
      url: 'http://127.0.0.1:40123',
      publish_url: 'http://127.0.0.1:40124/publish/',
      token: 'launch-secret',
    }),
    copyText: ok,
    ...options.answers,
  };
  const backend = Object.fromEntries(
    Object.entries(answers).map(([method, answer]) => [
      method,
      (...args: unknown[]) => {
        calls.push({ method: method as keyof Backend, args });
        return (answer as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    ]),
  ) as unknown as Backend;

  return {
    backend,
    calls,
    /** The arguments of each call to `method`, in order. */
    called: (method: keyof Backend) => calls.filter((c) => c.method === method).map((c) => c.args),
    /** What the store holds now. */
    saved: () => saved,
    /** Streams one batch of engine events from the server connected last. */
    push(...events: ClientEvent[]) {
      if (!last) throw new Error('the UI has not connected yet');
      this.pushTo(last, ...events);
    },
    /** Streams one batch of engine events from the server `server` (its key). */
    pushTo(server: string, ...events: ClientEvent[]) {
      const listener = listeners.get(server);
      if (!listener) throw new Error(`the UI has not connected ${server}`);
      listener(events);
    },
  };
}
