/**
 * The watchers against real files and real processes: appends, truncation, rotation, files and
 * directories that appear later, the worker's own log and a chmod (no wake), a burst (one report
 * per loop); a real redis-server killed (by pid file and by port), found again after its
 * restart; a zombie counted as dead; only the first process of a pre-forked server watched.
 * Events are compared by their order (the first report must be the expected one), never by time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileWatcher, ProcessWatcher, type ProcessDeath, type WatchedFiles } from '../../src/watch';
import { parseStat } from '../../src/proc';
import { OwnFiles } from '../../src/detection/own-files';
import { serviceSchema } from '../../src/config/schema';
import { probeRedis } from '../../src/probes';
import { freePort } from '../helpers/net';
import { waitFor } from '../helpers/temporal';
import { requireTool } from '../helpers/tools';

/** Collects reports; `next()` resolves with the first one not yet taken. */
function recorder<T>() {
  const seen: T[] = [];
  let taken = 0;
  return {
    push: (x: T) => void seen.push(x),
    seen,
    next: (what: string) => waitFor(what, async () => (seen.length > taken ? seen[taken++] : undefined), 10_000, 10),
  };
}

describe('FileWatcher', () => {
  let dir: string;
  let files: WatchedFiles;
  let fw: FileWatcher;
  const got = recorder<string>();
  const a = () => path.join(dir, 'logs', 'a.log');
  const b = () => path.join(dir, 'logs', 'b.log');

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-fw-'));
    mkdirSync(path.join(dir, 'logs'));
    writeFileSync(a(), 'one\n');
    writeFileSync(b(), '');
    files = {
      logs: [path.join(dir, 'logs', '*.log'), path.join(dir, 'later', 'deeper', 'c.log')],
      json: [path.join(dir, 'state.json')],
      own: new OwnFiles([path.join(dir, 'logs', 'auto_fix.log')], path.join(dir, 'data')),
    };
    fw = new FileWatcher((kind, file) => got.push(`${kind} ${path.relative(dir, file)}`));
    fw.arm(files);
  });
  after(() => {
    fw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Each step: clear the "reported" state as a loop start would, act, expect the first report. */
  const step = async (act: () => void, expected: string) => {
    fw.loopStarted();
    act();
    assert.equal(await got.next(expected), expected);
  };

  test('an append to a watched log', () => step(() => appendFileSync(a(), 'two\n'), 'log logs/a.log'));

  test('a chmod and a write to the worker\'s own log wake nothing; the next append does', async () => {
    await step(() => {
      chmodSync(a(), 0o600);
      appendFileSync(path.join(dir, 'logs', 'auto_fix.log'), 'x\n');
      appendFileSync(path.join(dir, 'logs', 'auto_fix.log.1'), 'x\n');
      writeFileSync(path.join(dir, 'logs', 'notes.txt'), 'x');
      appendFileSync(b(), 'b\n');
    }, 'log logs/b.log');
  });

  test('truncation (copytruncate)', () => step(() => truncateSync(a(), 0), 'log logs/a.log'));

  test('rotation: the file renamed away, a new one created', async () => {
    appendFileSync(a(), 'before rotation\n');
    await step(() => renameSync(a(), `${a()}.1`), 'log logs/a.log');
    await step(() => writeFileSync(a(), 'new file\n'), 'log logs/a.log');
  });

  test('a new file matching the glob', () => step(() => writeFileSync(path.join(dir, 'logs', 'new.log'), 'x\n'), 'log logs/new.log'));

  test('a file in directories that do not exist yet', async () => {
    fw.loopStarted();
    mkdirSync(path.join(dir, 'later', 'deeper'), { recursive: true });
    // The new directories are watched a moment after they appear (re-planned on the parent's event).
    await waitFor('the new directory watched', async () => fw.directories().includes(path.join(dir, 'later', 'deeper')), 10_000, 10);
    await step(() => writeFileSync(path.join(dir, 'later', 'deeper', 'c.log'), 'x\n'), 'log later/deeper/c.log');
  });

  test('a watched JSON file rewritten with the same size', async () => {
    writeFileSync(path.join(dir, 'state.json'), '{"a":1}');
    fw.loopStarted();
    await got.next('json created');
    await new Promise((r) => setTimeout(r, 20)); // a different mtime
    await step(() => writeFileSync(path.join(dir, 'state.json'), '{"a":2}'), 'json state.json');
  });

  test('a burst is reported once until the next loop starts', async () => {
    fw.loopStarted();
    const before = got.seen.length;
    for (let i = 0; i < 5000; i++) appendFileSync(a(), `line ${i}\n`);
    // The chmod of b after the burst is not a change: if the burst had left reports queued, they would come first.
    chmodSync(b(), 0o640);
    assert.equal(await got.next('burst'), 'log logs/a.log');
    fw.loopStarted();
    appendFileSync(b(), 'after the loop\n');
    assert.equal(await got.next('after'), 'log logs/b.log');
    assert.equal(got.seen.length, before + 2);
  });
});

