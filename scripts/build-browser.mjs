#!/usr/bin/env node
// Builds the SDK for browsers: dist/browser/tickbus.js (ESM, one file, no Node built-ins).
// The `ws` package is Node's WebSocket; the SDK imports it dynamically only when the runtime has no
// global WebSocket, so in a browser that import is never reached: it is left external here.
// Usage: node scripts/build-browser.mjs [--minify]
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const minify = process.argv.includes('--minify');

const result = await build({
  entryPoints: [path.join(root, 'client/index.ts')],
  outfile: path.join(root, 'dist/browser/tickbus.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  external: ['ws'],
  sourcemap: true,
  minify,
  metafile: true,
  logLevel: 'warning',
  // Anything that pulls a Node built-in into the browser bundle is a bug: fail the build.
  plugins: [
    {
      name: 'no-node-builtins',
      setup(b) {
        b.onResolve({ filter: /^node:/ }, (args) => ({ errors: [{ text: `browser bundle imports ${args.path} (from ${args.importer})` }] }));
      },
    },
  ],
});

const out = Object.entries(result.metafile.outputs).find(([f]) => f.endsWith('tickbus.js'));
process.stdout.write(`dist/browser/tickbus.js ${out ? out[1].bytes : '?'} bytes\n`);
