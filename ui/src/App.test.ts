import { afterEach, describe, expect, test, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import App from './App.svelte';
import { Workspace } from './lib/app/workspace.svelte';
import { builtinProfile, connected, fakeBackend, type FakeOptions } from './lib/backend/testing';
import type { ClientEvent, Verdict } from './lib/backend';

afterEach(() => cleanup());

/** The built-in server's key, which every per-server command names first. */
const BUILTIN = 'builtin:';

/** The app started against a fake backend, connected, in the lobby with just us. */
async function startedApp(options: FakeOptions = {}) {
  const shell = fakeBackend(options);
  const workspace = new Workspace(shell.backend);
  render(App, { props: { workspace } });
  await workspace.start();
  const session = workspace.focused!;
  shell.push(
    connected(),
    { kind: 'server', nick: 'bob', server: 'tack/0.1.0', resume: true, acks: true, epoch: 'demo' },
    { kind: 'joined', room: 'lobby' },
    { kind: 'presence', room: 'lobby', viewers: 1, users: ['bob'] },
  );
  await screen.findByText('Connected');
  return { shell, workspace, session };
}

const text = (testid: string) => screen.getByTestId(testid).textContent?.trim();
const msg = (id: number, user: string, comment: string): ClientEvent => ({
  kind: 'message', room: 'lobby', id, user, comment, ts: Date.now(), cid: null, own: false,
});

describe('first start', () => {
  test('connects to the initial profile, enters the lobby and shows who I am', async () => {
    const { shell } = await startedApp();
    expect(shell.called('connect')[0]).toEqual([BUILTIN, builtinProfile, expect.any(Function)]);
    expect(shell.called('enter')).toEqual([[BUILTIN, 'lobby']]);
    expect(text('conn-status')).toBe('Connected');
    expect(text('conn-transport')).toBe('WebSocket');
    expect(text('my-nick')).toBe('bob');
    expect(text('nick-label')).toBe('you are');
    expect(screen.getByTestId('room-lobby')).toBeTruthy();
    expect(text('room-viewers')).toBe('1');
  });

  test('a profile with a token shows who I am signed in as', async () => {
    const initial = { ...builtinProfile, name: 'work', url: 'https://chat.example.com', token: 'eyJ...' };
    await startedApp({ initial });
    expect(text('nick-label')).toBe('signed in as');
    expect(text('my-nick')).toBe('bob');
  });

  test('I can change my nickname', async () => {
    const { shell } = await startedApp();
    await fireEvent.click(screen.getByTestId('my-nick'));
    const input = screen.getByTestId('nick-input') as HTMLInputElement;
    await fireEvent.input(input, { target: { value: 'robert' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(shell.called('setNick')).toEqual([[BUILTIN, 'robert']]);
  });
});

describe('chatting in a room', () => {
  test('Enter sends; my message goes pending → sent and shows once', async () => {
    const { shell } = await startedApp();
    const composer = screen.getByTestId('composer') as HTMLTextAreaElement;
    await fireEvent.input(composer, { target: { value: 'hello all' } });
    await fireEvent.keyDown(composer, { key: 'Enter' });
    await waitFor(() => expect(shell.called('send')).toEqual([[BUILTIN, 'lobby', 'hello all']]));
    shell.push({ kind: 'send', cid: 'c-1', room: 'lobby', comment: 'hello all', state: 'pending' });
    await waitFor(() => expect(screen.getByTestId('chat-line').dataset.state).toBe('pending'));
    expect(composer.value).toBe('');
    shell.push(
      { kind: 'message', room: 'lobby', id: 3, user: 'bob', comment: 'hello all', ts: Date.now(), cid: 'c-1', own: true },
      { kind: 'send', cid: 'c-1', room: 'lobby', comment: 'hello all', state: 'sent', id: 3 },
    );
    await waitFor(() => expect(screen.getByTestId('chat-line').dataset.state).toBe('sent'));
    expect(screen.getAllByTestId('chat-line')).toHaveLength(1);
  });

  test('a failed message is red with Retry, which asks the engine to resend it', async () => {
    const { shell } = await startedApp();
    shell.push(
      { kind: 'send', cid: 'c-9', room: 'lobby', comment: 'hm', state: 'pending' },
      { kind: 'send', cid: 'c-9', room: 'lobby', comment: 'hm', state: 'failed', reason: 'rate limited' },
    );
    await waitFor(() => expect(screen.getByTestId('chat-line').dataset.state).toBe('failed'));
    await fireEvent.click(screen.getByTestId('retry-send'));
    expect(shell.called('retrySend')).toEqual([[BUILTIN, 'c-9']]);
  });

  test('message text is only text: markup shows literally and runs nothing', async () => {
    const { shell } = await startedApp();
    const alert = vi.fn();
    window.alert = alert;
    shell.push(msg(1, 'mallory', '<img src=x onerror=alert(1)>'));
    const line = await screen.findByTestId('chat-line');
    expect(line.textContent).toContain('<img src=x onerror=alert(1)>');
    expect(document.querySelector('img')).toBeNull();
    expect(alert).not.toHaveBeenCalled();
  });

  test('someone entering and leaving shows inline, and the viewer count follows', async () => {
    const { shell } = await startedApp();
    shell.push({ kind: 'entered', room: 'lobby', id: 1, user: 'carol', viewers: 2, ts: Date.now() });
    await waitFor(() => expect(text('room-viewers')).toBe('2'));
    expect(screen.getByTestId('room-event').textContent).toContain('carol entered · 2 viewers');
    expect(screen.getByTestId('members').textContent).toContain('carol');
    shell.push(msg(2, 'carol', 'hi bob'), { kind: 'left', room: 'lobby', id: 3, user: 'carol', viewers: 1, ts: Date.now() });
    await waitFor(() => expect(text('room-viewers')).toBe('1'));
    expect(screen.getAllByTestId('room-event')).toHaveLength(2);
    expect(screen.getByTestId('chat-line').textContent).toContain('hi bob');
  });

  test('where history could not be recovered, a marker says so', async () => {
    const { shell } = await startedApp();
    shell.push(msg(1, 'ann', 'before'), { kind: 'gap', target: { type: 'room', name: 'lobby' }, after_id: 1 }, msg(9, 'ann', 'after'));
    const marker = await screen.findByTestId('gap-marker');
    expect(marker.textContent).toContain('some earlier messages could not be recovered');
  });

  test('joining a room by name from the + box', async () => {
    const { shell } = await startedApp();
    await fireEvent.click(screen.getByTestId('add-room'));
    const input = screen.getByTestId('join-input');
    await fireEvent.input(input, { target: { value: 'ops' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(shell.called('enter')).toContainEqual([BUILTIN, 'ops']));
    expect(screen.getByTestId('room-ops')).toBeTruthy();
  });

  test('a mention while the window is not focused raises a desktop notification with the text as typed', async () => {
    const { shell, workspace } = await startedApp();
    shell.push(msg(1, 'ann', 'bob: seen while I look'));
    workspace.windowFocused = false;
    shell.push(msg(2, 'ann', 'bob: <b>can</b> you look? &amp; soon'));
    await waitFor(() => expect(shell.called('notify')).toEqual([['ann in #lobby', 'bob: <b>can</b> you look? &amp; soon']]));
  });

  test('where history could not be recovered, a marker says so: a room\'s gap in the room, not in the monitor', async () => {
    const { shell, session } = await startedApp();
    await session.watch('lobby');
    shell.push(msg(1, 'ann', 'before'), { kind: 'gap', target: { type: 'room', name: 'lobby' }, after_id: 1 }, msg(9, 'ann', 'after'));
    session.open({ kind: 'room', name: 'lobby' });
    await screen.findByTestId('gap-marker');
    session.open({ kind: 'channel', name: 'lobby' });
    await screen.findByTestId('monitor-log');
    expect(screen.queryByTestId('monitor-gap')).toBeNull();
  });
});

describe('the connection bar', () => {
  test('reconnecting counts down and Retry now asks the engine to try at once', async () => {
    const { shell } = await startedApp();
    shell.push(connected({ status: 'reconnecting', attempt: 2, retry_at: Date.now() + 4_000, reason: "Can't reach 127.0.0.1:7999" }));
    await waitFor(() => expect(text('conn-status')).toMatch(/^Reconnecting in [34] s$/));
    await fireEvent.click(screen.getByTestId('retry-now'));
    expect(shell.called('retryNow')).toHaveLength(1);
    shell.push(connected({ transport: 'poll', degraded: true, reason: 'WebSocket refused by a proxy' }));
    await waitFor(() => expect(text('conn-transport')).toBe('Long-polling'));
    expect(screen.getByTestId('conn-reason').textContent).toBe('WebSocket refused by a proxy');
  });
});

describe('the monitor', () => {
  const raw = (payload: string, channel = 'orders'): ClientEvent => ({
    kind: 'raw', channel, id: null, ts: null, payload, binary: false, size: payload.length, received: Date.now(),
  });

  test('watching a channel shows its items, and the filter narrows them', async () => {
    const { shell } = await startedApp();
    await fireEvent.click(screen.getByTestId('add-channel'));
    const input = screen.getByTestId('watch-input');
    await fireEvent.input(input, { target: { value: 'orders' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(shell.called('watch')).toEqual([[BUILTIN, 'orders']]));
    expect(await screen.findByText(/Nothing on this channel yet/)).toBeTruthy();
    shell.push(raw('{"status":"paid"}'), raw('{"status":"refunded"}'), raw('{"status":"paid","n":2}'));
    await waitFor(() => expect(screen.getAllByTestId('monitor-row')).toHaveLength(3));
    await fireEvent.input(screen.getByTestId('monitor-filter'), { target: { value: '/refund/' } });
    await waitFor(() => expect(screen.getAllByTestId('monitor-row')).toHaveLength(1));
    await fireEvent.click(screen.getByTestId('monitor-row'));
    expect(screen.getByTestId('monitor-detail').textContent).toContain('refunded');
  });

  /** The log's lines in order: each item's payload, or "gap" for a gap marker. */
  const logLines = () =>
    [...screen.getByTestId('monitor-log').querySelectorAll<HTMLElement>('[data-testid="monitor-row"], [data-testid="monitor-gap"]')].map((el) =>
      el.dataset.testid === 'monitor-gap' ? 'gap' : (el.querySelector('.p')?.textContent ?? ''),
    );

  // Regression (issue 13): gaps were routed to rooms only, by name.
  test('a gap on a watched channel shows in the monitor at its place, and not in the room of the same name', async () => {
    const { shell, session } = await startedApp();
    await session.joinRoom('news');
    await session.watch('news');
    shell.push(
      { kind: 'joined', room: 'news' },
      raw('first', 'news'),
      { kind: 'gap', target: { type: 'channel', name: 'news' }, after_id: 1 },
      raw('after', 'news'),
    );
    await waitFor(() => expect(logLines()).toEqual(['first', 'gap', 'after']));
    expect(screen.getByTestId('monitor-gap').textContent).toContain('some items could not be recovered');
    session.open({ kind: 'room', name: 'news' });
    await screen.findByTestId('composer');
    expect(screen.queryByTestId('gap-marker')).toBeNull();
  });

  test('says when older items were dropped to keep memory bounded', async () => {
    const { shell, session } = await startedApp();
    await session.watch('orders');
    shell.push(raw('{"n":1}'));
    expect(screen.queryByTestId('monitor-dropped')).toBeNull();
    shell.push({ kind: 'stats', target: { type: 'channel', name: 'orders' }, messages: 120_000, bytes: 80_000_000, dropped: 20_000, rate_1s: 0, rate_10s: 0, latency_ms: null });
    session.monitor.tick();
    const note = await screen.findByTestId('monitor-dropped');
    expect(note.textContent).toBe('Older items were dropped to keep memory bounded: Export no longer has the 20,000 oldest.');
  });

  test('export asks where to save and writes JSON Lines through the engine', async () => {
    const { shell } = await startedApp({ answers: { chooseExportPath: async () => '/tmp/orders.jsonl' } });
    await fireEvent.click(screen.getByTestId('add-channel'));
    const input = screen.getByTestId('watch-input');
    await fireEvent.input(input, { target: { value: 'orders' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    await fireEvent.click(await screen.findByTestId('monitor-export'));
    await waitFor(() => expect(shell.called('exportJsonl')).toEqual([[BUILTIN, '/tmp/orders.jsonl', ['orders']]]));
    expect(await screen.findByText('Exported 42 lines to /tmp/orders.jsonl')).toBeTruthy();
  });
});

describe('recording and replay in the monitor', () => {
  const raw = (payload: string, received: number, channel = 'orders'): ClientEvent => ({
    kind: 'raw', channel, id: null, ts: null, payload, binary: false, size: payload.length, received,
  });
  const status = (patch: Partial<Extract<ClientEvent, { kind: 'replay' }>> = {}): ClientEvent => ({
    kind: 'replay', total: 3, position: 0, playing: false, speed: 1, at: 5_000, first: 5_000, last: 65_000, ...patch,
  });

  test('record asks where to write, counts what the engine wrote, and stop says how many', async () => {
    const { shell, session } = await startedApp({ answers: { chooseRecordingPath: async () => '/tmp/orders.jsonl' } });
    await session.watch('orders');
    await session.watch('metrics');
    await session.watch('prices');
    // The record bar starts with what the log shows (prices); the user adds orders.
    await fireEvent.click(await screen.findByTestId('monitor-record'));
    expect((screen.getByTestId('record-channel-prices') as HTMLInputElement).checked).toBe(true);
    expect((screen.getByTestId('record-channel-metrics') as HTMLInputElement).checked).toBe(false);
    await fireEvent.click(screen.getByTestId('record-channel-orders'));
    await fireEvent.click(screen.getByTestId('record-start'));
    await waitFor(() =>
      expect(shell.called('startRecording')).toEqual([
        [
          BUILTIN,
          '/tmp/orders.jsonl',
          [
            { type: 'channel', name: 'orders' },
            { type: 'channel', name: 'prices' },
          ],
        ],
      ]),
    );
    expect(screen.queryByTestId('record-bar')).toBeNull();
    shell.push({ kind: 'recording', path: '/tmp/orders.jsonl', items: 1_234, error: null });
    await waitFor(() => expect(text('monitor-recorded')).toBe('1,234'));
    expect(screen.queryByTestId('record-error')).toBeNull();
    shell.push({ kind: 'recording', path: '/tmp/orders.jsonl', items: 1_300, error: "can't write /tmp/orders.jsonl: No space left on device" });
    expect((await screen.findByTestId('record-error')).textContent).toContain('No space left on device');
    await fireEvent.click(screen.getByTestId('monitor-record-stop'));
    expect(await screen.findByText('Recorded 7 items to /tmp/orders.jsonl')).toBeTruthy();
    expect(screen.getByTestId('monitor-record')).toBeTruthy();
  });

  test('an opened recording plays into the log through the controls', async () => {
    const { shell, session } = await startedApp({ answers: { chooseRecordingToOpen: async () => '/tmp/orders.jsonl' } });
    await session.watch('orders');
    await fireEvent.click(await screen.findByTestId('monitor-open'));
    await waitFor(() => expect(shell.called('openRecording')).toEqual([[BUILTIN, '/tmp/orders.jsonl']]));
    await screen.findByTestId('replay-bar');
    shell.push(status());
    await waitFor(() => expect(text('replay-progress')).toBe('0 / 3 · 0:00.000 of 1:00.000'));
    await fireEvent.click(screen.getByTestId('replay-speed-10'));
    await fireEvent.click(screen.getByTestId('replay-play'));
    expect(shell.called('steerReplay')).toEqual([[BUILTIN, { do: 'speed', times: 10 }], [BUILTIN, { do: 'play' }]]);
    shell.push(raw('one', 5_000), raw('two', 35_000), status({ position: 2, playing: true, speed: 10, at: 35_000 }));
    await waitFor(() => expect(screen.getAllByTestId('monitor-row')).toHaveLength(2));
    await waitFor(() => expect(text('replay-progress')).toBe('2 / 3 · 0:30.000 of 1:00.000'));
    expect(screen.getByTestId('replay-speed-10').getAttribute('aria-checked')).toBe('true');
    await fireEvent.click(screen.getByTestId('replay-pause'));
    await fireEvent.input(screen.getByTestId('replay-seek'), { target: { value: 'soon' } });
    await fireEvent.submit(screen.getByTestId('replay-seek'));
    expect(screen.getByTestId('replay-seek').getAttribute('aria-invalid')).toBe('true');
    await fireEvent.input(screen.getByTestId('replay-seek'), { target: { value: '0:10' } });
    await fireEvent.submit(screen.getByTestId('replay-seek'));
    await waitFor(() => expect(shell.called('steerReplay').at(-1)).toEqual([BUILTIN, { do: 'seek', at: 15_000 }]));
    await waitFor(() => expect(screen.queryAllByTestId('monitor-row')).toHaveLength(0));
    await fireEvent.click(screen.getByTestId('replay-close'));
    await waitFor(() => expect(screen.queryByTestId('replay-bar')).toBeNull());
  });

  test('a recording with a bad line is refused with its line and column, shown', async () => {
    const refusal = '/tmp/bad.jsonl: line 3 is not a recorded item (expected value at column 1)';
    await startedApp({
      answers: {
        chooseRecordingToOpen: async () => '/tmp/bad.jsonl',
        openRecording: async () => {
          throw refusal;
        },
      },
    });
    await screen.findByText('Connected');
    // The monitor opens on a channel; any will do.
    await fireEvent.click(screen.getByTestId('add-channel'));
    const input = screen.getByTestId('watch-input');
    await fireEvent.input(input, { target: { value: 'orders' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    await fireEvent.click(await screen.findByTestId('monitor-open'));
    expect((await screen.findByTestId('replay-error')).textContent).toBe(refusal);
    expect(screen.queryByTestId('replay-bar')).toBeNull();
  });
});

describe('the monitor, queried with jq', () => {
  const judged = (payload: string, query?: Verdict, patch: Partial<Extract<ClientEvent, { kind: 'raw' }>> = {}): ClientEvent => ({
    kind: 'raw', channel: 'market', id: null, ts: null, payload, binary: false, size: payload.length, received: Date.now(), query, ...patch,
  });
  const rows = () => screen.queryAllByTestId('monitor-row').map((el) => el.querySelector('.p')?.textContent ?? '');

  async function watchingMarket() {
    const started = await startedApp({
      answers: {
        // As the engine answers: a query with an open parenthesis is refused where it ends.
        setMonitorQuery: async (_server: string, filter: string) => {
          if (filter.includes('(') && !filter.includes(')')) {
            throw JSON.stringify({ field: 'filter', column: filter.length + 1, message: `jq expression, column ${filter.length + 1}: expected \`)\` to match the \`(\` at column 7 but found the end of the expression` });
          }
          return { generation: 7, rejudged: [] };
        },
      },
    });
    await started.session.watch('market');
    started.shell.push(judged('{"type":"ticker","price":1}'));
    await waitFor(() => expect(rows()).toHaveLength(1));
    return started;
  }

  test('the engine judges each item; the log shows what it keeps, and a map shows what it yields', async () => {
    const { shell } = await watchingMarket();
    await fireEvent.click(screen.getByTestId('monitor-mode-jq'));
    expect(screen.queryByTestId('monitor-filter')).toBeNull();
    await fireEvent.input(screen.getByTestId('monitor-jq-filter'), { target: { value: '.type == "ticker"' } });
    await fireEvent.input(screen.getByTestId('monitor-jq-map'), { target: { value: '.price' } });
    await fireEvent.keyDown(screen.getByTestId('monitor-jq-map'), { key: 'Enter' });
    await waitFor(() => expect(shell.called('setMonitorQuery').at(-1)).toEqual([BUILTIN, '.type == "ticker"', '.price']));
    // Judged before the query was set: not shown under it.
    await waitFor(() => expect(screen.getByText(/Nothing matches the query yet/)).toBeTruthy());
    shell.push(
      judged('{"type":"ticker","price":101.5}', { generation: 7, keep: true, shown: ['101.5'] }),
      judged('{"type":"trade","price":3}', { generation: 7, keep: false }),
      judged('{"type":"ticker"}', { generation: 7, keep: true, shown: [] }),
    );
    await waitFor(() => expect(rows()).toEqual(['101.5', 'no output']));
    // Back to text: the engine stops judging, and the whole log shows again.
    await fireEvent.click(screen.getByTestId('monitor-mode-text'));
    await waitFor(() => expect(shell.called('setMonitorQuery').at(-1)).toEqual([BUILTIN, '', '']));
    await waitFor(() => expect(rows()).toHaveLength(4));
  });

  test('a bad expression is shown in its field with where it failed, and the query in force stays', async () => {
    const { shell } = await watchingMarket();
    await fireEvent.click(screen.getByTestId('monitor-mode-jq'));
    const filter = screen.getByTestId('monitor-jq-filter');
    await fireEvent.input(filter, { target: { value: '.price > 2' } });
    await fireEvent.keyDown(filter, { key: 'Enter' });
    shell.push(judged('{"price":5}', { generation: 7, keep: true }));
    await waitFor(() => expect(rows()).toEqual(['{"price":5}']));
    await fireEvent.input(filter, { target: { value: 'select(.price > 2' } });
    await fireEvent.keyDown(filter, { key: 'Enter' });
    const error = await screen.findByTestId('monitor-jq-error');
    expect(error.textContent).toContain('Filter, column 18: expected `)` to match the `(` at column 7');
    expect(error.textContent).toContain('The previous query still applies.');
    // The caret sits under the column.
    expect(error.querySelector('pre')?.textContent).toBe(`select(.price > 2\n${' '.repeat(17)}^`);
    expect(filter.getAttribute('aria-invalid')).toBe('true');
    expect(rows()).toEqual(['{"price":5}']);
    await fireEvent.input(filter, { target: { value: 'select(.price > 2)' } });
    await fireEvent.keyDown(filter, { key: 'Enter' });
    await waitFor(() => expect(screen.queryByTestId('monitor-jq-error')).toBeNull());
  });

  test('says how many items the filter failed on', async () => {
    const { shell, session } = await watchingMarket();
    await fireEvent.click(screen.getByTestId('monitor-mode-jq'));
    await fireEvent.input(screen.getByTestId('monitor-jq-filter'), { target: { value: '.a.b' } });
    await fireEvent.keyDown(screen.getByTestId('monitor-jq-filter'), { key: 'Enter' });
    await waitFor(() => expect(session.monitor.jq.generation).toBe(7));
    shell.push(judged('plain', { generation: 7, keep: false, error: 'jq: cannot index string with "a"' }));
    session.monitor.tick();
    expect((await screen.findByTestId('monitor-jq-failed')).textContent).toContain('The filter failed on 1 item, hidden: jq: cannot index string with "a"');
  });

  test('a binary item shows as hex in its row and as its decoded value in the details', async () => {
    const { shell } = await startedApp({
      answers: {
        decodeBinary: async () => ({
          size: 4, hex: '00000000  81 a1 61 01  |..a.|\n', hex_omitted: 0,
          decoded: [{ format: 'messagepack', json: '{"a": 1}' }],
        }),
      },
    });
    await fireEvent.click(screen.getByTestId('add-channel'));
    const input = screen.getByTestId('watch-input');
    await fireEvent.input(input, { target: { value: 'market' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    shell.push(judged('gaFhAQ==', undefined, { binary: true, size: 4 }));
    await waitFor(() => expect(rows()).toEqual(['⟨binary 4 B⟩ 81 a1 61 01']));
    await fireEvent.click(screen.getByTestId('monitor-row'));
    await waitFor(() => expect(shell.called('decodeBinary')).toEqual([['gaFhAQ==']]));
    const detail = screen.getByTestId('monitor-detail');
    await waitFor(() => expect(detail.textContent).toContain('MessagePack'));
    expect(screen.getByTestId('binary-messagepack').getAttribute('aria-pressed')).toBe('true');
    await fireEvent.click(screen.getByTestId('binary-hex'));
    expect(screen.getByTestId('binary-dump').textContent).toContain('81 a1 61 01');
  });
});

describe('keyboard', () => {
  test('Ctrl+K opens the quick switcher and Esc closes it', async () => {
    await startedApp();
    await fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
    const input = await screen.findByTestId('switcher-input');
    await fireEvent.keyDown(input, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByTestId('switcher-input')).toBeNull());
  });

  test('the quick switcher joins a new room by name', async () => {
    const { shell } = await startedApp();
    await fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
    const input = await screen.findByTestId('switcher-input');
    await fireEvent.input(input, { target: { value: 'deploys' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(shell.called('enter')).toContainEqual([BUILTIN, 'deploys']));
  });
});

describe('server profiles', () => {
  test('adding a server saves it with the store plugin and connects to it', async () => {
    const { shell } = await startedApp();
    await fireEvent.click(screen.getByTestId('open-profiles'));
    await fireEvent.click(await screen.findByTestId('profile-add'));
    await fireEvent.input(screen.getByTestId('profile-name'), { target: { value: 'staging' } });
    await fireEvent.input(screen.getByTestId('profile-url'), { target: { value: 'not a url' } });
    await fireEvent.click(screen.getByTestId('profile-save'));
    expect((await screen.findByRole('alert')).textContent).toMatch(/should start with http/);
    await fireEvent.input(screen.getByTestId('profile-url'), { target: { value: 'http://127.0.0.1:7999' } });
    await fireEvent.click(screen.getByTestId('profile-save'));
    await waitFor(() => expect(shell.called('saveProfiles')).toHaveLength(1));
    expect(shell.saved().map((p) => [p.name, p.url])).toEqual([['staging', 'http://127.0.0.1:7999']]);
    await fireEvent.click(screen.getByTestId('profile-connect'));
    await waitFor(() => expect(shell.called('connect')).toHaveLength(2));
    expect(shell.called('connect')[1][0]).toBe('http://127.0.0.1:7999');
    expect((shell.called('connect')[1][1] as { url: string }).url).toBe('http://127.0.0.1:7999');
    expect((screen.getByTestId('server-switch') as HTMLSelectElement).value).toBe('staging');
  });

  test("the built-in server's address and launch secret are shown and copied for the user's scripts", async () => {
    const { shell } = await startedApp();
    await fireEvent.click(screen.getByTestId('open-profiles'));
    expect((await screen.findByTestId('builtin-token')).textContent).toBe('launch-secret');
    expect(screen.getByTestId('builtin-publish-url').textContent).toBe('http://127.0.0.1:40124/publish/');
    await fireEvent.click(screen.getByTestId('copy-token'));
    await waitFor(() => expect(shell.called('copyText')).toEqual([['launch-secret']]));
    expect((await screen.findByTestId('notice')).textContent).toContain('Secret copied');
  });

  test('a server that cannot be reached says so in words', async () => {
    const shell = fakeBackend({ answers: { connect: () => Promise.reject(new Error("Can't reach 10.0.0.5:7999 — the server may be down.")) } });
    const workspace = new Workspace(shell.backend);
    render(App, { props: { workspace } });
    await workspace.start();
    expect((await screen.findByTestId('notice')).textContent).toContain("Can't reach 10.0.0.5:7999");
    expect(text('conn-status')).toBe('Offline');
  });
});

describe('the deployment view', () => {
  const snapshot = (connections: number, lobby: number) =>
    JSON.stringify({
      instance: '0', at_ms: Date.now(), connections, connections_by_type: { ws: connections, http: 0 },
      channels: [{ channel: 'lobby', subscribers: lobby }], channels_truncated: false,
      messages_per_second: { received: 0, sent: 0 }, messages_total: { received: 0, sent: 0 }, stale: false,
    });
  const item = (payload: string): ClientEvent => ({
    kind: 'raw', channel: '$pushpin', id: 1, ts: Date.now(), payload, binary: false, size: payload.length, received: Date.now(),
  });

  test("watches the server's $pushpin channel and shows each instance's figures, not in the monitor", async () => {
    const { shell } = await startedApp();
    await fireEvent.click(screen.getByTestId('deployment'));
    expect(shell.called('watch')).toEqual([[BUILTIN, '$pushpin']]);
    shell.push(item(snapshot(4, 3)));
    expect(await screen.findByTestId('connections-0')).toBeTruthy();
    expect(text('connections-0')).toBe('4');
    expect(text('subscribers-0-lobby')).toBe('3');
    // The monitor has no $pushpin channel: the figures are the view's own.
    expect(screen.queryByTestId('channel-$pushpin')).toBeNull();
    // Opening it again does not ask twice.
    await fireEvent.click(screen.getByTestId('deployment'));
    expect(shell.called('watch')).toHaveLength(1);
  });

  test("says why when the server keeps its figures closed", async () => {
    const { shell } = await startedApp();
    await fireEvent.click(screen.getByTestId('deployment'));
    shell.push({
      kind: 'error', code: 'forbidden', room: null, suggestion: null,
      message: '`$pushpin` (Pushpin\'s statistics) is closed on this server: the operator opens it with pushpin_stats_open',
    });
    expect(await screen.findByText(/does not share Pushpin's statistics/)).toBeTruthy();
    expect(screen.getByText(/pushpin_stats_open/)).toBeTruthy();
  });
});
