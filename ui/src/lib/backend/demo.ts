//! DEV ONLY: a simulated Tack server behind the `Backend` interface, so the UI runs in a plain
//! browser (`npm run dev`) for looking at it and taking screenshots. Loaded by `main.ts` only
//! when there is no Tauri shell, and never in a production build.
//!
//! Query parameters: `?rate=N` items/s on the demo channel `orders` (default 25), `?watch=0` to
//! start without watching it, `?state=reconnecting|offline` to show those bar states,
//! `?view=orders` to open that channel's monitor. It simulates one server: whichever profile
//! connects gets the same one (the server key each command names is ignored).

import type { Backend, ClientEvent, ConnectionState, EventBatch, Profile } from './index';

type Sink = (batch: EventBatch) => void;

const PEOPLE = ['ann', 'carol', 'dmitri', 'erin'];
const LINES = [
  'deploy is green',
  'anyone seen the 502s on edge-3?',
  'rolling back the cache change',
  '👍',
  'metrics look normal again',
  'standup in 5',
  '<img src=x onerror=alert(1)> renders as text, as it should',
];

export function demoBackend(params: URLSearchParams): Backend {
  const rate = Number(params.get('rate') ?? 25);
  let sink: Sink | null = null;
  let queue: ClientEvent[] = [];
  let nick = 'swift-otter';
  const ids = new Map<string, number>();
  const rooms = new Set<string>();
  const watched = new Map<string, number>();
  let saved: Profile[] = [];
  let profile: Profile | null = null;
  let cidSeq = 0;

  const emit = (e: ClientEvent) => queue.push(e);
  const nextId = (room: string) => {
    const id = (ids.get(room) ?? 0) + 1;
    ids.set(room, id);
    return id;
  };
  // Batches like the engine: about every 16 ms.
  setInterval(() => {
    if (sink && queue.length) {
      const batch = queue;
      queue = [];
      sink(batch);
    }
  }, 16);

  const state = (patch: Partial<ConnectionState>): ClientEvent => ({
    kind: 'state',
    status: 'connected',
    transport: 'ws',
    attempt: 0,
    retry_at: null,
    rtt_ms: 3,
    server: profile?.name ?? 'This computer',
    reason: null,
    degraded: false,
    ...patch,
  });

  function startChatter() {
    const now = Date.now();
    // A little history so the room does not start empty.
    emit({ kind: 'entered', room: 'lobby', id: nextId('lobby'), user: 'ann', viewers: 2, ts: now - 240_000 });
    emit({ kind: 'message', room: 'lobby', id: nextId('lobby'), user: 'ann', comment: LINES[0], ts: now - 200_000, cid: null, own: false });
    emit({ kind: 'message', room: 'lobby', id: nextId('lobby'), user: 'ann', comment: LINES[1], ts: now - 190_000, cid: null, own: false });
    emit({ kind: 'entered', room: 'lobby', id: nextId('lobby'), user: 'carol', viewers: 3, ts: now - 130_000 });
    emit({ kind: 'gap', target: { type: 'room', name: 'lobby' }, after_id: ids.get('lobby') ?? null });
    emit({ kind: 'message', room: 'lobby', id: nextId('lobby'), user: 'carol', comment: LINES[2], ts: now - 70_000, cid: null, own: false });
    emit({ kind: 'message', room: 'lobby', id: nextId('lobby'), user: 'carol', comment: LINES[6], ts: now - 65_000, cid: null, own: false });
    let tick = 0;
    setInterval(() => {
      tick++;
      if (!rooms.has('lobby')) return;
      const user = PEOPLE[tick % PEOPLE.length];
      emit({ kind: 'message', room: 'lobby', id: nextId('lobby'), user, comment: LINES[tick % LINES.length], ts: Date.now(), cid: null, own: false });
    }, 7000);
  }

  function publishLoop() {
    let carry = 0;
    let seq = 0;
    setInterval(() => {
      carry += (rate * 50) / 1000;
      const n = Math.floor(carry);
      carry -= n;
      const now = Date.now();
      for (const [channel] of watched) {
        for (let i = 0; i < n; i++) {
          seq++;
          const payload = JSON.stringify({
            order: 10_000 + seq,
            status: seq % 7 === 0 ? 'refunded' : 'paid',
            amount: Math.round(((seq * 37) % 9000) + 100) / 100,
            items: [{ sku: `SKU-${seq % 13}`, qty: (seq % 3) + 1 }],
          });
          emit({ kind: 'raw', channel, id: nextId(channel), ts: now - 2, payload, binary: false, size: payload.length, received: now });
          // Once, early on: a few items lost for good, so the monitor's gap marker can be seen.
          if (seq === 40) {
            emit({ kind: 'gap', target: { type: 'channel', name: channel }, after_id: ids.get(channel) ?? null });
            ids.set(channel, (ids.get(channel) ?? 0) + 3);
          }
        }
      }
    }, 50);
    setInterval(() => {
      for (const [channel, before] of watched) {
        const messages = ids.get(channel) ?? 0;
        emit({ kind: 'stats', target: { type: 'channel', name: channel }, messages, bytes: messages * 96, dropped: 0, rate_1s: messages - before, rate_10s: messages - before, latency_ms: 2.4 });
        watched.set(channel, messages);
      }
    }, 1000);
  }

  const ok = async () => {};
  return {
    initialProfile: async () => ({ name: 'This computer', url: 'builtin:', transport: 'auto', token: null, headers: [], nick: null, insecure_tls: false }),
    async connect(_server, chosen, onEvent) {
      sink = onEvent;
      profile = chosen;
      if (profile.nick) nick = profile.nick;
      const shown = params.get('state');
      emit(state({ status: 'connecting', rtt_ms: null }));
      setTimeout(() => {
        if (shown === 'reconnecting') {
          emit(state({ status: 'reconnecting', attempt: 2, retry_at: Date.now() + 8000, rtt_ms: null, reason: "Can't reach 10.0.0.5:7999 — the server may be down." }));
          return;
        }
        if (shown === 'offline') {
          emit(state({ status: 'offline', rtt_ms: null, reason: 'Disconnected.' }));
          return;
        }
        emit(state({}));
        emit({ kind: 'server', nick, server: 'tack/0.1.0', resume: true, acks: true, epoch: 'demo' });
      }, 300);
      if (params.get('watch') !== '0') setTimeout(() => watchChannel('orders'), 400);
      startChatter();
      publishLoop();
    },
    async disconnect() {
      emit(state({ status: 'offline', transport: null, rtt_ms: null }));
    },
    async enter(_server, room) {
      rooms.add(room);
      emit({ kind: 'joined', room });
      const users = room === 'lobby' ? ['ann', 'carol', nick] : [nick];
      emit({ kind: 'presence', room, viewers: users.length, users });
    },
    async leave(_server, room) {
      rooms.delete(room);
      emit({ kind: 'parted', room });
    },
    async send(_server, room, comment) {
      const cid = `c-${++cidSeq}`;
      emit({ kind: 'send', cid, room, comment, state: 'pending' });
      setTimeout(() => {
        if (comment.includes('fail')) {
          emit({ kind: 'send', cid, room, comment, state: 'failed', reason: 'The server refused the message: rate limited.' });
          return;
        }
        const id = nextId(room);
        emit({ kind: 'message', room, id, user: nick, comment, ts: Date.now(), cid, own: true });
        emit({ kind: 'send', cid, room, comment, state: 'sent', id });
      }, 400);
      return cid;
    },
    retrySend: ok,
    async watch(_server, channel) {
      watchChannel(channel);
    },
    async unwatch(_server, channel) {
      watched.delete(channel);
    },
    async setNick(_server, chosen) {
      nick = chosen;
      emit({ kind: 'server', nick, server: 'tack/0.1.0', resume: true, acks: true, epoch: 'demo' });
    },
    async retryNow() {
      emit(state({}));
    },
    exportJsonl: async (_server, _path, channels) => ids.get(channels[0]) ?? 0,
    // Recording and replay are the desktop app's engine's; the plain dev page has none.
    startRecording: async () => {
      throw new Error('recording runs in the desktop app’s engine; this page has none');
    },
    stopRecording: async () => 0,
    openRecording: async () => {
      throw new Error('recordings are read by the desktop app’s engine; this page has none');
    },
    steerReplay: ok,
    closeReplay: ok,
    // jq runs in the desktop app's engine only; the plain dev page has none.
    setMonitorQuery: async (_server, filter, map) => {
      if (!filter.trim() && !map.trim()) return { generation: 0, rejudged: [] };
      throw JSON.stringify({ field: 'filter', column: null, message: 'jq filters run in the desktop app’s engine; this page has none' });
    },
    decodeBinary: async (payload) => ({ size: 0, hex: payload, hex_omitted: 0, decoded: [] }),
    notify: ok,
    // The demo keeps no history: every room opens empty, and search finds nothing.
    openPlaces: async () => [],
    history: async () => [],
    search: async () => [],
    searchContext: async () => [],
    storeInfo: async () => ({ size_bytes: 0, max_bytes: 1 << 30 }),
    setHistoryCap: async (maxBytes) => ({ size_bytes: 0, max_bytes: maxBytes }),
    forgetHistory: ok,
    loadSavedProfiles: async () => saved,
    async saveProfiles(profiles) {
      saved = profiles;
    },
    chooseExportPath: async () => '/home/you/orders.jsonl',
    chooseRecordingPath: async () => '/home/you/orders-recording.jsonl',
    chooseRecordingToOpen: async () => '/home/you/orders-recording.jsonl',
    builtinServer: async () => ({
      url: 'http://127.0.0.1:7999',
      publish_url: 'http://127.0.0.1:7998/publish/',
      token: 'demo-secret-made-at-each-launch',
    }),
    copyText: (text) => navigator.clipboard.writeText(text),
  };

  function watchChannel(channel: string) {
    if (!watched.has(channel)) watched.set(channel, ids.get(channel) ?? 0);
  }
}
