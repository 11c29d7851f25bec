/**
 * Vite build of the web console: console/ → dist/console, served by `continuum serve` at `/`.
 * Hashed file names under assets/ let the server cache them for a year (immutable); index.html
 * is revalidated on every load.
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
  },
  // `vite dev` for working on the console: the API and OIP calls go to a running `continuum serve`.
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/v2': 'http://127.0.0.1:8080',
    },
  },
});
