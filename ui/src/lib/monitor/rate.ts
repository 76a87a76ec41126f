//! Messages per second over the last few minutes, in one-second buckets: what the rate chart
//! draws and the sidebar's "812/s" reads. Fixed size, so it costs the same at any rate.

export class RateHistory {
  #buckets: Float64Array;
  /** The second the newest bucket counts. */
  #head = -1;

  constructor(readonly seconds = 300) {
    this.#buckets = new Float64Array(seconds);
  }

  #advance(sec: number): void {
    if (this.#head < 0) {
      this.#head = sec;
      return;
    }
    if (sec <= this.#head) return;
    const steps = Math.min(sec - this.#head, this.seconds);
    for (let i = 1; i <= steps; i++) this.#buckets[(this.#head + i) % this.seconds] = 0;
    this.#head = sec;
  }

  /** Counts `n` messages received at `ms` (epoch milliseconds). */
  add(ms: number, n = 1): void {
    const sec = Math.floor(ms / 1000);
    this.#advance(sec);
    // Older than the window: nothing to count it in.
    if (this.#head - sec >= this.seconds) return;
    this.#buckets[sec % this.seconds] += n;
  }

  /** Records `value` as the figure of the second `ms` falls in (a gauge read once a second). */
  set(ms: number, value: number): void {
    const sec = Math.floor(ms / 1000);
    this.#advance(sec);
    if (this.#head - sec >= this.seconds) return;
    this.#buckets[sec % this.seconds] = value;
  }

  /** Messages in the last complete second before `nowMs`. */
  lastSecond(nowMs: number): number {
    const sec = Math.floor(nowMs / 1000) - 1;
    if (this.#head < 0 || sec > this.#head || this.#head - sec >= this.seconds) return 0;
    return this.#buckets[sec % this.seconds];
  }

  /** Per-second counts for the window ending with the last complete second, oldest first. */
  series(nowMs: number): number[] {
    const last = Math.floor(nowMs / 1000) - 1;
    const out = new Array<number>(this.seconds);
    for (let i = 0; i < this.seconds; i++) {
      const sec = last - (this.seconds - 1 - i);
      out[i] = this.#head >= 0 && sec <= this.#head && this.#head - sec < this.seconds ? this.#buckets[sec % this.seconds] : 0;
    }
    return out;
  }

  clear(): void {
    this.#buckets.fill(0);
    this.#head = -1;
  }
}
