/**
 * When the embedded server cannot be restarted, `up` says why and exits 1 (so that systemd's
 * Restart= or a person takes over) instead of retrying forever. Real causes on a real `up`:
 * the database found overwritten with garbage when the server must restart, and a full disk (a small tmpfs
 * mounted for the test, filled once the server runs).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../helpers/temporal';
import { startUp, type UpProcess } from '../helpers/up';

const QUIET = {
  daemon: { loop_interval_seconds: 0.5, wait_minutes: 0.01 },
  health_checks: { postgres: { enabled: false }, redis: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } },
};

/**
 * Kills the server `up` runs (then runs `afterKill`, in the same tick: up restarts it only 0.5 s
 * later) and waits for `up` to exit; returns its exit code.
 */
async function killAndAwaitExit(up: UpProcess, afterKill?: () => void): Promise<number | null> {
  process.kill(up.serverPid() as number, 'SIGKILL');
  afterKill?.();
  return await waitFor('up exits', async () => (up.child.exitCode !== null ? { code: up.child.exitCode } : undefined), 90_000).then(
    (r) => r.code,
    (e: Error) => {
      throw new Error(`${e.message}; up printed:\n${up.out()}`);
    },
  );
}

describe('up gives up on a server that cannot come back, with the reason', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'autofix-restartfail-'));
  const ups: UpProcess[] = [];
  let mounted: string | undefined;
  after(async () => {
    for (const up of ups) await up.stop();
    if (mounted) execFileSync('umount', ['-l', mounted]);
    rmSync(tmp, { recursive: true, force: true });
  });

  test('a corrupt database: exit 1 naming the file and the fix', async () => {
    const dir = path.join(tmp, 'corrupt');
    mkdirSync(dir);
    const up = await startUp(dir, QUIET);
    ups.push(up);
    const db = path.join(up.dataDir, 'temporal', 'dev.db');
    // Overwritten once the server is dead, with its journal gone: garbage written while it ran
    // could be undone by SQLite's recovery (a hot journal restores page 1, header included).
    const corrupt = () => {
      const fd = openSync(db, 'r+');
      writeSync(fd, Buffer.from('this is not an SQLite file, sorry'), 0, undefined, 0);
      closeSync(fd);
      for (const side of ['-journal', '-wal', '-shm']) rmSync(`${db}${side}`, { force: true });
    };
    assert.equal(await killAndAwaitExit(up, corrupt), 1, up.out());
    assert.match(up.out(), new RegExp(`autofix: the Temporal dev server cannot be kept running: the Temporal database ${db.replace(/[.]/g, '\\.')} is corrupt or incomplete \\(.*not a database.*\\)\\. Move it aside`));
  });

  test('a full disk: exit 1 naming the disk and the fix', async () => {
    const dir = path.join(tmp, 'full');
    mkdirSync(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
    mounted = dir;
    const up = await startUp(dir, QUIET);
    ups.push(up);
    // Fill what is left of the 4 MiB.
    const fd = openSync(path.join(dir, 'filler'), 'w');
    try {
      for (;;) writeSync(fd, Buffer.alloc(64 * 1024));
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      closeSync(fd);
    }
    writeFileSync(path.join(dir, 'marker'), ''); // an empty file still fits: the inode table is not full
    assert.equal(await killAndAwaitExit(up), 1, up.out());
    assert.match(up.out(), /autofix: the Temporal dev server cannot be kept running: the disk holding .*dev\.db is full, .*\(.*(database or disk is full|no space left on device).*\)\. Free space there/i);
  });
});
