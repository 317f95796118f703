/**
 * Parses each watched JSON file; a corrupt one is a `json_parse` detection naming the file and
 * the position (line, column) of the syntax error.
 *
 * A MISSING file is not a json_parse detection (nothing is corrupt) and not an error here: the
 * application may not have created it yet, and `backup_and_fix_json` must not invent content for
 * a file nobody asked for. Missing files are skipped; globs (`*`, `?`, `**`) matching nothing too.
 */
import type fs from 'node:fs';
import type { ErrorPattern } from '../config/schema';
import type { Detection } from './types';
import { DetectionCollector } from './collector';
import { filesOf } from './glob';
import { openForReading } from '../fs-safe/read';

/** Files above this size are not parsed each cycle (they would stall the loop). */
const MAX_JSON_BYTES = 64 * 1024 * 1024;
const FALLBACK = { id: 'json_parse', name: 'JSON解析エラー', severity: 'error' } as const;

/** True when text fails to parse for a reason other than ending too early. */
function failsBeforeEnd(text: string): boolean {
  try {
    JSON.parse(text);
    return false;
  } catch (e) {
    const msg = (e as Error).message;
    const at = /at position (\d+)/.exec(msg);
    if (at) return Number(at[1]) < text.length; // V8 says "Expected ',' ... at position <end>" when input just stops
    return !/end of JSON input|Unterminated string/i.test(msg);
  }
}

/**
 * Node 20 does not always give a position ("Unexpected token '}', ..." is not valid JSON"):
 * binary-search the shortest prefix that fails for a reason other than ending early.
 */
function locateError(text: string): number {
  if (!failsBeforeEnd(text)) return text.length; // truncated file: the error is at the end
  let lo = 0;
  let hi = text.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (failsBeforeEnd(text.slice(0, mid + 1))) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Turns JSON.parse's message into one with a 1-based line and column. Node 20 reports
 * "... in JSON at position N"; newer V8 also says "(line L column C)".
 *
 * @example describeJsonError('{"a":}', err) // { line: 1, column: 6, message: "Unexpected token '}', ... at line 1, column 6" }
 */
export function describeJsonError(text: string, err: Error): { line: number; column: number; message: string } {
  const m = /at position (\d+)/.exec(err.message);
  const pos = m ? Number(m[1]) : locateError(text);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  const base = err.message.replace(/ in JSON at position \d+.*$/, '').replace(/\s*\(line \d+ column \d+\)$/, '');
  return { line, column, message: `${base} at line ${line}, column ${column}` };
}

/** Leaves autofix's own files out of the JSON checks (see own-files.ts); `onExcluded` hears of each. */
export interface JsonCheckExclusion {
  exclude: (file: string, st?: fs.Stats) => string | undefined;
  onExcluded?: (file: string, spec: string, reason: string) => void;
}

/**
 * The text of a watched JSON file; undefined when it is missing, unreadable, not a regular file,
 * over the size cap, refused (a symlink or hard link another user could have planted:
 * src/fs-safe/read.ts), or not `accept`ed.
 */
async function readWatchedJson(file: string, accept: (st: fs.Stats) => boolean): Promise<string | undefined> {
  const opened = await openForReading(file).catch(() => undefined);
  if (!opened) return undefined;
  try {
    if (opened.stat.size > MAX_JSON_BYTES || !accept(opened.stat)) return undefined;
    return await opened.fh.readFile('utf8');
  } catch {
    return undefined;
  } finally {
    await opened.fh.close();
  }
}

/**
 * Checks watched JSON files (absolute paths or globs). Returns one `json_parse` detection per
 * corrupt file (source 'json', first_line = the error's line); `patterns` provides the
 * json_parse name and severity. Files `own.exclude` names (autofix's state) are never parsed.
 *
 * @example checkJsonFiles(['/srv/app/data/*.json'], cfg.error_patterns)
 */
export async function checkJsonFiles(files: string[], patterns: ErrorPattern[], own?: JsonCheckExclusion): Promise<Detection[]> {
  const pattern = patterns.find((p) => p.id === 'json_parse') ?? FALLBACK;
  const collector = new DetectionCollector();
  const list = files.flatMap((spec) => filesOf(spec).map((file) => ({ spec, file })));
  for (const { spec, file } of list) {
    let text = await readWatchedJson(file, (st) => {
      const reason = own?.exclude(file, st);
      if (reason) own?.onExcluded?.(file, spec, reason);
      return !reason;
    });
    if (text === undefined) continue; // missing, unreadable, refused or one of autofix's own files
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a BOM is not corruption
    try {
      JSON.parse(text);
    } catch (e) {
      const where = describeJsonError(text, e as Error);
      collector.add(pattern, 'json', file, where.line, `${file}: ${where.message}`);
    }
  }
  return collector.list();
}