describe('ProcessWatcher', () => {
  let dir: string;
  let port: number;
  let pidFile: string;
  let argv: string[];
  let pw: ProcessWatcher;
  const deaths = recorder<ProcessDeath>();
  const children: ChildProcess[] = [];

  const startRedis = async () => {
    execFileSync(argv[0] as string, argv.slice(1));
    await waitFor('redis up', async () => (await probeRedis(`redis://127.0.0.1:${port}`, 500)).status === 'healthy');
    return Number(readFileSync(pidFile, 'utf8').trim());
  };

  before(async () => {
    requireTool('redis-server');
    requireTool('python3');
    dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-pw-'));
    port = await freePort();
    pidFile = path.join(dir, 'redis.pid');
    argv = ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--pidfile', pidFile, '--dir', dir];
    pw = new ProcessWatcher((d) => deaths.push(d), { verifyMs: 300 });
  });
  after(() => {
    pw.close();
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
    } catch {
      /* gone */
    }
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('a killed redis-server (by pid file and by port), and again after its restart', async () => {
    const pid = await startRedis();
    await pw.arm([
      { kind: 'pid_file', label: 'service redis', checks: ['redis'], service: 'redis', config: serviceSchema.parse({ pid_file: pidFile }) },
      { kind: 'port', label: `port ${port}`, checks: ['redis', 'ports'], port },
    ]);
    assert.deepEqual(pw.watched().get(pid)?.sort(), [`port ${port}`, 'service redis']);
    process.kill(pid, 'SIGKILL');
    const d = await deaths.next('death');
    assert.equal(d.pid, pid);
    assert.deepEqual(d.checks.sort(), ['ports', 'redis']);
    // Killed daemons stay zombies here until init reaps them: the death is heard before that.
    const second = await startRedis();
    await waitFor('the restarted redis watched', async () => pw.watched().has(second), 10_000, 50);
    process.kill(second, 'SIGKILL');
    assert.equal((await deaths.next('second death')).pid, second);
  });

  test('a process that becomes a zombie is dead; of a pre-forked server only the first process is watched', async () => {
    // A parent that never reaps (its killed child stays a zombie), and a server whose two forked
    // workers share its listening socket.
    const zport = await freePort();
    const script = [
      'import os, socket, time',
      'z = os.fork()',
      'if z == 0:',
      '    time.sleep(600); os._exit(0)',
      `s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", ${zport})); s.listen()`,
      'kids = []',
      'for _ in range(2):',
      '    k = os.fork()',
      '    if k == 0:',
      '        time.sleep(600); os._exit(0)',
      '    kids.append(k)',
      'print(z, *kids, flush=True)',
      'time.sleep(600)',
    ].join('\n');
    const py = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(py);
    let out = '';
    py.stdout!.on('data', (x: Buffer) => void (out += x.toString()));
    const line = await waitFor('the pids', async () => (out.includes('\n') ? out : undefined), 10_000, 20);
    const [child, kid1, kid2] = line.trim().split(' ').map(Number) as [number, number, number];
    const childFile = path.join(dir, 'child.pid');
    writeFileSync(childFile, String(child));
    await pw.arm([
      { kind: 'port', label: 'server', checks: ['http'], port: zport },
      { kind: 'pid_file', label: 'child', checks: [], service: 'child', config: serviceSchema.parse({ pid_file: childFile }) },
    ]);
    assert.deepEqual([...pw.watched().keys()].sort(), [child, py.pid].sort(), 'the master and the child, not the workers');
    process.kill(child, 'SIGKILL');
    assert.equal((await deaths.next('child death')).pid, child);
    // Heard while it is still a zombie (its parent never reaps it): kill(pid, 0) would still succeed.
    assert.equal(parseStat(readFileSync(`/proc/${child}/stat`, 'latin1'))?.state, 'Z');
    process.kill(child, 0);
    // A worker's exit wakes nothing; the master's does — and it is the next death heard.
    process.kill(kid1, 'SIGKILL');
    process.kill(kid2, 'SIGKILL');
    py.kill('SIGKILL');
    assert.equal((await deaths.next('master death')).pid, py.pid);
  });
});
