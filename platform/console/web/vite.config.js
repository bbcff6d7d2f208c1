// The console is served by the API under /console/ (platform/console embeds ../dist).
// `npm ci && npm run build` must give byte-identical files for the same sources: no source
// maps, no build time, content-hashed names only.
import { defineConfig } from 'vite'

export default defineConfig({
  base: '/console/',
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
})
