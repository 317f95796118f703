/**
 * Remembers the ReDoS checker's verdicts (pattern-safety.ts), in memory and on disk, so only a
 * new or edited regex pays for the analysis (up to seconds per regex); every `autofix` command
 * loads the config.
 *
 * The file lives in the user's autofix cache (`$AUTOFIX_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/autofix`, else `~/.cache/autofix`, next to the Temporal CLI build). A verdict
 * only decides whether a config regex is refused, and detection is time-bounded anyway
 * (budgeted-scan.ts); still, a file or directory another user could have written is ignored.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cacheBinDir } from '../temporal/provision';

/** What the checker concluded about one regex. */
export type Verdict =
  | { status: 'safe'; complexity: string }
  | { status: 'vulnerable'; complexity: string; degree: number | null; attack: string };

interface Entry {
  verdict: Verdict;
  /** Last use (ms since epoch): the oldest entries go first when the file is full. */
  used: number;
}

const FILE_NAME = 'redos-verdicts.json';
const MAX_ENTRIES = 5000;

/** The cache file, or undefined when it is not ours alone (then nothing is read or written). */
function cacheFile(env: NodeJS.ProcessEnv): string | undefined {
  const dir = path.dirname(cacheBinDir(env));
  try {
    const st = fs.lstatSync(dir);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) return undefined;
  } catch {
    return path.join(dir, FILE_NAME); // created on first save
  }
  return path.join(dir, FILE_NAME);
}

function readEntries(file: string): Record<string, Entry> {
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const st = fs.fstatSync(fd);
      const uid = process.getuid?.();
      if ((uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) return {};
      const parsed = JSON.parse(fs.readFileSync(fd, 'utf8')) as unknown;
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, Entry>) : {};
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return {}; // missing or corrupt: start over
  }
}

/** A verdict store keyed by everything the verdict depends on. */
export class VerdictCache {
  private readonly memory = new Map<string, Verdict>();
  private disk: Record<string, Entry> | undefined;
  private readonly file: string | undefined;

  constructor(
    /** Checker name, version and parameters: a different checker never reuses a verdict. */
    private readonly checkerKey: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.file = cacheFile(env);
  }

  private key(source: string, flags: string): string {
    return crypto.createHash('sha256').update(JSON.stringify([this.checkerKey, flags, source])).digest('hex');
  }

  /** The stored verdict of `source` under `flags`, if any. */
  get(source: string, flags: string): Verdict | undefined {
    const k = this.key(source, flags);
    const hit = this.memory.get(k);
    if (hit) return hit;
    if (!this.file) return undefined;
    this.disk ??= readEntries(this.file);
    const entry = this.disk[k];
    if (entry?.verdict) this.memory.set(k, entry.verdict);
    return entry?.verdict;
  }

  /** Stores a verdict in memory and (best effort, atomically) on disk. */
  set(source: string, flags: string, verdict: Verdict): void {
    const k = this.key(source, flags);
    this.memory.set(k, verdict);
    if (!this.file) return;
    // Re-read before writing: another autofix process may have added verdicts meanwhile.
    const entries = { ...readEntries(this.file), [k]: { verdict, used: Date.now() } };
    const keep = Object.entries(entries)
      .sort((a, b) => b[1].used - a[1].used)
      .slice(0, MAX_ENTRIES);
    this.disk = Object.fromEntries(keep);
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
      fs.writeFileSync(tmp, JSON.stringify(this.disk), { mode: 0o600, flag: 'wx' });
      fs.renameSync(tmp, this.file);
    } catch {
      // A read-only or full cache directory only costs a re-check next time.
    }
  }
}
