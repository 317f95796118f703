/**
 * Request text never triggers a repair, end to end: a real nginx (combined log format, user
 * agent and referer included) and a real Flask app (werkzeug dev server, access lines in the
 * same file as its application log) serve requests whose URL, User-Agent and Referer carry
 * ECONNREFUSED, ENOSPC, JSONDecodeError...; the daemon on the real dev server watches both logs
 * with the SHIPPED default patterns and raises nothing — until a real 500 shows it was watching.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { statusQuery } from '../../src/workflows/definitions';
import { freePort } from '../helpers/net';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, waitFor, type TestTemporal } from '../helpers/temporal';
import { requireTool } from '../helpers/tools';

const shipped = loadConfig(path.resolve(__dirname, '../../../config/error_patterns.json'));

/** Words that name an error class of the shipped patterns, as a client can put them in a request. */
const WORDS = ['ECONNREFUSED', 'ENOSPC', 'JSONDecodeError', 'MemoryError', 'EADDRINUSE', 'CERT_HAS_EXPIRED', 'PermissionError', 'FileNotFoundError', 'EACCES', 'ENOENT'];

async function waitUntilUp(url: string): Promise<void> {
  await waitFor(`${url} up`, async () => (await fetch(url).catch(() => undefined))?.ok, 20_000, 200);
}

describe('access-log lines carrying error words raise nothing (shipped patterns, real nginx and Flask)', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  const servers: ChildProcess[] = [];
  let nginxPort: number;
  let flaskPort: number;
  let markers: string;

  before(async () => {
    sb = makeSandbox();
    const logs = path.join(sb.dir, 'logs');
    const tmp = path.join(sb.dir, 'nginx-tmp');
    mkdirSync(tmp);
    markers = path.join(sb.dir, 'markers');
    mkdirSync(markers);
    [nginxPort, flaskPort] = [await freePort(), await freePort()];
    const conf = path.join(sb.dir, 'nginx.conf');
    writeFileSync(
      conf,
      `pid ${sb.dir}/nginx.pid;\nerror_log ${logs}/nginx-error.log;\nevents {}\nhttp {\n` +
        `  access_log ${logs}/access.log combined;\n` +
        ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${tmp}/${k};\n`).join('') +
        `  server {\n    listen 127.0.0.1:${nginxPort};\n    location /boom { return 500; }\n    location / { return 200 "ok\\n"; }\n  }\n}\n`,
    );
    servers.push(spawn(requireTool('nginx'), ['-p', sb.dir, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' }));
    const app = path.join(sb.dir, 'app.py');
    writeFileSync(
      app,
      'from flask import Flask\napp = Flask(__name__)\n' +
        "@app.route('/', defaults={'p': ''})\n@app.route('/<path:p>')\ndef any_path(p):\n    return 'ok'\n",
    );
    // The werkzeug dev server writes its access lines into the app's own log (stderr), as in the seed's stack.
    const flaskLog = openSync(path.join(logs, 'flask.log'), 'a');
    servers.push(spawn(requireTool('flask'), ['--app', app, 'run', '--host', '127.0.0.1', '--port', String(flaskPort)], { stdio: ['ignore', flaskLog, flaskLog] }));
    closeSync(flaskLog);
    await waitUntilUp(`http://127.0.0.1:${nginxPort}/`);
    await waitUntilUp(`http://127.0.0.1:${flaskPort}/`);

    // The shipped patterns and actions; services whose restart only leaves a mark, and no live probe to stop them.
    const mark = (name: string) => ({ restart: ['touch', path.join(markers, name)], confirm: false });
    sb.writeConfig({
      error_patterns: shipped.error_patterns,
      auto_fix_config: { max_retries: 1, retry_delay: 1, cooldown_period: 1, notification_channels: ['log', 'alerts'] },
      watch: { logs: [path.join(logs, '*.log')] },
      managed: { roots: [sb.dir], directories: { logs }, cache_dirs: [path.join(sb.dir, 'cache')], temp_dirs: [path.join(sb.dir, 'tmp')] },
      services: { flask: mark('flask'), postgresql: mark('postgresql'), redis: mark('redis') },
    });
    t = await startTestWorker({ configPath: sb.configPath });
  });

  after(async () => {
    for (const s of servers) s.kill('SIGKILL');
    await t.close();
    sb.cleanup();
  });

  test('no detection, no incident, no action from request text; a real 500 is still seen', async () => {
    const id = `daemon-access-${Date.now()}`;
    await t.client.workflow.start('autoFixDaemon', {
      workflowId: id,
      taskQueue: t.taskQueue,
      args: [{ loopCount: 10_000, loopIntervalSeconds: 0.5, waitMinutes: 0.01 }],
    });
    const status = () => t.client.workflow.getHandle(id).query(statusQuery);
    try {
      await waitFor('first loop', async () => (await status()).totals.loops >= 1);
      for (const port of [nginxPort, flaskPort]) {
        for (const w of WORDS) {
          const headers = { 'User-Agent': `Mozilla/5.0 (${w}) ${WORDS.join(' ')}`, Referer: `http://evil.example/${w}?e=${w}` };
          for (const p of [`/search?q=${w}`, `/${w}`, `/x?${w}`, `/api/${w}/${w}.json`]) {
            const res = await fetch(`http://127.0.0.1:${port}${p}`, { headers });
            assert.equal(res.status, 200);
            await res.text();
          }
        }
      }
      const access = readFileSync(path.join(sb.dir, 'logs', 'access.log'), 'utf8');
      assert.match(access, /"GET \/search\?q=ECONNREFUSED HTTP\/1\.1" 200 3 "http:\/\/evil\.example\/ECONNREFUSED\?e=ECONNREFUSED" "Mozilla\/5\.0 \(ECONNREFUSED\) /);
      assert.match(readFileSync(path.join(sb.dir, 'logs', 'flask.log'), 'utf8'), /"GET \/x\?JSONDecodeError HTTP\/1\.1" 200 -/);
      // The sentinel: a real 500 in the access log, after every hostile line.
      assert.equal((await fetch(`http://127.0.0.1:${nginxPort}/boom`)).status, 500);
      const seen = await waitFor('the 500 detected', async () => {
        const s = await status();
        return s.totals.events >= 1 ? s : undefined;
      });
      await waitFor('two more loops', async () => (await status()).totals.loops >= seen.totals.loops + 2);
      const end = await status();
      assert.equal(end.totals.events, 1, `only the real 500 is an event; totals ${JSON.stringify(end.totals)}`);
      const incidents: string[] = [];
      for await (const wf of t.client.workflow.list({ query: 'WorkflowId STARTS_WITH "incident-"' })) if (wf.taskQueue === t.taskQueue) incidents.push(wf.workflowId);
      assert.ok(incidents.every((w) => w.startsWith('incident-http_5xx-')), incidents.join(', '));
      const log = readFileSync(path.join(sb.dataDir, 'logs', 'auto_fix.log'), 'utf8');
      // The seed's line, then its details on the next line: `  id=<pattern> …`.
      const detected = [...log.matchAll(/エラー検出: .*\n.*? id=(\w+)/g)].map((m) => m[1]);
      assert.deepEqual([...new Set(detected)], ['http_5xx']);
      for (const name of ['flask', 'postgresql', 'redis']) assert.equal(existsSync(path.join(markers, name)), false, `${name} was "restarted"`);
    } finally {
      await t.client.workflow.getHandle(id).terminate('test done');
    }
  });
});
