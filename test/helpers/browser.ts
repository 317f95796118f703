/**
 * Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, for tests of the
 * dev server's Temporal Web UI (AUTOFIX_UI_URL). Screenshots go to test-output/webui/.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { requireTool } from './tools';

export const CHROMIUM_PATH = process.env.AUTOFIX_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Flags for a quiet, loopback-only headless Chromium. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Where screenshots go: <repo>/test-output/webui (git-ignored). */
export const SCREENSHOT_DIR = path.resolve(__dirname, '../../../test-output/webui');

/** The Web UI base URL of this test run (set by the test runner). */
export function uiUrl(): string {
  const u = process.env.AUTOFIX_UI_URL;
  if (!u) throw new Error('AUTOFIX_UI_URL is not set: run the tests with the test runner, which starts a dev server with its Web UI');
  return u.replace(/\/$/, '');
}

export interface TestBrowser {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Saves a full-page screenshot as test-output/webui/<name>.png; returns its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium and opens one page. (Playwright gives a non-persistent launch its
 * own fresh temp profile and deletes it on close.)
 */
export async function launchBrowser(opts: { viewport?: { width: number; height: number } } = {}): Promise<TestBrowser> {
  if (!process.env.AUTOFIX_TEST_CHROMIUM) requireTool('chromium');
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 60_000 });
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1600, height: 1000 }, timezoneId: 'UTC' });
  context.setDefaultTimeout(30_000);
  context.setDefaultNavigationTimeout(60_000);
  const page = await context.newPage();
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return {
    browser,
    context,
    page,
    async screenshot(name: string) {
      const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^\w.-]+/g, '_')}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}

/** Polls the page's visible text until `pred` holds (the UI is an SPA); returns that text. */
export async function waitForText(page: Page, what: string, pred: (text: string) => boolean, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  for (;;) {
    text = await page
      .locator('body')
      .innerText()
      .catch(() => '');
    if (pred(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} on ${page.url()}; page text:\n${text.slice(0, 3000)}`);
    await page.waitForTimeout(500);
  }
}
