//! One requestAnimationFrame loop for the whole window: stores that receive events at network
//! speed mark themselves dirty, and this loop lets them publish at most once per frame. It also
//! counts frames for the performance probe (`window.__tackPerf`).

type FrameTask = (now: number) => void;

const tasks = new Set<FrameTask>();
// Timestamps of recent frames, to count frames in the last second without allocating.
const stamps = new Float64Array(512);
let stampCount = 0;
let stampNext = 0;
let running = false;

function frame(now: number) {
  stamps[stampNext] = now;
  stampNext = (stampNext + 1) % stamps.length;
  stampCount = Math.min(stampCount + 1, stamps.length);
  for (const task of tasks) task(now);
  schedule(frame);
}

// Without a display (tests in jsdom) there is no requestAnimationFrame; a 16 ms timer stands in.
const schedule = (cb: (now: number) => void) =>
  typeof requestAnimationFrame === 'function' ? requestAnimationFrame(cb) : setTimeout(() => cb(performance.now()), 16);

/** Runs `task` once per frame until the returned function is called. */
export function everyFrame(task: FrameTask): () => void {
  tasks.add(task);
  if (!running) {
    running = true;
    schedule(frame);
  }
  return () => tasks.delete(task);
}

/** Frames drawn in the second before `now` (performance.now() time). */
export function framesInLastSecond(now = performance.now()): number {
  let n = 0;
  for (let i = 0; i < stampCount; i++) {
    const t = stamps[(stampNext - 1 - i + stamps.length) % stamps.length];
    if (now - t > 1000) break;
    n++;
  }
  return n;
}

export interface PerfProbe {
  /** Frames drawn in the last second. */
  readonly fps: number;
  /** Items held in each bounded buffer, by name. */
  readonly buffered: Record<string, number>;
  /** JS heap in bytes, where the webview exposes it. */
  readonly heap: number | null;
  /** When the composer was first painted and usable (epoch ms); null until then. */
  readonly interactiveAt: number | null;
}

let interactiveAt: number | null = null;

/**
 * Records the first moment the window is usable: call once the composer is in the DOM. The
 * mark is taken after the next paint (a task queued from requestAnimationFrame runs after the
 * frame is drawn), on the wall clock, so the benchmark can measure from the process's start.
 */
export function markInteractiveAfterPaint(): void {
  if (interactiveAt != null) return;
  const mark = () => setTimeout(() => (interactiveAt ??= performance.timeOrigin + performance.now()), 0);
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(mark);
  else mark();
}

/** Exposes `window.__tackPerf` for the end-to-end benchmark. */
export function installPerfProbe(buffered: () => Record<string, number>): void {
  // Keeps the loop (and so the frame counter) running even when nothing else asks for frames.
  everyFrame(() => {});
  const probe: PerfProbe = {
    get fps() {
      return framesInLastSecond();
    },
    get buffered() {
      return buffered();
    },
    get interactiveAt() {
      return interactiveAt;
    },
    get heap() {
      const mem = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
      return mem ? mem.usedJSHeapSize : null;
    },
  };
  (window as unknown as { __tackPerf: PerfProbe }).__tackPerf = probe;
}
