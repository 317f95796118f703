/**
 * A drop-in for the seed's users, on the seed's own layout (backend/scripts/error_patterns.json —
 * the shipped config — with the app's logs in backend/logs/, auto_fix.log and alerts.log among
 * them by default) against the real dev server and a real Flask-like health endpoint:
 * - 40 old error lines at first start → 0 detections; one new line with 1 s loops for 25 s →
 *   exactly 1 detection; its fix writes the seed's four documented lines, exactly;
 * - a pattern added to the file while running is used within 10 s;
 * - alerts.log gets alerts only (here: the `alert` actions), in the seed's JSON shape;
 * - a stopped-and-started daemon and a one-shot run continue where the last scan stopped.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { autoFixDaemon } from '../../src/workflows/daemon';
import { statusQuery } from '../../src/workflows/definitions';
import { DEFAULT_CONFIG_PATH } from '../../src/config/load';
import { startTestWorker, waitFor, type TestTemporal } from '../helpers/temporal';

/** The seed's line format, and its four documented lines (auto-fix-daemon.README.ja.md). */
const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - AutoFixDaemon - \[(?:INFO|WARNING|ERROR|CRITICAL)\] - .*$/;
const STAMP = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d - AutoFixDaemon - ';
const SEED_LINES = {
  cycle: new RegExp(`^${STAMP}\\[INFO\\] - === 検知サイクル \\d+ 開始 ===$`),
  detected: new RegExp(`^${STAMP}\\[WARNING\\] - エラー検出: HTTP 5xxエラー$`),
  action: new RegExp(`^${STAMP}\\[INFO\\] - 修復アクション実行: log_analysis$`),
  fixed: new RegExp(`^${STAMP}\\[INFO\\] - 自動修復完了: http_5xx$`),
};
const ALERT = /^\{"timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", "severity": "(?:warning|error|critical)", "message": "[^"]*", /;

