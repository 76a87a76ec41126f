//! The one door to the desktop shell, as the rest of the UI sees it: the `Backend` interface.
//!
//! Its commands are generated from the shell's Rust (`commands.ts`); the rest is what the UI
//! asks of the official plugins (saved profiles, the save dialog, the clipboard). Three things implement it:
//! `tauri.ts`, the real shell and the only module that imports `@tauri-apps/*`; `testing.ts`,
//! the UI tests' fake; and `demo.ts`, a simulated server for the plain dev page. The rest of
//! the UI is handed one and never knows which.

import type { Commands } from './commands';
import type { Profile } from './bindings';

export type * from './bindings';
export type * from './history';
export type { Commands } from './commands';

/** The url of the built-in server ("This computer"). */
export const BUILTIN_URL = 'builtin:';

export interface Backend extends Commands {
  /** The user's saved server profiles (never including "This computer", which is built in). */
  loadSavedProfiles(): Promise<Profile[]>;
  saveProfiles(profiles: Profile[]): Promise<void>;
  /** Asks the user where to save an export; `null` when they cancel. */
  chooseExportPath(defaultName: string): Promise<string | null>;
  /** Asks the user where to write a recording; `null` when they cancel. */
  chooseRecordingPath(defaultName: string): Promise<string | null>;
  /** Asks the user which recording to open; `null` when they cancel. */
  chooseRecordingToOpen(): Promise<string | null>;
  /** Puts `text` on the clipboard. */
  copyText(text: string): Promise<void>;
}
