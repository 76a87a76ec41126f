import { describe, expect, test } from 'vitest';
import { Rooms } from './rooms.svelte';
import { groupChat, mentions } from './grouping';
import type { ChatMessage } from './room.svelte';
import type { ClientEvent } from '../backend';

const msg = (id: number, user: string, comment: string, ts = 1_000_000): ClientEvent => ({
  kind: 'message', room: 'lobby', id, user, comment, ts, cid: null, own: false,
});

function joinedLobby() {
  const rooms = new Rooms();
  rooms.apply({ kind: 'joined', room: 'lobby' }, 'lobby', 'bob');
  rooms.apply({ kind: 'presence', room: 'lobby', viewers: 1, users: ['bob'] }, 'lobby', 'bob');
  return rooms;
}

describe('a room', () => {
  test('someone entering shows inline with the new viewer count, leaving brings it back', () => {
    const rooms = joinedLobby();
    rooms.apply({ kind: 'entered', room: 'lobby', id: 1, user: 'carol', viewers: 2, ts: 1 }, 'lobby', 'bob');
    const lobby = rooms.get('lobby')!;
    expect(lobby.viewers).toBe(2);
    expect(lobby.memberNames).toEqual(['bob', 'carol']);
    rooms.apply({ kind: 'left', room: 'lobby', id: 2, user: 'carol', viewers: 1, ts: 2 }, 'lobby', 'bob');
    expect(lobby.viewers).toBe(1);
    expect(lobby.memberNames).toEqual(['bob']);
    expect(lobby.items.map((i) => i.kind)).toEqual(['entered', 'left']);
  });

  test('a nick change shows inline and the member list follows it', () => {
    const rooms = joinedLobby();
    rooms.apply({ kind: 'entered', room: 'lobby', id: 1, user: 'carol', viewers: 2, ts: 1 }, 'lobby', 'bob');
    rooms.apply({ kind: 'nickChanged', room: 'lobby', id: 2, user: 'carol', nick: 'caro', ts: 2 }, 'lobby', 'bob');
    const lobby = rooms.get('lobby')!;
    expect(lobby.memberNames).toEqual(['bob', 'caro']);
    expect(lobby.viewers).toBe(2);
    const renamed = lobby.items.at(-1)!;
    expect(renamed).toMatchObject({ kind: 'renamed', user: 'carol', nick: 'caro' });
  });

  test('my message goes pending → sent and shows once although the server echoes it', () => {
    const rooms = joinedLobby();
    rooms.apply({ kind: 'send', cid: 'c1', room: 'lobby', comment: 'hi', state: 'pending' }, 'lobby', 'bob');
    const lobby = rooms.get('lobby')!;
    expect((lobby.items[0] as ChatMessage).status).toBe('pending');
    rooms.apply({ kind: 'message', room: 'lobby', id: 7, user: 'bob', comment: 'hi', ts: 5, cid: 'c1', own: true }, 'lobby', 'bob');
    rooms.apply({ kind: 'send', cid: 'c1', room: 'lobby', comment: 'hi', state: 'sent', id: 7 }, 'lobby', 'bob');
    expect(lobby.items).toHaveLength(1);
    expect(lobby.items[0]).toMatchObject({ status: 'sent', id: 7, own: true });
  });

  test('the echo of my message that overtakes its pending event still shows once, as sent', () => {
    const rooms = joinedLobby();
    rooms.apply({ kind: 'message', room: 'lobby', id: 3, user: 'bob', comment: 'quick', ts: 5, cid: 'c9', own: true }, 'lobby', 'bob');
    rooms.apply({ kind: 'send', cid: 'c9', room: 'lobby', comment: 'quick', state: 'pending' }, 'lobby', 'bob');
    rooms.apply({ kind: 'send', cid: 'c9', room: 'lobby', comment: 'quick', state: 'sent', id: 3 }, 'lobby', 'bob');
    expect(rooms.get('lobby')!.items).toHaveLength(1);
    expect(rooms.get('lobby')!.items[0]).toMatchObject({ status: 'sent', id: 3, comment: 'quick' });
  });

  test('the same words from someone else are their message, not my echo', () => {
    const rooms = joinedLobby();
    rooms.apply({ kind: 'send', cid: 'c1', room: 'lobby', comment: 'hi', state: 'pending' }, 'lobby', 'bob');
    rooms.apply({ ...msg(4, 'ann', 'hi'), cid: 'other-window' } as ClientEvent, 'lobby', 'bob');
    const lobby = rooms.get('lobby')!;
    expect(lobby.items.map((i) => [(i as ChatMessage).user, (i as ChatMessage).status])).toEqual([
      ['bob', 'pending'],
      ['ann', null],
    ]);
  });

  test('a message the server refused turns failed with the reason', () => {
    const rooms = joinedLobby();
    rooms.apply({ kind: 'send', cid: 'c2', room: 'lobby', comment: 'x', state: 'pending' }, 'lobby', 'bob');
    rooms.apply({ kind: 'send', cid: 'c2', room: 'lobby', comment: 'x', state: 'failed', reason: 'rate limited' }, 'lobby', 'bob');
    expect(rooms.get('lobby')!.items[0]).toMatchObject({ status: 'failed', failure: 'rate limited' });
  });

  test('the gap marker sits right after the last event before the gap', () => {
    const rooms = joinedLobby();
    rooms.apply(msg(1, 'ann', 'a'), 'lobby', 'bob');
    rooms.apply(msg(9, 'ann', 'z'), 'lobby', 'bob');
    rooms.apply({ kind: 'gap', target: { type: 'room', name: 'lobby' }, after_id: 1 }, 'lobby', 'bob');
    expect(rooms.get('lobby')!.items.map((i) => i.kind)).toEqual(['message', 'gap', 'message']);
  });

  // Regression: a restarted server numbers the room from 1 again; the window hid those
  // messages as "already shown" because their ids matched old ones.
  test('after a gap, a renumbered room shows its new messages', () => {
    const rooms = joinedLobby();
    rooms.apply(msg(1, 'ann', 'before 1'), 'lobby', 'bob');
    rooms.apply(msg(2, 'ann', 'before 2'), 'lobby', 'bob');
    rooms.apply({ kind: 'gap', target: { type: 'room', name: 'lobby' }, after_id: 2 }, 'lobby', 'bob');
    rooms.apply(msg(1, 'ann', 'after 1'), 'lobby', 'bob');
    expect(rooms.get('lobby')!.items.filter((i) => i.kind === 'message').map((i) => (i as ChatMessage).comment)).toEqual([
      'before 1',
      'before 2',
      'after 1',
    ]);
  });

  test('messages in rooms I am not looking at count as unread', () => {
    const rooms = joinedLobby();
    rooms.apply({ kind: 'joined', room: 'ops' }, 'lobby', 'bob');
    rooms.apply({ ...msg(1, 'ann', 'x'), room: 'ops' } as ClientEvent, 'lobby', 'bob');
    rooms.apply(msg(2, 'ann', 'y'), 'lobby', 'bob');
    expect(rooms.get('ops')!.unread).toBe(1);
    expect(rooms.get('lobby')!.unread).toBe(0);
  });

  test('a message naming me is a mention; my own is not', () => {
    const rooms = joinedLobby();
    expect(rooms.apply(msg(1, 'ann', 'hey Bob, deploy?'), 'lobby', 'bob').mention).toEqual({
      room: 'lobby', user: 'ann', comment: 'hey Bob, deploy?',
    });
    expect(rooms.apply(msg(2, 'ann', 'bobcat'), 'lobby', 'bob').mention).toBeNull();
    expect(mentions('@bob look', 'bob')).toBe(true);
  });

  test('leaving removes the room from the sidebar', () => {
    const rooms = joinedLobby();
    rooms.apply({ kind: 'parted', room: 'lobby' }, null, 'bob');
    expect(rooms.list).toHaveLength(0);
  });
});

