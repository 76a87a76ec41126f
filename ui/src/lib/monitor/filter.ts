//! The monitor's filter: plain text (case-insensitive), `/regex/flags`, or a jq query the
//! engine judges; and a channel.

import type { Verdict } from '../backend';

/** A log entry; one without a payload (a gap marker) shows wherever its channel shows. */
export interface Filterable {
  channel: string;
  payload?: string;
  /** What the engine's jq query made of an item (items only). */
  query?: Verdict;
}

export interface LogFilter {
  /** Does the filter narrow anything at all? */
  active: boolean;
  /** Why the text could not be used, in words the user can act on. */
  error: string | null;
  matches(item: Filterable): boolean;
}

const REGEX = /^\/(.+)\/([a-z]*)$/s;

export function compileFilter(text: string, channel: string | null): LogFilter {
  const wanted = text.trim();
  let test: ((payload: string) => boolean) | null = null;
  let error: string | null = null;
  const re = REGEX.exec(wanted);
  if (re) {
    try {
      // `g` and `y` make test() stateful between calls; a filter must not be.
      const regex = new RegExp(re[1], re[2].replace(/[gy]/g, ''));
      test = (p) => regex.test(p);
    } catch (e) {
      error = `Not a valid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`;
    }
  } else if (wanted) {
    const needle = wanted.toLowerCase();
    test = (p) => p.toLowerCase().includes(needle);
  }
  const active = test != null || channel != null;
  return {
    active,
    error,
    matches: (item) =>
      (channel == null || item.channel === channel) && (test == null || item.payload === undefined || test(item.payload)),
  };
}

/**
 * The view a jq query gives: the items the engine judged with query `generation` and kept.
 * Items that arrived before it was set were not judged by it, so they do not show (jq runs in
 * the engine only, never here). `generation` null: no query, every item shows.
 */
export function jqFilter(generation: number | null, channel: string | null): LogFilter {
  return {
    active: generation != null || channel != null,
    error: null,
    matches: (item) =>
      (channel == null || item.channel === channel) &&
      (generation == null || item.payload === undefined || (item.query?.generation === generation && item.query.keep)),
  };
}
