//! The rooms this window is in, in the order they were joined, and routing of the engine's chat
//! events to them. Knows nothing about Tauri: actions go through the backend elsewhere.

import type { ClientEvent } from '../backend';
import { Room } from './room.svelte';
import { mentions } from './grouping';

/** What a chat event meant for the user, so the app can notify or count. */
export interface ChatOutcome {
  /** A new message from someone else mentions our nick. */
  mention: { room: string; user: string; comment: string } | null;
}

export class Rooms {
  list = $state<Room[]>([]);
  /** The server's numbering of live events (from its welcome): every room counts in it. */
  #epoch: string | null = null;

  get epoch(): string | null {
    return this.#epoch;
  }

  set epoch(epoch: string | null) {
    this.#epoch = epoch;
    for (const room of this.list) room.epoch = epoch;
  }

  get(name: string): Room | undefined {
    return this.list.find((r) => r.name === name);
  }

  /** The room, added to the sidebar if it is not there yet. */
  ensure(name: string): Room {
    let room = this.get(name);
    if (!room) {
      room = new Room(name);
      room.epoch = this.#epoch;
      this.list.push(room);
      // The pushed value is wrapped by the list's state; hand out the stored one.
      room = this.list[this.list.length - 1];
    }
    return room;
  }

  remove(name: string): void {
    this.list = this.list.filter((r) => r.name !== name);
  }

  clear(): void {
    this.list = [];
  }

  /**
   * Applies one engine event. `active` is the room the user is looking at (no unread badge for
   * it), `nick` is ours (for mentions and own-message attribution).
   */
  apply(e: ClientEvent, active: string | null, nick: string | null): ChatOutcome {
    const outcome: ChatOutcome = { mention: null };
    switch (e.kind) {
      case 'joined':
        this.ensure(e.room).joined = true;
        break;
      case 'parted':
        this.remove(e.room);
        break;
      case 'message': {
        const room = this.ensure(e.room);
        const fresh = room.message(e);
        if (fresh && !e.own) {
          if (e.room !== active) room.unread++;
          if (mentions(e.comment, nick) && e.user !== nick) {
            outcome.mention = { room: e.room, user: e.user, comment: e.comment };
          }
        }
        break;
      }
      case 'send':
        this.ensure(e.room).outbox(
          e.cid,
          e.comment,
          e.state,
          nick ?? 'you',
          e.state === 'sent' ? { id: e.id } : e.state === 'failed' ? { reason: e.reason } : {},
        );
        break;
      case 'entered':
        this.get(e.room)?.entered(e);
        break;
      case 'left':
        this.get(e.room)?.left(e);
        break;
      case 'nickChanged':
        this.get(e.room)?.renamed(e);
        break;
      case 'presence':
        this.get(e.room)?.presence(e.viewers, e.users);
        break;
      case 'gap':
        // A channel's gap is the monitor's, even where a room has the same name.
        if (e.target.type === 'room') this.get(e.target.name)?.gap(e.after_id);
        break;
    }
    return outcome;
  }
}