describe('chat grouping', () => {
  test('one sender within one minute is one block; enter events break blocks', () => {
    const rooms = joinedLobby();
    rooms.apply(msg(1, 'ann', 'a', 60_000), 'lobby', 'bob');
    rooms.apply(msg(2, 'ann', 'b', 60_500), 'lobby', 'bob');
    rooms.apply(msg(3, 'ann', 'c', 121_000), 'lobby', 'bob');
    rooms.apply({ kind: 'entered', room: 'lobby', id: 4, user: 'carol', viewers: 2, ts: 121_100 }, 'lobby', 'bob');
    rooms.apply(msg(5, 'ann', 'd', 121_200), 'lobby', 'bob');
    const blocks = groupChat(rooms.get('lobby')!.items);
    expect(blocks.map((b) => (b.kind === 'group' ? b.messages.length : b.kind))).toEqual([2, 1, 'presence', 1]);
  });
});

describe('gaps', () => {
  test("a room's gap marks that room; a channel's gap of the same name never does", () => {
    const rooms = joinedLobby();
    rooms.apply(msg(1, 'ann', 'before'), 'lobby', 'bob');
    rooms.apply({ kind: 'gap', target: { type: 'channel', name: 'lobby' }, after_id: 1 }, 'lobby', 'bob');
    const lobby = rooms.get('lobby')!;
    expect(lobby.items.map((i) => i.kind)).toEqual(['message']);
    rooms.apply({ kind: 'gap', target: { type: 'room', name: 'lobby' }, after_id: 1 }, 'lobby', 'bob');
    expect(lobby.items.map((i) => i.kind)).toEqual(['message', 'gap']);
  });
});
