//! A fixed-capacity buffer that forgets its oldest items: what keeps memory bounded however
//! fast a channel is. Plain (not reactive) on purpose — readers re-read it when told to.

export class RingBuffer<T> {
  #items: (T | undefined)[];
  #start = 0;
  #length = 0;
  #total = 0;

  constructor(readonly capacity: number) {
    if (capacity < 1) throw new Error('a ring buffer needs room for at least one item');
    this.#items = new Array(capacity);
  }

  /** Items held now. */
  get length(): number {
    return this.#length;
  }

  /** Items ever pushed (since the last clear). */
  get total(): number {
    return this.#total;
  }

  /** How many items have been forgotten from the front. */
  get dropped(): number {
    return this.#total - this.#length;
  }

  /** Appends `item`; returns the item it pushed out, if the buffer was full. */
  push(item: T): T | undefined {
    let evicted: T | undefined;
    if (this.#length < this.capacity) {
      this.#items[(this.#start + this.#length) % this.capacity] = item;
      this.#length++;
    } else {
      evicted = this.#items[this.#start];
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % this.capacity;
    }
    this.#total++;
    return evicted;
  }

  /** The `i`th held item, oldest first. */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.#length) return undefined;
    return this.#items[(this.#start + i) % this.capacity];
  }

  /** Held items from `from` (inclusive) to `to` (exclusive), oldest first. */
  slice(from = 0, to = this.#length): T[] {
    const out: T[] = [];
    const end = Math.min(to, this.#length);
    for (let i = Math.max(0, from); i < end; i++) out.push(this.#items[(this.#start + i) % this.capacity] as T);
    return out;
  }

  clear(): void {
    this.#items = new Array(this.capacity);
    this.#start = 0;
    this.#length = 0;
    this.#total = 0;
  }
}
