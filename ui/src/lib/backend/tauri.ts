//! The real backend: the desktop shell through Tauri. The only module that imports
//! `@tauri-apps/*`; it holds no state and no product logic, it translates names and types.

import { Channel, invoke } from '@tauri-apps/api/core';
import { load as loadStore } from '@tauri-apps/plugin-store';
import { open as openDialog, save as saveDialog } from '@tauri-apps/plugin-dialog';
import { writeText } from '@tauri-apps/plugin-clipboard-manager';
import { COMMANDS, type Commands } from './commands';
import type { Backend, EventBatch, Profile } from './index';

/** Is the page running inside the desktop shell (rather than a plain browser)? */
export function inShell(): boolean {
  return '__TAURI_INTERNALS__' in window;
}

/** Each command of the generated table, invoked by its name with its arguments named. */
function commands(): Commands {
  const methods: Record<string, (...values: unknown[]) => Promise<unknown>> = {};
  for (const [method, { cmd, args }] of Object.entries(COMMANDS)) {
    methods[method] = (...values) =>
      invoke(cmd, Object.fromEntries(args.map((name, i) => [name, asArgument(values[i])])));
  }
  return methods as unknown as Commands;
}

/** A callback argument is a stream from the shell: Tauri's channel calls it with each message. */
function asArgument(value: unknown): unknown {
  return typeof value === 'function' ? new Channel<EventBatch>(value as (batch: EventBatch) => void) : value;
}

// Server profiles live in the store plugin's `profiles.json`, under one key.
const PROFILES_FILE = 'profiles.json';
const PROFILES_KEY = 'profiles';

async function loadSavedProfiles(): Promise<Profile[]> {
  const store = await loadStore(PROFILES_FILE, { defaults: {}, autoSave: false });
  return (await store.get<Profile[]>(PROFILES_KEY)) ?? [];
}

async function saveProfiles(profiles: Profile[]): Promise<void> {
  const store = await loadStore(PROFILES_FILE, { defaults: {}, autoSave: false });
  await store.set(PROFILES_KEY, profiles);
  await store.save();
}

async function chooseExportPath(defaultName: string): Promise<string | null> {
  const path = await saveDialog({
    title: 'Export channel log',
    defaultPath: defaultName,
    filters: [{ name: 'JSON Lines', extensions: ['jsonl'] }],
  });
  return path ?? null;
}

const RECORDING_FILTERS = [{ name: 'JSON Lines', extensions: ['jsonl', 'json', 'txt'] }];

async function chooseRecordingPath(defaultName: string): Promise<string | null> {
  return (await saveDialog({ title: 'Record to', defaultPath: defaultName, filters: RECORDING_FILTERS })) ?? null;
}

async function chooseRecordingToOpen(): Promise<string | null> {
  const path = await openDialog({ title: 'Open a recording', multiple: false, directory: false, filters: RECORDING_FILTERS });
  return typeof path === 'string' ? path : null;
}

export function tauriBackend(): Backend {
  return {
    ...commands(),
    loadSavedProfiles,
    saveProfiles,
    chooseExportPath,
    chooseRecordingPath,
    chooseRecordingToOpen,
    copyText: writeText,
  };
}
