// Vite for an app that uses Atelier: the isolation headers on the dev and preview servers,
// ES-module workers, and a target with top-level await (the package awaits its wasm module).
import { defineConfig } from 'vite';

const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export default defineConfig({
  // Relative asset paths: the build runs from any folder it is served at.
  base: './',
  server: { headers: isolation },
  preview: { headers: isolation },
  worker: { format: 'es' },
  build: { target: 'es2022' },
  // The package loads its wasm with new URL(…, import.meta.url): keep it out of the
  // dependency pre-bundling, which would move the file away from the URL.
  optimizeDeps: { exclude: ['atelier'] },
});
