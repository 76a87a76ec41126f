import { afterEach, describe, expect, test, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import App from '../../App.svelte';
import { Workspace } from '../app/workspace.svelte';
import { connected, fakeBackend } from '../backend/testing';
import type { ClientEvent, HistoryEvent, SearchHit } from '../backend';
import type { ChatMessage } from '../rooms/room.svelte';
import { Rooms } from '../rooms/rooms.svelte';
import { Search } from './search.svelte';

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

const said = (room: string, id: number, user: string, comment: string): ClientEvent => ({
  kind: 'message', room, id, user, comment, ts: 1_700_000_000_000 + id, cid: null, own: false,
});
const stored = (epoch: string, event: ClientEvent, key = Math.floor(Math.random() * 1e9)): HistoryEvent => ({ key, epoch, event });
const comments = (rooms: Rooms, room: string) =>
  rooms.get(room)!.items.filter((i) => i.kind === 'message').map((i) => (i as ChatMessage).comment);

describe('a room with stored history', () => {
  test('shows what was stored, then what the server replays, each once', () => {
    const rooms = new Rooms();
    rooms.epoch = 'e1';
    const lobby = rooms.ensure('lobby');
    lobby.restore([stored('e1', said('lobby', 1, 'ann', 'stored 1')), stored('e1', said('lobby', 2, 'ann', 'stored 2'))]);
    // The server's replay overlaps what was stored by one.
    for (const e of [said('lobby', 2, 'ann', 'stored 2'), said('lobby', 3, 'bob', 'while closed')]) rooms.apply(e, 'lobby', 'me');
    expect(comments(rooms, 'lobby')).toEqual(['stored 1', 'stored 2', 'while closed']);
  });

  test('history arriving after the live replay still goes before it, without repeats', () => {
    const rooms = new Rooms();
    rooms.epoch = 'e1';
    rooms.ensure('lobby');
    rooms.apply(said('lobby', 3, 'bob', 'live'), 'lobby', 'me');
    rooms.get('lobby')!.restore([stored('e1', said('lobby', 2, 'ann', 'old')), stored('e1', said('lobby', 3, 'bob', 'live'))]);
    expect(comments(rooms, 'lobby')).toEqual(['old', 'live']);
  });

  test('the same id in a new numbering (the server restarted) is a new message', () => {
    const rooms = new Rooms();
    rooms.epoch = 'e2';
    rooms.ensure('lobby').restore([
      stored('e1', said('lobby', 1, 'ann', 'last run')),
      stored('e2', { kind: 'gap', target: { type: 'room', name: 'lobby' }, after_id: null }),
    ]);
    rooms.apply(said('lobby', 1, 'bob', 'this run'), 'lobby', 'me');
    expect(comments(rooms, 'lobby')).toEqual(['last run', 'this run']);
    expect(rooms.get('lobby')!.items.map((i) => i.kind)).toEqual(['message', 'gap', 'message']);
  });
});

describe('the app reopened', () => {
  test('reopens the rooms and channels open at the last close, each showing its stored history first', async () => {
    const shell = fakeBackend({
      answers: {
        openPlaces: async () => [
          { type: 'room', name: 'ops' },
          { type: 'channel', name: 'orders' },
        ],
        history: async (_server, target) =>
          target.type === 'room' && target.name === 'ops' ? [stored('e1', said('ops', 7, 'ann', 'deploy is green'))] : [],
      },
    });
    const workspace = new Workspace(shell.backend);
    await workspace.start();
    const session = workspace.focused!;
    expect(shell.called('enter')).toEqual([['builtin:', 'lobby'], ['builtin:', 'ops']]);
    expect(shell.called('watch')).toEqual([['builtin:', 'orders']]);
    expect(comments(session.rooms, 'ops')).toEqual(['deploy is green']);
    // Shown before the server said anything, and entered only after it was shown.
    const order = shell.calls.map((c) => `${c.method}:${JSON.stringify(c.args[1])}`);
    expect(order.indexOf('history:{"type":"room","name":"ops"}')).toBeLessThan(order.indexOf('enter:"ops"'));
  });
});

describe('search', () => {
  const hit = (over: Partial<SearchHit> = {}): SearchHit => ({
    key: 41, server: 'builtin:', server_name: 'This computer', target: { type: 'room', name: 'ops' }, id: 7, at: 1_700_000_000_000,
    nick: 'ann', snippet: [{ text: 'the ', matched: false }, { text: 'lamp', matched: true }, { text: ' is red', matched: false }], ...over,
  });

  test('searches once typing pauses, and only the last answer counts', async () => {
    vi.useFakeTimers();
    const asked: string[] = [];
    const search = new Search(async (q) => {
      asked.push(q);
      return [hit()];
    });
    search.typed('la');
    search.typed('lam');
    search.typed('lamp');
    await vi.advanceTimersByTimeAsync(200);
    expect(asked).toEqual(['lamp']);
    expect(search.hits).toHaveLength(1);
  });

  test('Ctrl+Shift+F opens it; a bad query shows the parser’s words; Enter jumps to the hit, loading its context', async () => {
    const shell = fakeBackend({
      answers: {
        search: async (q) => {
          if (q.includes('"')) throw new Error('a quote opened at character 1 is never closed');
          return [hit()];
        },
        searchContext: async () => [stored('e1', said('ops', 6, 'bob', 'before')), stored('e1', said('ops', 7, 'ann', 'the lamp is red'), 41)],
      },
    });
    const workspace = new Workspace(shell.backend);
    render(App, { props: { workspace } });
    await workspace.start();
    const session = workspace.focused!;
    shell.push(connected(), { kind: 'server', nick: 'me', server: 'tack/0.1.0', resume: true, acks: true, epoch: 'e1' });
    await fireEvent.keyDown(window, { key: 'F', ctrlKey: true, shiftKey: true });
    const input = await screen.findByTestId('search-input');
    await fireEvent.input(input, { target: { value: '"lamp' } });
    await waitFor(() => expect(screen.getByTestId('search-error').textContent).toContain('never closed'));
    await fireEvent.input(input, { target: { value: 'lamp' } });
    await waitFor(() => expect(screen.getByTestId('search-hit').textContent).toContain('#ops'));
    expect(screen.getByTestId('search-hit').querySelector('mark')?.textContent).toBe('lamp');
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(session.view).toEqual({ kind: 'room', name: 'ops' }));
    const ops = session.rooms.get('ops')!;
    await waitFor(() => expect(ops.highlighted).not.toBeNull());
    expect((ops.items.find((i) => i.key === ops.highlighted) as ChatMessage).comment).toBe('the lamp is red');
    expect(shell.called('searchContext')).toEqual([[41, 30, 30]]);
  });
});

