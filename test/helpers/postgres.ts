/**
 * A private PostgreSQL cluster for tests that break a database: initdb in a temp dir owned by
 * the `postgres` user, a free port and its own socket directory; never the shared 5432.
 */
import { chownSync, mkdirSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/util/net';
import { requireTool } from './tools';

const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface PgCluster {
  port: number;
  /** postgresql://postgres@127.0.0.1:<port>/postgres (trust auth). */
  url: string;
  data: string;
  /** The argv that starts it and waits until it accepts connections (runs as postgres). */
  start: string[];
  /** Stops it the way a crash would (immediate), waiting until it is down. */
  kill(): void;
  /** Stops it for good (test cleanup; ignores a cluster already down). */
  cleanup(): void;
}

function asPostgres(...argv: string[]): Buffer {
  return execFileSync(requireTool('runuser'), ['-u', 'postgres', '--', ...argv], { stdio: 'pipe' });
}

/**
 * Creates and starts a cluster; resolves once `pg_ctl start -w` returned.
 *
 * @example const pg = await startPgCluster(); pg.kill(); // the database is down
 */
export async function startPgCluster(): Promise<PgCluster> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'autofix-pg-'));
  const data = path.join(root, 'data');
  const sock = path.join(root, 'sock');
  mkdirSync(data, { mode: 0o700 });
  mkdirSync(sock);
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  for (const p of [root, data, sock]) chownSync(p, uid, gid);
  asPostgres(`${PG_BIN}/initdb`, '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync');
  const port = await freePort();
  const start = ['runuser', '-u', 'postgres', '--', `${PG_BIN}/pg_ctl`, '-D', data, '-o', `-p ${port} -k ${sock}`, '-l', path.join(root, 'pg.log'), 'start', '-w'];
  execFileSync(start[0] as string, start.slice(1), { stdio: 'pipe' });
  return {
    port,
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    data,
    start,
    kill: () => asPostgres(`${PG_BIN}/pg_ctl`, '-D', data, 'stop', '-m', 'immediate', '-w'),
    cleanup: () => {
      try {
        asPostgres(`${PG_BIN}/pg_ctl`, '-D', data, 'stop', '-m', 'immediate', '-w');
      } catch {
        // already down
      }
    },
  };
}
