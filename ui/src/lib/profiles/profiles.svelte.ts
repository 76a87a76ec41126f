//! Server profiles: "This computer" (the built-in server, always there, not deletable), the one
//! the app was opened with (`--connect`), and the user's saved ones (store plugin).

import { BUILTIN_URL, type Backend, type Profile } from '../backend';

export const THIS_COMPUTER: Profile = {
  name: 'This computer',
  url: BUILTIN_URL,
  transport: 'auto',
  token: null,
  headers: [],
  nick: null,
  insecure_tls: false,
};

export const isBuiltin = (p: Profile) => p.url === BUILTIN_URL;

/**
 * The key a server goes by in every command, event stream and the history: the profile's
 * address without a trailing `/`, as the shell's `tack_history::server_key` makes it (the shell
 * refuses a `connect` whose key is not the profile's, so the two cannot drift unnoticed).
 * "This computer" is `builtin:`, whatever port the built-in server has this launch.
 */
export const serverKey = (p: Profile) => p.url.trim().replace(/\/+$/, '');

/** A blank profile for the "Add server" form. */
export const blankProfile = (): Profile => ({ ...THIS_COMPUTER, name: '', url: 'http://', headers: [] });

/** Why a profile cannot be saved, in words; null when it can. */
export function profileProblem(p: Profile, otherNames: string[]): string | null {
  const name = p.name.trim();
  if (!name) return 'Give the server a name, e.g. "staging".';
  if (otherNames.includes(name)) return `There is already a server called "${name}".`;
  if (!/^(https?|wss?):\/\/[^/\s]+/.test(p.url.trim())) {
    return 'The address should start with http://, https://, ws:// or wss://, e.g. http://10.0.0.5:7999';
  }
  if (p.nick && p.nick.length > 32) return 'Nicknames are at most 32 characters.';
  return null;
}

/** "Name: value" lines → header pairs. Blank lines are skipped. */
export function parseHeaders(text: string): { headers: [string, string][]; problem: string | null } {
  const headers: [string, string][] = [];
  for (const [n, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    const at = line.indexOf(':');
    if (at <= 0) return { headers, problem: `Line ${n + 1}: write headers as "Name: value".` };
    headers.push([line.slice(0, at).trim(), line.slice(at + 1).trim()]);
  }
  return { headers, problem: null };
}

export const formatHeaders = (headers: [string, string][]) => headers.map(([k, v]) => `${k}: ${v}`).join('\n');

export class Profiles {
  saved = $state<Profile[]>([]);
  /** The built-in server's profile as the shell describes it. */
  builtin = $state<Profile>({ ...THIS_COMPUTER });
  /** Opened with `--connect URL`: shown until the user saves or leaves it. */
  opened = $state<Profile | null>(null);
  /** The focused server's profile (the one the app opened on, before any is connected). */
  activeName = $state(THIS_COMPUTER.name);

  all = $derived([
    this.builtin,
    ...(this.opened && !this.saved.some((p) => p.name === this.opened!.name) ? [this.opened] : []),
    ...this.saved,
  ]);
  active = $derived(this.all.find((p) => p.name === this.activeName) ?? this.builtin);
  readonly #backend: Backend;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  /** Loads saved profiles and makes `initial` the active one. */
  async load(initial: Profile): Promise<void> {
    try {
      this.saved = await this.#backend.loadSavedProfiles();
    } catch {
      // No store (first start, or it could not be read): start with none rather than fail.
      this.saved = [];
    }
    if (isBuiltin(initial)) this.builtin = { ...initial, name: initial.name || THIS_COMPUTER.name };
    else this.opened = initial;
    this.activeName = isBuiltin(initial) ? this.builtin.name : initial.name;
  }

  /** Adds or replaces (by `previousName`) a saved profile and persists the list. */
  async save(profile: Profile, previousName: string | null): Promise<void> {
    const clean: Profile = { ...profile, name: profile.name.trim(), url: profile.url.trim() };
    const list = this.saved.filter((p) => p.name !== previousName && p.name !== clean.name);
    list.push(clean);
    await this.#backend.saveProfiles(list);
    this.saved = list;
    if (previousName === this.activeName) this.activeName = clean.name;
  }

  async remove(name: string): Promise<void> {
    const list = this.saved.filter((p) => p.name !== name);
    await this.#backend.saveProfiles(list);
    this.saved = list;
  }
}
