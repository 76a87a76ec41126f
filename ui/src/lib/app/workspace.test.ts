import { afterEach, describe, expect, test } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import App from '../../App.svelte';
import { Workspace } from './workspace.svelte';
import { builtinProfile, connected, fakeBackend } from '../backend/testing';
import type { ClientEvent, Profile, SearchHit } from '../backend';

afterEach(() => cleanup());

const BUILTIN = 'builtin:';
const STAGING = 'http://10.0.0.5:7999';
const staging: Profile = { ...builtinProfile, name: 'staging', url: `${STAGING}/` };

const said = (room: string, id: number, user: string, comment: string): ClientEvent => ({
  kind: 'message', room, id, user, comment, ts: Date.now(), cid: null, own: false,
});
const lines = () => screen.queryAllByTestId('chat-line').map((l) => l.textContent ?? '');

/** The app on "This computer", then "staging" connected beside it from the Servers dialog. */
async function twoServers(answers = {}) {
  const shell = fakeBackend({ saved: [staging], answers });
  const workspace = new Workspace(shell.backend);
  render(App, { props: { workspace } });
  await workspace.start();
  shell.pushTo(BUILTIN, connected({ server: 'This computer' }), { kind: 'server', nick: 'bob', server: 'tack', resume: true, acks: true, epoch: 'a' }, { kind: 'joined', room: 'lobby' });
  await fireEvent.click(screen.getByTestId('open-profiles'));
  await fireEvent.click(await screen.findByTestId('profile-toggle-staging'));
  await waitFor(() => expect(workspace.servers).toHaveLength(2));
  await fireEvent.keyDown(window, { key: 'Escape' });
  shell.pushTo(STAGING, connected({ server: 'staging' }), { kind: 'server', nick: 'bob', server: 'tack', resume: true, acks: true, epoch: 'b' }, { kind: 'joined', room: 'lobby' });
  return { shell, workspace, here: workspace.server(BUILTIN)!, there: workspace.server(STAGING)! };
}

