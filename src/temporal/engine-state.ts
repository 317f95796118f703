/**
 * The worker's view of the engine, kept in `<data_dir>/state/engine-<address>.json` so that a
 * command run while the engine is down (`autofix status`) can say since when, which only the
 * worker that has been probing it knows. One file per engine address; written on each change of
 * reachability, atomically (a reader never sees half a file).
 */
import { readFileSync } from 'node:fs';
import { writePrivateJson } from '../util/private-dir';
import path from 'node:path';

/** What the state file holds. Times are ms since the epoch. */
export interface EngineStateRecord {
  address: string;
  reachable: boolean;
  unreachableSince?: number;
  lastOkAt?: number;
  lastError?: string;
  /** The worker process that wrote it (a record of a dead worker is not current). */
  pid: number;
  updatedAt: number;
}

/** The state file of `address` under `dataDir`. */
export function engineStateFile(dataDir: string, address: string): string {
  return path.join(dataDir, 'state', `engine-${address.replace(/[^A-Za-z0-9.-]/g, '_')}.json`);
}

/** Writes the record atomically (temp file + rename). */
export async function writeEngineState(dataDir: string, rec: EngineStateRecord): Promise<void> {
  await writePrivateJson(engineStateFile(dataDir, rec.address), rec);
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/**
 * The record for `address`, when one exists, parses, and was written by a process that is still
 * alive; else undefined. The file is only informative: anything odd in it is ignored.
 */
export function readEngineState(dataDir: string, address: string): EngineStateRecord | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(engineStateFile(dataDir, address), 'utf8'));
  } catch {
    return undefined;
  }
  const r = raw as Partial<EngineStateRecord>;
  if (!r || r.address !== address || typeof r.reachable !== 'boolean' || !Number.isInteger(r.pid) || !isTime(r.updatedAt)) return undefined;
  try {
    process.kill(r.pid as number, 0);
  } catch (e) {
    // ESRCH: the worker that wrote it is gone, so its view is not current (EPERM: alive, not ours).
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return {
    address,
    reachable: r.reachable,
    pid: r.pid as number,
    updatedAt: r.updatedAt,
    ...(isTime(r.unreachableSince) ? { unreachableSince: r.unreachableSince } : {}),
    ...(isTime(r.lastOkAt) ? { lastOkAt: r.lastOkAt } : {}),
    ...(typeof r.lastError === 'string' ? { lastError: r.lastError.slice(0, 300) } : {}),
  };
}