const access = (n: number, status = 500) => `127.0.0.1 - - [28/Dec/2025 10:30:${String(n % 60).padStart(2, '0')}] "GET /api/knowledge/${n} HTTP/1.1" ${status} -\n`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the seed's layout", () => {
  let root: string;
  let backend: string;
  let configPath: string;
  let appLog: string;
  let flask: http.Server;
  let t: TestTemporal;
  const autoFixLog = () => path.join(backend, 'logs', 'auto_fix.log');
  const alertsLog = () => path.join(backend, 'logs', 'alerts.log');
  const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
  /** Writes the config as an editor does (a new file renamed over the old one). */
  const writeConfig = (cfg: unknown) => {
    fs.writeFileSync(`${configPath}.tmp`, JSON.stringify(cfg, null, 2));
    fs.renameSync(`${configPath}.tmp`, configPath);
  };

  before(async () => {
    root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-seed-')));
    backend = path.join(root, 'backend');
    for (const d of ['scripts', 'logs', 'data', 'uploads', 'cache', 'tmp']) fs.mkdirSync(path.join(backend, d), { recursive: true });
    // The Flask app's health endpoint, as the shipped config checks it (here on a free port).
    flask = http.createServer((req, res) => {
      res.statusCode = req.url === '/api/health' ? 200 : 404;
      res.end('{"status": "healthy"}');
    });
    await new Promise<void>((r) => flask.listen(0, '127.0.0.1', r));
    const shipped = JSON.parse(fs.readFileSync(DEFAULT_CONFIG_PATH, 'utf8')) as Record<string, Record<string, unknown>>;
    const endpoint = { name: 'flask', url: `http://127.0.0.1:${(flask.address() as { port: number }).port}/api/health`, service: 'flask' };
    configPath = path.join(backend, 'scripts', 'error_patterns.json');
    writeConfig({
      ...shipped,
      // The shared PostgreSQL and Redis of this machine are not the app's: only the HTTP check runs.
      health_checks: { postgres: { enabled: false }, redis: { enabled: false }, disk: { enabled: false }, memory: { enabled: false }, http: { endpoints: [endpoint] } },
    });
    appLog = path.join(backend, 'logs', 'app.log');
    fs.writeFileSync(appLog, Array.from({ length: 40 }, (_, i) => access(i)).join(''));
    t = await startTestWorker({ configPath });
  });
  after(async () => {
    await t.close();
    flask.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const status = (id: string) => t.client.workflow.getHandle(id).query(statusQuery);
  const startDaemon = (id: string) =>
    t.client.workflow.start(autoFixDaemon, { workflowId: id, taskQueue: t.taskQueue, args: [{ loopCount: 100_000, loopIntervalSeconds: 1, waitMinutes: 0.01 }] });

  test('old lines are the past, a new line is one detection, an added pattern is used within 10 s, the logs read as the seed', async () => {
    const id = `seed-daemon-${Date.now()}`;
    await startDaemon(id);
    try {
      const warm = await waitFor('3 loops', async () => {
        const s = await status(id);
        return s.totals.loops >= 3 ? s : undefined;
      });
      assert.equal(warm.totals.detections, 0, '40 old error lines at first start → 0 detections');
      assert.equal(warm.lastHealth?.checks.http_endpoints, 'healthy');

      fs.appendFileSync(appLog, access(41, 502));
      const loopsBefore = (await status(id)).totals.loops;
      await sleep(25_000);
      const after25 = await status(id);
      assert.ok(after25.totals.loops >= loopsBefore + 10, `1 s loops: ${after25.totals.loops - loopsBefore} loops in 25 s`);
      assert.equal(after25.totals.detections, 1, 'one new line → exactly 1 detection');
      assert.equal(after25.totals.events, 1);
      assert.equal(after25.totals.incidents, 1, 'its incident started (not refused as already in progress)');
      await waitFor('the fix completed', async () => read(autoFixLog()).includes('自動修復完了: http_5xx')).catch((e: Error) =>
        assert.fail(`${e.message}; auto_fix.log ends with:\n${read(autoFixLog()).slice(-3000)}`),
      );

      // A pattern added to the file while the daemon runs.
      const cfg = JSON.parse(read(configPath)) as { error_patterns: unknown[] };
      cfg.error_patterns.unshift({
        id: 'knowledge_index',
        name: 'ナレッジ索引エラー',
        pattern: 'KnowledgeIndexError',
        severity: 'error',
        auto_fix: true,
        actions: [{ type: 'alert', description: '索引の再構築が必要' }],
      });
      writeConfig(cfg);
      fs.appendFileSync(appLog, '2025-12-28 10:31:00,001 ERROR app: KnowledgeIndexError: index missing\n');
      const edited = Date.now();
      await waitFor('the added pattern detects', async () => read(autoFixLog()).includes('エラー検出: ナレッジ索引エラー'), 10_000, 100);
      const tookMs = Date.now() - edited;
      assert.ok(tookMs <= 10_000, `used after ${tookMs} ms`);
      assert.match(read(autoFixLog()), /- \[INFO\] - 設定を再読み込みしました: /);
      await waitFor('its alert', async () => read(alertsLog()).includes('knowledge_index'));
    } finally {
      await t.client.workflow.getHandle(id).terminate('test done');
    }

    // auto_fix.log: the seed's lines exactly, one fact per line; nothing of the old format.
    const lines = read(autoFixLog()).trimEnd().split('\n');
    for (const l of lines) assert.match(l, LINE);
    for (const [name, re] of Object.entries(SEED_LINES)) assert.ok(lines.some((l) => re.test(l)), `no ${name} line matching ${re}`);
    // Every such line, of either pattern, is in the seed's form: the fact alone, details on the next line.
    const forms: Record<string, RegExp> = {
      エラー検出: new RegExp(`^${STAMP}\\[WARNING\\] - エラー検出: (?:HTTP 5xxエラー|ナレッジ索引エラー)$`),
      修復アクション実行: new RegExp(`^${STAMP}\\[INFO\\] - 修復アクション実行: (?:log_analysis|alert)$`),
      自動修復完了: new RegExp(`^${STAMP}\\[INFO\\] - 自動修復完了: (?:http_5xx|knowledge_index)$`),
    };
    for (const [key, form] of Object.entries(forms)) {
      assert.deepEqual(lines.filter((l) => l.includes(`${key}:`) && !form.test(l)), [], `${key} lines not in the seed's form`);
    }
    assert.equal(lines.filter((l) => SEED_LINES.detected.test(l)).length, 1);
    assert.ok(!lines.some((l) => /検知サイクル \d+-\d+|\[incident-|エラー検出: .*\(|×\d/.test(l)), 'no old-format line');

    // alerts.log: alerts only — the two `alert` actions (one per incident), nothing per detection.
    const alerts = read(alertsLog()).trimEnd().split('\n');
    for (const a of alerts) assert.match(a, ALERT);
    const records = alerts.map((a) => JSON.parse(a) as { pattern_id?: string; incident_id?: string });
    assert.deepEqual(records.map((r) => r.pattern_id).sort(), ['http_5xx', 'knowledge_index']);
    assert.ok(records.every((r) => r.incident_id?.startsWith(`incident-${r.pattern_id}-`)), 'each alert is an incident\'s alert action');
  });

  test('a stopped-and-started daemon and a one-shot run continue where the last scan stopped', async () => {
    // The first test's daemon is stopped; two lines are written meanwhile.
    fs.appendFileSync(appLog, access(42) + access(43));
    const id = `seed-daemon-again-${Date.now()}`;
    await startDaemon(id);
    try {
      const s = await waitFor('the two lines', async () => {
        const st = await status(id);
        return st.totals.events >= 2 ? st : undefined;
      });
      const loops = s.totals.loops;
      await waitFor('3 more loops', async () => (await status(id)).totals.loops >= loops + 3);
      assert.equal((await status(id)).totals.events, 2, 'exactly the lines written while stopped');
    } finally {
      await t.client.workflow.getHandle(id).terminate('test done');
    }
    // `autofix run`: one loop from where the daemon stopped.
    const once = () => t.client.workflow.execute(autoFixDaemon, { workflowId: `seed-once-${Date.now()}`, taskQueue: t.taskQueue, args: [{ once: true }] });
    assert.deepEqual((await once()).detections, []);
    fs.appendFileSync(appLog, access(44, 503));
    const summary = await once();
    assert.deepEqual(summary.detections.map((d) => [d.id, d.count, d.file]), [['http_5xx', 1, appLog]]);
  });

  test("a line written just before the app's handler rotated its log (no new file yet) is detected and fixed", async () => {
    const id = `seed-daemon-rotation-${Date.now()}`;
    await startDaemon(id);
    try {
      await waitFor('first loop', async () => (await status(id)).totals.loops >= 1);
      const since = new Date();
      // Python's RotatingFileHandler: renames app.log to app.log.1 and opens a new app.log only at its next write.
      fs.appendFileSync(appLog, '2025-12-28 10:32:00,001 ERROR app: KnowledgeIndexError: index missing\n');
      fs.renameSync(appLog, `${appLog}.1`);
      const incident = await waitFor('the incident', async () => {
        for await (const wf of t.client.workflow.list({ query: `WorkflowId STARTS_WITH "incident-knowledge_index-" AND TaskQueue = "${t.taskQueue}"` })) {
          if (wf.startTime >= since) return wf.workflowId;
        }
        return undefined;
      });
      const r = await t.client.workflow.getHandle(incident).result();
      // The detection names the rotated file, a generation of a watched log: the fix may act on it.
      assert.equal(r.outcome, 'fixed', JSON.stringify(r, null, 2));
      assert.match(read(autoFixLog()), new RegExp(`id=knowledge_index severity=error count=1 source=log file=${appLog.replace(/[.]/g, '\\.')}\\.1 `));
    } finally {
      await t.client.workflow.getHandle(id).terminate('test done');
    }
  });
});
