//! The one door to the desktop shell.
//!
//! Every call into Tauri (commands, the event channel, the store, notification and dialog
//! plugins) goes through this module, and it is the only module that imports `@tauri-apps/*`.
//! The rest of the UI calls these typed functions, so tests replace the whole backend with
//! `mockIPC` and the dev server can run on a simulated one (see `demo.ts`).
//!
//! This module holds no state and no product logic: it translates names and types, nothing more.

import { Channel, invoke } from '@tauri-apps/api/core';
import { load as loadStore } from '@tauri-apps/plugin-store';
import {
  isPermissionGranted,
  requestPermission,
  sendNotification,
} from '@tauri-apps/plugin-notification';
import { save as saveDialog } from '@tauri-apps/plugin-dialog';
import type { EventBatch, Profile } from './bindings';

export type * from './bindings';

/** The url of the built-in server ("This computer"). */
export const BUILTIN_URL = 'builtin:';

/** The profile to start on: the built-in server, or the one from `--connect` / `TACK_CONNECT`. */
export function initialProfile(): Promise<Profile> {
  return invoke<Profile>('initial_profile');
}

/**
 * (Re)connects the one active session. Engine events arrive in batches on `onBatch` until the
 * next `connect` or `disconnect`.
 */
export async function connect(profile: Profile, onBatch: (batch: EventBatch) => void): Promise<void> {
  const onEvent = new Channel<EventBatch>(onBatch);
  await invoke('connect', { profile, onEvent });
}

export function disconnect(): Promise<void> {
  return invoke('disconnect');
}

export function enter(room: string): Promise<void> {
  return invoke('enter', { room });
}

export function leave(room: string): Promise<void> {
  return invoke('leave', { room });
}

/** Queues a chat message; returns its client id. `send` events follow: pending → sent | failed. */
export function send(room: string, comment: string): Promise<string> {
  return invoke<string>('send', { room, comment });
}

export function retrySend(cid: string): Promise<void> {
  return invoke('retry_send', { cid });
}

export function watch(channel: string): Promise<void> {
  return invoke('watch', { channel });
}

export function unwatch(channel: string): Promise<void> {
  return invoke('unwatch', { channel });
}

export function setNick(nick: string): Promise<void> {
  return invoke('set_nick', { nick });
}

/** Skips the reconnect back-off and tries now. */
export function retryNow(): Promise<void> {
  return invoke('retry_now');
}

/** Writes the engine's retained items of `channels` as JSON Lines; returns the lines written. */
export function exportJsonl(path: string, channels: string[]): Promise<number> {
  return invoke<number>('export_jsonl', { path, channels });
}

/** Asks the user where to save an export; `null` when they cancel. */
export async function chooseExportPath(defaultName: string): Promise<string | null> {
  const path = await saveDialog({
    title: 'Export channel log',
    defaultPath: defaultName,
    filters: [{ name: 'JSON Lines', extensions: ['jsonl'] }],
  });
  return path ?? null;
}

// Server profiles live in the store plugin's `profiles.json`, under one key.
const PROFILES_FILE = 'profiles.json';
const PROFILES_KEY = 'profiles';

/** The user's saved server profiles (never including "This computer", which is built in). */
export async function loadSavedProfiles(): Promise<Profile[]> {
  const store = await loadStore(PROFILES_FILE, { defaults: {}, autoSave: false });
  return (await store.get<Profile[]>(PROFILES_KEY)) ?? [];
}

export async function saveProfiles(profiles: Profile[]): Promise<void> {
  const store = await loadStore(PROFILES_FILE, { defaults: {}, autoSave: false });
  await store.set(PROFILES_KEY, profiles);
  await store.save();
}

/** Shows a desktop notification, asking for permission the first time. */
export async function notify(title: string, body: string): Promise<void> {
  // The plugin speaks through `window.Notification`; a page without it has nothing to show.
  if (typeof window.Notification === 'undefined') return;
  let granted = await isPermissionGranted();
  if (!granted) granted = (await requestPermission()) === 'granted';
  if (granted) sendNotification({ title, body });
}

/**
 * Outside the desktop shell (the plain `npm run dev` page in a browser), runs the UI on a
 * simulated server so it can be looked at and screenshotted. Never active in a build.
 */
export async function useDemoOutsideShell(): Promise<boolean> {
  if (!import.meta.env.DEV || '__TAURI_INTERNALS__' in window) return false;
  const [{ mockIPC }, { demoBackend }] = await Promise.all([
    import('@tauri-apps/api/mocks'),
    import('./demo'),
  ]);
  mockIPC(demoBackend(new URLSearchParams(location.search)));
  return true;
}
