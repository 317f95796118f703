/**
 * The incidents in the dev server's Temporal Web UI (AUTOFIX_UI_URL), in headless Chromium:
 * incidents made with the real CLI (`autofix fix`) are found by a visibility query on our
 * search attributes, and an incident's page shows its saga step by step.
 * Screenshots: test-output/webui/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { SagaResult } from '../../src/workflows/definitions';
import { launchBrowser, uiUrl, waitForText, type TestBrowser } from '../helpers/browser';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { temporalAddress } from '../helpers/temporal';

const BIN = path.resolve(__dirname, '../../../bin/autofix');

/** `autofix fix <pattern> --json` as a child process; the saga's result. */
function fix(pattern: string, configPath: string, host: string): Promise<SagaResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      // Own --host → own task queue: this call's in-process worker serves the saga.
      [BIN, 'fix', pattern, '--config', configPath, '--host', host, '--json'],
      { env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress() }, timeout: 90_000, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`autofix fix ${pattern}: ${err.message}\n${stderr.slice(-3000)}`)) : resolve(JSON.parse(stdout) as SagaResult)),
    );
  });
}

/** The workflow list filtered by a visibility query (the UI's `query` URL parameter). */
const listUrl = (query: string) => `${uiUrl()}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;

/** Opens the list for `query` until `id` is listed (visibility is eventually consistent). */
async function openListUntilListed(page: Page, query: string, id: string): Promise<string> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    await page.goto(listUrl(query), { waitUntil: 'domcontentloaded' });
    try {
      await page.getByRole('link', { name: id, exact: true }).waitFor({ state: 'visible', timeout: 15_000 });
      return await waitForText(page, 'the list to settle', (t) => t.includes(id) && /\d+\s+Workflows?/.test(t), 15_000);
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

describe('incidents in the Temporal Web UI', () => {
  let sb: Sandbox;
  let b: TestBrowser;
  const tag = Date.now().toString(36);
  const pFix = `ui_fix_${tag}`;
  const pFail = `ui_fail_${tag}`;
  const hostFix = `uif${tag}`;
  const hostFail = `uix${tag}`;
  let fixed: SagaResult;
  let failed: SagaResult;
  let dir: string;

  before(async () => {
    sb = makeSandbox();
    dir = path.join(sb.dir, 'app', 'uploads');
    sb.writeConfig({
      error_patterns: [
        {
          id: pFix,
          name: 'UI test: fixable',
          pattern: 'NO_SUCH_LINE_UI_FIX',
          severity: 'error',
          auto_fix: true,
          actions: [{ type: 'alert', description: 'tell the operator' }, { type: 'create_missing_dirs' }],
        },
        {
          id: pFail,
          name: 'UI test: refused',
          pattern: 'NO_SUCH_LINE_UI_FAIL',
          severity: 'critical',
          auto_fix: true,
          actions: [{ type: 'kill_process_on_port', port: 1, grace_seconds: 1 }],
        },
      ],
      managed: { roots: [sb.dir], directories: { uploads: dir }, ports: [] },
    });
    fixed = await fix(pFix, sb.configPath, hostFix);
    failed = await fix(pFail, sb.configPath, hostFail);
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
    sb.cleanup();
  });

  test('the CLI made a fixed and a failed incident', () => {
    assert.equal(fixed.outcome, 'fixed', JSON.stringify(fixed));
    assert.ok(existsSync(dir));
    assert.equal(failed.outcome, 'failed', JSON.stringify(failed));
  });

  test('the workflow list filtered by AutofixPattern shows the incident, and only it', async () => {
    const { page } = b;
    const text = await openListUntilListed(page, `AutofixPattern='${pFix}'`, fixed.incidentId);
    await b.screenshot('01-list-by-pattern');
    // The query became a filter chip, and exactly our one incident matches it.
    assert.ok(text.includes('AutofixPattern'), `no filter chip:\n${text.slice(0, 2000)}`);
    assert.ok(text.includes(pFix));
    assert.match(text, /\b1\s+Workflows?\b/);
    assert.ok(text.includes('remediationSaga'));
    assert.ok(!text.includes(failed.incidentId), 'the other pattern\u2019s incident is listed too');
    const row = page.getByRole('row').filter({ hasText: fixed.incidentId });
    assert.match(await row.innerText(), /Completed/);
  });

  test('several of our search attributes in one query: outcome + pattern + kind', async () => {
    const { page } = b;
    const text = await openListUntilListed(page, `AutofixKind='incident' AND AutofixOutcome='failed' AND AutofixPattern='${pFail}'`, failed.incidentId);
    await b.screenshot('02-list-failed');
    assert.match(text, /\b1\s+Workflows?\b/);
    assert.ok(!text.includes(fixed.incidentId));
    // And a query nothing matches lists nothing.
    await page.goto(listUrl(`AutofixOutcome='fixed' AND AutofixPattern='${pFail}'`), { waitUntil: 'domcontentloaded' });
    const none = await waitForText(page, 'an empty result', (t) => t.includes('No Results') && /\b0\s+Workflows\b/.test(t) && t.includes(pFail), 60_000);
    assert.ok(!none.includes(failed.incidentId));
    await b.screenshot('03-list-empty');
  });

  test('clicking the incident opens its history: every saga step is there', async () => {
    const { page } = b;
    await openListUntilListed(page, `AutofixPattern='${pFix}'`, fixed.incidentId);
    await page.getByRole('link', { name: fixed.incidentId, exact: true }).click();
    await page.waitForURL(new RegExp(`/workflows/${fixed.incidentId}/[0-9a-f-]+/history`), { timeout: 60_000 });
    const activities = ['planSaga', 'backupForAction', 'runAction', 'verifyIncident', 'recordOutcome'];
    const text = await waitForText(
      page,
      'the event history with the saga\u2019s activities',
      (t) => t.includes('Event History') && t.includes('Workflow Execution Completed') && activities.every((a) => t.includes(a)),
      60_000,
    );
    await b.screenshot('04-incident-fixed');
    assert.ok(text.includes(fixed.incidentId));
    assert.ok(text.includes('remediationSaga'));
    assert.ok(text.includes(`autofix-${hostFix}`), 'task queue not shown');
    assert.match(text, /\bCompleted\b/);
    for (const e of ['Workflow Execution Started', 'Activity Task Scheduled', 'Activity Task Completed', 'Upsert Workflow Search Attributes']) {
      assert.ok(text.includes(e), `no "${e}" event on the page`);
    }
    // Two actions → runAction scheduled twice, each with its result in the event list.
    assert.ok(text.includes('"type":"alert"') || text.includes('alert: '), 'the alert action\u2019s result is not shown');
    assert.ok(text.includes('"type":"create_missing_dirs"'), 'the create_missing_dirs result is not shown');
    // The saga's result (the Result card) says fixed.
    assert.match(text, /"outcome":\s*"fixed"/);

    // Its Search Attributes tab shows what `autofix incidents` filters on.
    await page.getByRole('tab', { name: 'Search Attributes' }).click();
    await page.waitForURL(/\/search-attributes$/, { timeout: 30_000 });
    const sa = await waitForText(page, 'the search attributes', (t) => t.includes('"AutofixOutcome"'), 60_000);
    await b.screenshot('04b-incident-search-attributes');
    for (const [k, v] of [
      ['AutofixKind', 'incident'],
      ['AutofixPattern', pFix],
      ['AutofixSeverity', 'error'],
      ['AutofixOutcome', 'fixed'],
      ['AutofixHost', hostFix],
    ]) {
      assert.match(sa, new RegExp(`"${k}":\\s*"${v}"`), `${k} is not "${v}" on the Search Attributes tab`);
    }
  });

  test('the failed incident\u2019s page shows the refused action', async () => {
    const { page } = b;
    await page.goto(`${uiUrl()}/namespaces/default/workflows/${encodeURIComponent(failed.incidentId)}`, { waitUntil: 'domcontentloaded' });
    await page.waitForURL(/\/history/, { timeout: 60_000 });
    const text = await waitForText(page, 'the failed activity', (t) => t.includes('Activity Task Failed') && t.includes('Workflow Execution Completed'), 60_000);
    await b.screenshot('05-incident-failed');
    assert.ok(text.includes('kill_process_on_port: port 1 is not in managed.ports'));
    assert.ok(text.includes('RefusedError'));
    assert.match(text, /"outcome":\s*"failed"/);
    assert.ok(!text.includes('verifyIncident'), 'a failed action must not be verified');
  });
});
