// Headless Chromium with the SDK's browser bundle: builds dist/browser/tickbus.js, serves it and one test
// page from 127.0.0.1, and launches /usr/bin/chromium. The page's module script sets `window.ready`
// once it has imported the bundle; newPage() waits for that.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { REPO } from './broker.js';

export const BUNDLE = path.join(REPO, 'dist/browser/tickbus.js');

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface BrowserHarness {
  browser: Browser;
  /** The test page, which imports './tickbus.js'. */
  pageUrl: string;
  /** A new tab on the page, once its script set `window.ready`; `errors` collects its uncaught errors from the start. */
  newPage(): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

/** Builds the bundle, serves it with `html` at '/', and launches Chromium with `extraArgs` added. */
export async function startBrowserHarness(html: string, extraArgs: readonly string[] = []): Promise<BrowserHarness> {
  await promisify(execFile)(process.execPath, [path.join(REPO, 'scripts/build-browser.mjs')], { cwd: REPO });
  const server = http.createServer((req, res) => {
    if (req.url === '/tickbus.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(fs.readFileSync(BUNDLE));
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(html);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const closeServer = (): Promise<void> => new Promise<void>((r) => server.close(() => r()));
  const pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, ...extraArgs] });
  } catch (err) {
    await closeServer();
    throw err;
  }
  return {
    browser,
    pageUrl,
    async newPage() {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pageUrl);
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
      return { page, errors };
    },
    async close() {
      await browser.close();
      await closeServer();
    },
  };
}
