//! The search box's state: results as the user types (debounced, and only the answer to the
//! last query counts), the parser's refusal shown inline, the chosen result.

import type { SearchHit } from '../backend';

/** How long typing must pause before the history is searched. */
export const SEARCH_DEBOUNCE_MS = 150;

export class Search {
  query = $state('');
  hits = $state.raw<SearchHit[]>([]);
  /** Why the query was refused (the parser's words), or why the search failed. */
  error = $state<string | null>(null);
  index = $state(0);
  readonly #run: (query: string) => Promise<SearchHit[]>;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #asked = 0;

  constructor(run: (query: string) => Promise<SearchHit[]>) {
    this.#run = run;
  }

  /** The user typed: search once they pause. */
  typed(query: string): void {
    this.query = query;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.now(), SEARCH_DEBOUNCE_MS);
  }

  /** Searches for the current query at once. */
  async now(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const asked = ++this.#asked;
    const query = this.query.trim();
    if (!query) {
      this.hits = [];
      this.error = null;
      return;
    }
    try {
      const hits = await this.#run(query);
      if (asked !== this.#asked) return;
      this.hits = hits;
      this.error = null;
      this.index = 0;
    } catch (e) {
      if (asked !== this.#asked) return;
      this.hits = [];
      this.error = e instanceof Error ? e.message : String(e);
    }
  }

  move(by: number): void {
    this.index = Math.max(0, Math.min(this.index + by, this.hits.length - 1));
  }

  get chosen(): SearchHit | undefined {
    return this.hits[this.index];
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#asked++;
  }
}
