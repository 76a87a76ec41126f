// jsdom has no layout and so no ResizeObserver (Svelte's `bind:clientHeight` uses one). Sizes
// stay 0 in tests; the virtual list then draws its overscan rows, which is what tests look at.
class NoLayoutResizeObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
}
globalThis.ResizeObserver ??= NoLayoutResizeObserver as unknown as typeof ResizeObserver;
