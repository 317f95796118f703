/**
 * A private PostgreSQL cluster for tests that break, starve or lock out a database: initdb in a
 * temp dir owned by the `postgres` user, password authentication over TCP (md5 or SCRAM), trust
 * over its own socket directory, a free port; never the shared 5432.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/util/net';
import { requireTool } from './tools';

/** Options of `startPgCluster`. */
export interface PgClusterOptions {
  /** pg_hba method for TCP connections. @default 'scram-sha-256' */
  auth?: 'md5' | 'scram-sha-256' | 'trust';
  /** Extra `-c name=value` server settings, e.g. `{ max_connections: '3' }`. */
  settings?: Record<string, string>;
}

/** A running private cluster. */
export interface PgCluster {
  port: number;
  /** The superuser's password (user `postgres`). */
  password: string;
  /** postgresql://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  /** The same URL with a wrong password. */
  wrongPasswordUrl: string;
  data: string;
  /** Directory of its Unix socket. */
  socketDir: string;
  /** The argv that starts it again and waits until it accepts connections (runs as postgres). */
  startArgv: string[];
  /** Runs SQL as the superuser over the socket (trust); returns psql's output. */
  psql(sql: string): string;
  /** `pg_ctl stop -m <mode>`; with wait false, returns at once (a smart stop waits for sessions). */
  stop(mode: 'smart' | 'fast' | 'immediate', wait?: boolean): void;
  /** Stops it for good and removes its files (ignores a cluster already down). */
  cleanup(): void;
}

/** The server binaries of the newest installed PostgreSQL (Debian keeps them off PATH). */
function pgBin(): string {
  requireTool('pg_ctlcluster'); // names the package when PostgreSQL is missing
  const versions = readdirSync('/usr/lib/postgresql').filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/pg_ctl`));
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('no /usr/lib/postgresql/<version>/bin/pg_ctl: install the Debian package postgresql');
  return `/usr/lib/postgresql/${newest}/bin`;
}

function asPostgres(argv: string[]): string {
  return execFileSync(requireTool('runuser'), ['-u', 'postgres', '--', ...argv], { encoding: 'utf8', stdio: 'pipe', timeout: 60_000 });
}

/**
 * Creates and starts a cluster; resolves once `pg_ctl start -w` returned.
 *
 * @example
 *   const pg = await startPgCluster({ auth: 'md5', settings: { max_connections: '3' } });
 *   await probePostgres(pg.wrongPasswordUrl, 2000); // refusing, 28P01
 */
export async function startPgCluster(opts: PgClusterOptions = {}): Promise<PgCluster> {
  const auth = opts.auth ?? 'scram-sha-256';
  const root = mkdtempSync(path.join(os.tmpdir(), 'autofix-pgc-'));
  const data = path.join(root, 'data');
  const socketDir = path.join(root, 'sock');
  const password = `pw-${Math.random().toString(36).slice(2, 10)}`;
  mkdirSync(data, { mode: 0o700 });
  mkdirSync(socketDir);
  writeFileSync(path.join(root, 'pwfile'), `${password}\n`);
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
  for (const p of [root, data, socketDir, path.join(root, 'pwfile')]) chownSync(p, uid, gid);
  const bin = pgBin();
  asPostgres([`${bin}/initdb`, '-D', data, '-U', 'postgres', '--auth-local=trust', `--auth-host=${auth}`, `--pwfile=${path.join(root, 'pwfile')}`, '--no-sync']);
  rmSync(path.join(root, 'pwfile'));
  const port = await freePort();
  const settings = Object.entries(opts.settings ?? {}).map(([k, v]) => `-c ${k}=${v}`);
  const startArgv = [requireTool('runuser'), '-u', 'postgres', '--', `${bin}/pg_ctl`, '-D', data, '-o', [`-p ${port}`, `-k ${socketDir}`, '-c listen_addresses=127.0.0.1', ...settings].join(' '), '-l', path.join(root, 'pg.log'), 'start', '-w'];
  execFileSync(startArgv[0] as string, startArgv.slice(1), { stdio: 'pipe', timeout: 60_000 });
  const psql = (sql: string) => asPostgres([`${bin}/psql`, '-h', socketDir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
  // initdb stores the password as SCRAM; an md5 cluster needs an md5 verifier to really use md5.
  if (auth === 'md5') psql(`SET password_encryption = 'md5'; ALTER ROLE postgres PASSWORD '${password}'`);
  const stop = (mode: 'smart' | 'fast' | 'immediate', wait = true) => {
    asPostgres([`${bin}/pg_ctl`, '-D', data, 'stop', '-m', mode, wait ? '-w' : '-W']);
  };
  return {
    port,
    password,
    url: `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`,
    wrongPasswordUrl: `postgresql://postgres:not-${password}@127.0.0.1:${port}/postgres`,
    data,
    socketDir,
    startArgv,
    psql,
    stop,
    cleanup: () => {
      try {
        stop('immediate');
      } catch {
        // already down
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
