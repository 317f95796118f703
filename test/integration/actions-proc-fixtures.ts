/**
 * Shared fixtures of the actions-proc/notify tests: a validated config in a temp directory, an
 * ActionContext that records its log lines, and a free TCP port.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import type { ActionContext } from '../../src/actions/types';
import { freePort } from '../../src/util/net';

export { freePort };

/** A fresh temp directory. */
export function tempDir(prefix = 'autofix-proc-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A validated config whose data_dir is `dir` (extra sections merged in). */
export function makeConfig(dir: string, extra: Record<string, unknown> = {}): Config {
  const raw = {
    error_patterns: [
      { id: 'http_5xx', name: 'HTTP 5xxエラー', pattern: 'HTTP/\\d\\.\\d" 5\\d\\d', severity: 'error' },
      {
        id: 'db_connection',
        name: 'DB接続エラー',
        pattern: 'could not connect to server',
        flags: 'i',
        severity: 'critical',
      },
    ],
    ...extra,
    daemon: { data_dir: dir, log_file: path.join(dir, 'logs', 'auto_fix.log'), ...((extra.daemon as object | undefined) ?? {}) },
  };
  return parseConfig(raw, path.join(dir, 'error_patterns.json'), {});
}

/** An ActionContext for `config`; `lines` collects what the action logged. */
export function makeCtx(
  config: Config,
  severity: 'warning' | 'error' | 'critical' = 'error',
): ActionContext & { lines: string[] } {
  const lines: string[] = [];
  return {
    config,
    lines,
    log: (level, message) => lines.push(`[${level}] ${message}`),
    signal: new AbortController().signal,
    incident: {
      incidentId: `inc-${process.pid}-${Date.now()}`,
      patternId: 'http_5xx',
      severity,
      host: os.hostname(),
      detection: {
        id: 'http_5xx',
        name: 'HTTP 5xxエラー',
        severity,
        count: 3,
        source: 'log',
        file: '/var/log/app.log',
        first_line: 10,
        samples: ['GET / HTTP/1.1" 502'],
      },
    },
  };
}

/** Polls `fn` until it returns true or `ms` passed. */
export async function eventually(fn: () => Promise<boolean> | boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return fn();
}
