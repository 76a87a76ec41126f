//! The window's servers: every profile can be connected at once, each in its own `Session`
//! (its own event stream, rooms, monitor and view), and one of them is focused — the one the
//! bar describes in full and the main view shows. What every server shares lives here:
//! profiles, notices, desktop notifications, search (which spans every server) and the jump to
//! a hit on any of them.

import type { Backend, BuiltinServer, Profile, SearchHit, StoreInfo } from '../backend';
import { Profiles, serverKey } from '../profiles/profiles.svelte';
import { Notices } from './notices.svelte';
import { reason, Session, type SessionHost } from './session.svelte';

export class Workspace implements SessionHost {
  readonly profiles: Profiles;
  readonly notices = new Notices();
  /** The connected servers, in the order they were connected. */
  servers = $state<Session[]>([]);
  focusedKey = $state<string | null>(null);
  /** The server the window shows; none when every server is disconnected. */
  focused = $derived(this.servers.find((s) => s.key === this.focusedKey) ?? this.servers[0] ?? null);
  /** Is the window focused? (Mentions notify only when it is not.) */
  windowFocused = true;
  readonly #backend: Backend;

  constructor(backend: Backend) {
    this.#backend = backend;
    this.profiles = new Profiles(backend);
  }

  /** First start: the initial profile, connected, in the lobby. */
  async start(): Promise<void> {
    try {
      const initial = await this.#backend.initialProfile();
      await this.profiles.load(initial);
      // The lobby and its composer show at once; the connection catches up.
      const connecting = this.connect(this.profiles.active);
      this.#shown();
      await connecting;
    } catch (e) {
      this.notices.show(`Could not start: ${reason(e)}`, 'error', 15_000);
    } finally {
      this.#shown();
    }
  }

  #shown: () => void = () => {};
  /** Settles once the first server's lobby is there to show (or the start failed). */
  readonly shown = new Promise<void>((resolve) => (this.#shown = resolve));

  /** The connected session on the server `key`. */
  server(key: string): Session | undefined {
    return this.servers.find((s) => s.key === key);
  }

  /** Is `profile`'s server connected? */
  isConnected(profile: Profile): boolean {
    return !!this.server(serverKey(profile));
  }

  /**
   * Connects `profile` beside the servers already connected, and turns the window to it. A
   * server already connected with these settings is only focused; with changed settings (the
   * profile was edited) it is connected again with the new ones.
   */
  async connect(profile: Profile): Promise<Session> {
    const key = serverKey(profile);
    const existing = this.server(key);
    if (existing && JSON.stringify(existing.profile) === JSON.stringify(profile)) {
      this.focus(existing);
      return existing;
    }
    if (existing) await this.disconnect(existing);
    const session = new Session(this.#backend, this, profile);
    this.servers.push(session);
    this.focus(session);
    await session.connect();
    return session;
  }

  /** Disconnects one server; the others stay, and the window turns to another if it showed it. */
  async disconnect(session: Session): Promise<void> {
    this.servers = this.servers.filter((s) => s.key !== session.key);
    if (this.focusedKey === session.key) this.focusedKey = this.servers[0]?.key ?? null;
    if (this.focused) this.profiles.activeName = this.focused.name;
    await session.disconnect();
  }

  isFocused(session: Session): boolean {
    return this.focused?.key === session.key;
  }

  focus(session: Session): void {
    this.focusedKey = session.key;
    this.profiles.activeName = session.name;
    // The room it shows is read now.
    if (session.view?.kind === 'room') {
      const room = session.rooms.get(session.view.name);
      if (room) room.unread = 0;
    }
  }

  mentioned(session: Session, mention: { room: string; user: string; comment: string }): void {
    if (this.windowFocused) return;
    // With one server there is only one it can be; with several, the title says which.
    const where = this.servers.length > 1 ? `#${mention.room} on ${session.name}` : `#${mention.room}`;
    void this.#backend.notify(`${mention.user} in ${where}`, mention.comment).catch(() => {});
  }

  /** Searches everything stored, every server; a mistake in the query is thrown with what to change. */
  search(query: string, limit = 50): Promise<SearchHit[]> {
    return this.#backend.search(query, limit);
  }

  /** Jumps to a search hit on its own server, connecting that server first if it is not. */
  async jumpTo(hit: SearchHit): Promise<void> {
    let session = this.server(hit.server);
    if (!session) {
      const profile = this.profiles.all.find((p) => serverKey(p) === hit.server);
      if (!profile) {
        this.notices.show(`${hit.server_name} is no longer among your servers: add it to jump there.`, 'error');
        return;
      }
      session = await this.connect(profile);
    }
    this.focus(session);
    await session.jumpTo(hit);
  }

  /** The built-in server's address and launch secret, for the user's own scripts. */
  builtinServer(): Promise<BuiltinServer> {
    return this.#backend.builtinServer();
  }

  /** Puts `text` on the clipboard; says so, or why not. */
  async copy(text: string, what: string): Promise<void> {
    try {
      await this.#backend.copyText(text);
      this.notices.show(`${what} copied`, 'info', 3_000);
    } catch (e) {
      this.notices.show(`Could not copy: ${reason(e)}`, 'error');
    }
  }

  storeInfo(): Promise<StoreInfo> {
    return this.#backend.storeInfo();
  }

  /** Sets the history's size cap; the new size and cap, or why not (as a notice) and null. */
  async setHistoryCap(maxBytes: number): Promise<StoreInfo | null> {
    try {
      return await this.#backend.setHistoryCap(maxBytes);
    } catch (e) {
      this.notices.show(`Could not change the history's size: ${e instanceof Error ? e.message : String(e)}`, 'error');
      return null;
    }
  }

  /** Removes everything stored, on every server; true once done. */
  async forgetHistory(): Promise<boolean> {
    try {
      await this.#backend.forgetHistory();
      this.notices.show('History forgotten', 'info', 3_000);
      return true;
    } catch (e) {
      this.notices.show(`Could not forget the history: ${reason(e)}`, 'error');
      return false;
    }
  }
}
