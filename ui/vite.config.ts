/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

// Tauri serves `dist/` (tauri.conf.json `frontendDist`) and loads the dev server at :5173.
export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    outDir: 'dist',
    // WebKitGTK (Linux webview) is Safari-class; no need to down-level further.
    target: 'es2022',
    // Everything ships inside the app; no remote resources (strict CSP).
    assetsInlineLimit: 0,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    restoreMocks: true,
    setupFiles: ['src/test-setup.ts'],
    // Tests wait for events, not clocks; the timeout only catches a hang. CI shares two cores
    // with a Rust build, where a jsdom render can take seconds.
    testTimeout: 30_000,
  },
});
