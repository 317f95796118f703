/**
 * Shared fixture of the file-action tests: a real temp dir with a managed root, a parsed config,
 * a minimal ActionContext, and a tree snapshot (kind, mode, mtime, sha256) to prove "untouched".
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import type { ActionContext } from '../../src/actions/types';

export interface Fixture {
  /** realpath of the temp dir. */
  tmp: string;
  /** The managed root (`<tmp>/root`). */
  root: string;
  /** Outside the root (`<tmp>/outside`), for escape attempts. */
  outside: string;
  dataDir: string;
  cleanup(): void;
}

/** Makes `<tmp>/root`, `<tmp>/outside` and `<tmp>/data`. */
export function makeFixture(): Fixture {
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-')));
  const root = path.join(tmp, 'root');
  const outside = path.join(tmp, 'outside');
  const dataDir = path.join(tmp, 'data');
  for (const d of [root, outside, dataDir]) fs.mkdirSync(d);
  return { tmp, root, outside, dataDir, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

/** A validated config whose managed root is the fixture's root; `managed` merges over it. */
export function makeConfig(fx: Fixture, managed: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Config {
  return parseConfig(
    { error_patterns: [], daemon: { data_dir: fx.dataDir, log_file: path.join(fx.dataDir, 'logs', 'auto_fix.log') }, managed: { roots: [fx.root], ...managed }, ...extra },
    path.join(fx.tmp, 'error_patterns.json'),
    {},
  );
}

/** A minimal ActionContext whose log lines are collected in `lines`. */
export function makeCtx(config: Config, incidentId = 'inc-test-1'): ActionContext & { lines: string[] } {
  const lines: string[] = [];
  return {
    config,
    lines,
    log: (level, message) => void lines.push(`${level} ${message}`),
    signal: new AbortController().signal,
    incident: {
      incidentId,
      patternId: 'test',
      severity: 'error',
      host: 'test-host',
      detection: { id: 'test', name: 'test', severity: 'error', count: 1, source: 'log', samples: [] },
    },
  };
}

/** sha256 of a file's bytes. */
export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Every entry below `dir` → "kind mode mtime(ms) sha/link", without following symlinks. */
export function snapshotTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      const rel = path.relative(dir, p);
      if (st.isSymbolicLink()) out[rel] = `link ${fs.readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${(st.mode & 0o7777).toString(8)} ${Math.round(st.mtimeMs)}`;
        visit(p);
      } else out[rel] = `file ${(st.mode & 0o7777).toString(8)} ${Math.round(st.mtimeMs)} ${st.size} ${sha256(p)}`;
    }
  };
  visit(dir);
  return out;
}

/** Writes a file (creating parents) and optionally backdates its mtime by `ageMs`. */
export function writeFile(p: string, content: string | Buffer, ageMs = 0): string {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
  if (ageMs > 0) {
    const t = new Date(Date.now() - ageMs);
    fs.utimesSync(p, t, t);
  }
  return p;
}

/** An assert.rejects matcher for a non-retryable ApplicationFailure of `type`. */
export function failureOf(type: string, messagePart?: RegExp) {
  return (e: unknown): boolean =>
    e instanceof ApplicationFailure && e.type === type && e.nonRetryable === true && (messagePart ? messagePart.test(e.message) : true);
}