describe('settings', () => {
  test('the profiles dialog shows the store’s size and forgets everything only once confirmed', async () => {
    const shell = fakeBackend();
    const workspace = new Workspace(shell.backend);
    render(App, { props: { workspace } });
    await workspace.start();
    await fireEvent.click(screen.getByTestId('open-profiles'));
    await waitFor(() => expect(screen.getByTestId('store-size').textContent).toContain('3 MB of 1,024 MB'));
    await fireEvent.click(screen.getByTestId('forget-history'));
    expect(shell.called('forgetHistory')).toEqual([]);
    await fireEvent.click(screen.getByTestId('forget-confirm'));
    await waitFor(() => expect(shell.called('forgetHistory')).toEqual([[]]));
  });

  test('the size cap is a choice: picking 256 MB asks the shell and shows the new cap', async () => {
    const shell = fakeBackend();
    const workspace = new Workspace(shell.backend);
    render(App, { props: { workspace } });
    await workspace.start();
    await fireEvent.click(screen.getByTestId('open-profiles'));
    const cap = (await screen.findByTestId('history-cap')) as HTMLSelectElement;
    await waitFor(() => expect(cap.value).toBe(String(1024 * 1024 * 1024)));
    await fireEvent.change(cap, { target: { value: String(256 * 1024 * 1024) } });
    await waitFor(() => expect(shell.called('setHistoryCap')).toEqual([[256 * 1024 * 1024]]));
    await waitFor(() => expect(screen.getByTestId('store-size').textContent).toContain('3 MB of 256 MB'));
  });

  test('a cap the shell refuses is said, and the one in force stays', async () => {
    const shell = fakeBackend({ answers: { setHistoryCap: async () => Promise.reject(new Error('a history cap of 1 bytes is outside what it may be')) } });
    const workspace = new Workspace(shell.backend);
    render(App, { props: { workspace } });
    await workspace.start();
    await fireEvent.click(screen.getByTestId('open-profiles'));
    const cap = (await screen.findByTestId('history-cap')) as HTMLSelectElement;
    await fireEvent.change(cap, { target: { value: String(512 * 1024 * 1024) } });
    await waitFor(() => expect(workspace.notices.list.map((n) => n.text).join()).toContain('outside what it may be'));
    expect(screen.getByTestId('store-size').textContent).toContain('of 1,024 MB');
    expect(cap.value).toBe(String(1024 * 1024 * 1024));
  });
});