describe('several servers at once', () => {
  test('connecting a second profile keeps the first; each is named by its key in every command', async () => {
    const { shell, workspace } = await twoServers();
    expect(workspace.servers.map((s) => s.name)).toEqual(['This computer', 'staging']);
    // The key is the address without its trailing slash, as the history keys it.
    expect(shell.called('connect').map((args) => args[0])).toEqual([BUILTIN, STAGING]);
    expect(shell.called('enter')).toEqual([[BUILTIN, 'lobby'], [STAGING, 'lobby']]);
    expect(shell.called('disconnect')).toEqual([]);
    expect(screen.getByTestId('profile-toggle-staging')).toBeTruthy();
  });

  test("a message from one server never reaches the other's room of the same name", async () => {
    const { shell, here, there } = await twoServers();
    shell.pushTo(STAGING, said('lobby', 1, 'ann', 'deploy is green on staging'));
    shell.pushTo(BUILTIN, said('lobby', 1, 'carol', 'hello from this computer'));
    await waitFor(() => expect(there.rooms.get('lobby')!.items).toHaveLength(1));
    const comments = (s: typeof here) => s.rooms.get('lobby')!.items.map((i) => ('comment' in i ? i.comment : ''));
    expect(comments(there)).toEqual(['deploy is green on staging']);
    expect(comments(here)).toEqual(['hello from this computer']);
    // The window shows the focused server's lobby (staging, connected last), unread counts the other's.
    await waitFor(() => expect(lines().join()).toContain('deploy is green on staging'));
    expect(lines().join()).not.toContain('hello from this computer');
    const group = screen.getByTestId('server-group-This computer');
    expect(within(group).getByTestId('unread-lobby').textContent).toBe('1');
  });

  test('the sidebar groups rooms and channels under their server, and a click turns the window to it', async () => {
    const { here, there, workspace } = await twoServers();
    await there.joinRoom('deploys');
    await there.watch('orders');
    const mine = within(screen.getByTestId('server-group-This computer'));
    const theirs = within(screen.getByTestId('server-group-staging'));
    expect(theirs.getByTestId('room-deploys')).toBeTruthy();
    expect(theirs.getByTestId('channel-orders')).toBeTruthy();
    expect(mine.queryByTestId('room-deploys')).toBeNull();
    expect(mine.queryByTestId('channel-orders')).toBeNull();
    await fireEvent.click(mine.getByTestId('room-lobby'));
    expect(workspace.focused).toBe(here);
    expect(mine.getByTestId('room-lobby').getAttribute('aria-current')).toBe('page');
    // Staging's open channel is not marked while the window shows another server.
    expect(theirs.getByTestId('channel-orders').getAttribute('aria-current')).toBeNull();
  });

  test('the bar shows the focused server in full and each other one as a dot with words', async () => {
    const { shell, here } = await twoServers();
    await waitFor(() => expect(screen.getByTestId('conn-server').textContent).toBe('staging'));
    shell.pushTo(BUILTIN, connected({ status: 'reconnecting', attempt: 1, retry_at: Date.now() + 8_000, rtt_ms: null, reason: 'connection lost' }));
    const other = await screen.findByTestId('server-state-This computer');
    await waitFor(() => expect(other.dataset.status).toBe('reconnecting'));
    expect(other.textContent).toMatch(/This computer: Reconnecting/);
    expect(within(other).getByTestId('server-dot-This computer').getAttribute('title')).toMatch(/^This computer: Reconnecting/);
    expect(screen.getByTestId('conn-status').textContent).toBe('Connected');
    // Clicking it turns the bar to that server.
    await fireEvent.click(other);
    await waitFor(() => expect(screen.getByTestId('conn-server').textContent).toBe('This computer'));
    expect(screen.getByTestId('conn-status').textContent).toMatch(/Reconnecting/);
    expect(screen.getByTestId('server-state-staging').dataset.status).toBe('connected');
    expect(here.focused).toBe(true);
  });

  test('Ctrl+K jumps to a room on any server, saying whose it is', async () => {
    const { here, workspace } = await twoServers();
    await here.joinRoom('ops');
    await workspace.connect(staging);
    await fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
    await fireEvent.input(screen.getByTestId('switcher-input'), { target: { value: 'ops' } });
    const option = await screen.findByRole('option', { name: /# ops.*room · This computer/ });
    await fireEvent.click(within(option).getByRole('button'));
    expect(workspace.focused).toBe(here);
    expect(here.view).toEqual({ kind: 'room', name: 'ops' });
  });

  test('disconnecting one server leaves the other connected and shown', async () => {
    const { shell, workspace, there } = await twoServers();
    await fireEvent.click(screen.getByTestId('open-profiles'));
    await fireEvent.click(await screen.findByTestId('profile-toggle-This computer'));
    await waitFor(() => expect(shell.called('disconnect')).toEqual([[BUILTIN]]));
    expect(workspace.servers).toEqual([there]);
    expect(screen.queryByTestId('server-group-This computer')).toBeNull();
    expect(screen.getByTestId('conn-server').textContent).toBe('staging');
  });

  test('a mention names its server when several are connected', async () => {
    const { shell, workspace } = await twoServers();
    workspace.windowFocused = false;
    shell.pushTo(STAGING, said('lobby', 2, 'ann', 'bob: look at this'));
    await waitFor(() => expect(shell.called('notify')).toEqual([['ann in #lobby on staging', 'bob: look at this']]));
  });

  test("a search hit on a server that is not connected connects it and jumps to the hit's room", async () => {
    const hit: SearchHit = {
      key: 9, server: STAGING, server_name: 'staging', target: { type: 'room', name: 'ops' }, id: 4, at: 1_700_000_000_000,
      nick: 'ann', snippet: [{ text: 'rollback', matched: true }],
    };
    const shell = fakeBackend({
      saved: [staging],
      answers: {
        search: async () => [hit],
        searchContext: async () => [{ key: 9, epoch: 'b', event: said('ops', 4, 'ann', 'rollback done') }],
      },
    });
    const workspace = new Workspace(shell.backend);
    render(App, { props: { workspace } });
    await workspace.start();
    await fireEvent.keyDown(window, { key: 'F', ctrlKey: true, shiftKey: true });
    const input = await screen.findByTestId('search-input');
    await fireEvent.input(input, { target: { value: 'rollback' } });
    await waitFor(() => expect(screen.getByTestId('search-hit').textContent).toContain('staging · #ops'));
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(workspace.focused?.key).toBe(STAGING));
    expect(shell.called('connect').map((args) => args[0])).toEqual([BUILTIN, STAGING]);
    await waitFor(() => expect(shell.called('enter')).toContainEqual([STAGING, 'ops']));
    const ops = workspace.focused!.rooms.get('ops')!;
    await waitFor(() => expect(ops.highlighted).not.toBeNull());
    expect(workspace.server(BUILTIN)!.rooms.get('ops')).toBeUndefined();
  });
});
