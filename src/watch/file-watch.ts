/**
 * Hears the watched logs grow and the watched JSON files change, through inotify (`fs.watch`)
 * on their *directories*, not on the files: a watch on a file dies with the file, while the
 * directory sees every way a log changes — appends, truncation (copytruncate), rotation (the old
 * name moved away, a new file created), a file that appears later. Directories that do not exist
 * yet are waited for from their nearest existing parent; glob segments (`*`, `?`, `**`) are
 * expanded, and their parents watched for new matching directories.
 *
 * Why not chokidar (v4 is CommonJS-compatible): it drops globs (we need the scanner's own glob
 * semantics, so that what wakes the daemon is exactly what a loop scans), stats files on every
 * event and delays rename pairs by its `atomic` window, and its value — normalising macOS and
 * Windows events, polling fallbacks — does not apply to a Linux-only worker that already reads
 * /proc. What is needed here is "did a watched file change", which a directory watch and one
 * stat answer.
 *
 * An event is checked with one `stat` (size and inode; for JSON also mtime), so a chmod, a read
 * or a write to an unwatched neighbour wakes nothing. After it reports a change it stops
 * stat-ing until the next loop starts (`loopStarted`): a burst of 10,000 lines per second costs
 * one stat per loop, not one per line. autofix's own files never count (auto_fix.log, alerts.log
 * and their rotations, data_dir: src/detection/own-files.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathMatcher, segmentMatcher } from '../util/glob-rules';
import { filesOf, isGlob } from '../detection/glob';
import { OwnFiles } from '../detection/own-files';
import type { WatchedFiles } from './targets';

export type FileKind = 'log' | 'json';

interface Spec {
  kind: FileKind;
  pattern: string;
  matches: (file: string) => boolean;
}

/** What one watched directory is watched for. */
interface DirRole {
  /** Watched files may be in it. */
  specs: Spec[];
  /** Names of subdirectories on the way to watched files that do not exist yet (or may appear). */
  next: Array<(name: string) => boolean>;
  /** Under a `**`: any new subdirectory matters. */
  anyDir: boolean;
}

const MAX_TOUCHED = 1000;

interface Snapshot {
  ino: number;
  size: number;
  mtimeMs: number;
}

/** The directories to watch for `files`, each with its role. Reads the file system (readdir/stat). */
export function planWatch(files: Pick<WatchedFiles, 'logs' | 'json'>, maxDirs = 1000): Map<string, DirRole> {
  const plan = new Map<string, DirRole>();
  const role = (dir: string) => plan.get(dir) ?? plan.set(dir, { specs: [], next: [], anyDir: false }).get(dir)!;
  const specs: Spec[] = [
    ...files.logs.map((p) => spec('log', p)),
    ...files.json.map((p) => spec('json', p)),
  ];
  for (const s of specs) {
    let level = ['/'];
    for (const seg of path.dirname(s.pattern).split('/').filter(Boolean)) {
      const next: string[] = [];
      for (const dir of level) {
        if (seg === '**') {
          for (const d of subdirs(dir, maxDirs)) {
            role(d).anyDir = true;
            next.push(d);
          }
        } else if (!isGlob(seg)) {
          const child = path.join(dir, seg);
          if (isDir(child)) next.push(child);
          else role(dir).next.push((name) => name === seg); // wait for it here
        } else {
          const m = segmentMatcher(seg);
          role(dir).next.push(m);
          for (const name of listDirs(dir)) if (m(name)) next.push(path.join(dir, name));
        }
      }
      level = [...new Set(next)];
      if (plan.size > maxDirs) break;
    }
    for (const dir of level) role(dir).specs.push(s);
  }
  return plan;
}

function spec(kind: FileKind, pattern: string): Spec {
  const abs = path.resolve(pattern);
  return { kind, pattern: abs, matches: pathMatcher(abs) };
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function listDirs(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** `dir` and its subdirectories (not following symlinks), at most `max`. */
function subdirs(dir: string, max: number): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (out.length >= max) return;
    out.push(d);
    for (const name of listDirs(d)) if (!name.startsWith('.')) walk(path.join(d, name));
  };
  if (isDir(dir)) walk(dir);
  return out;
}

/** Watches the files of one config version; `onChange` is called for a change it should wake for. */
export class FileWatcher {
  private watchers = new Map<string, { w: fs.FSWatcher; ino: number }>();
  private plan = new Map<string, DirRole>();
  private files: WatchedFiles = { logs: [], json: [], own: new OwnFiles([], '/nonexistent') };
  private readonly known = new Map<string, Snapshot | null>();
  /** Reported a change since the last loop start: events are not stat-ed until the next one. */
  private reported = false;
  /** Files with events since the report (bounded: past `MAX_TOUCHED`, all are looked at again). */
  private readonly touched = new Set<string>();
  private overflow = false;
  private replanTimer?: NodeJS.Timeout;
  private closed = false;
  private warned = false;

  constructor(
    private readonly onChange: (kind: FileKind, file: string) => void,
    private readonly log?: (message: string) => void,
  ) {}

  /** Watches `files` from now on (a new config). */
  arm(files: WatchedFiles): void {
    this.files = files;
    this.snapshotAll();
    this.replan();
  }

  /**
   * Re-plans when the directories changed (a replaced or new directory), and takes a fresh view
   * of autofix's own files (their inodes change as they rotate): called now and then.
   */
  refresh(own?: OwnFiles): void {
    if (this.closed) return;
    if (own) this.files = { ...this.files, own };
    const plan = planWatch(this.files);
    const same = plan.size === this.watchers.size && [...plan.keys()].every((d) => this.watchers.get(d)?.ino === inoOf(d));
    if (!same) this.replan(plan);
  }

  /** A loop started: it reads everything changed so far; changes from now on count again. */
  loopStarted(): void {
    if (!this.reported) return;
    this.reported = false;
    if (this.overflow) this.snapshotAll();
    else for (const f of this.touched) this.remember(f, snapshot(f));
    this.touched.clear();
    this.overflow = false;
  }

  /** The directories watched now (for tests). */
  directories(): string[] {
    return [...this.watchers.keys()].sort();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.replanTimer);
    for (const { w } of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private replan(plan = planWatch(this.files)): void {
    if (this.closed) return;
    this.plan = plan;
    for (const [dir, { w }] of this.watchers) {
      if (!plan.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of plan.keys()) {
      const ino = inoOf(dir);
      const had = this.watchers.get(dir);
      if (had && had.ino === ino) continue;
      had?.w.close();
      this.watchers.delete(dir);
      try {
        const w = fs.watch(dir, { persistent: false }, (type, name) => this.onEvent(dir, type, name));
        w.on('error', () => this.soon());
        this.watchers.set(dir, { w, ino });
      } catch (err) {
        // ENOSPC: out of inotify watches. The scheduled loops still scan everything.
        if (!this.warned) this.log?.(`cannot watch ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)}); changes there wait for the next loop`);
        this.warned = true;
      }
    }
  }

  /** Re-plans shortly (events come in bunches: a new directory, then files in it). */
  private soon(): void {
    if (this.replanTimer || this.closed) return;
    this.replanTimer = setTimeout(() => {
      this.replanTimer = undefined;
      this.replan();
    }, 50).unref();
  }

  private onEvent(dir: string, type: string, name: string | Buffer | null): void {
    const role = this.plan.get(dir);
    if (!role || this.closed) return;
    if (name === null) {
      // No name (queue overflow): anything here may have changed.
      for (const s of role.specs) this.report(s.kind, dir);
      return;
    }
    const base = String(name);
    const file = path.join(dir, base);
    if (type === 'rename' && (base === path.basename(dir) || role.next.some((m) => m(base)) || (role.anyDir && isDir(file)))) this.soon();
    for (const s of role.specs) if (s.matches(file)) this.check(s.kind, file);
  }

  private check(kind: FileKind, file: string): void {
    if (this.reported) {
      if (this.touched.size < MAX_TOUCHED) this.touched.add(file);
      else this.overflow = true;
      return;
    }
    // After the early return: while a wake is pending, a burst of lines costs no realpath each.
    if (this.isOwn(file)) return;
    const before = this.known.get(file) ?? null;
    const now = snapshot(file);
    this.remember(file, now);
    const changed =
      !before || !now || before.ino !== now.ino || before.size !== now.size || (kind === 'json' && before.mtimeMs !== now.mtimeMs);
    if (changed) this.report(kind, file);
  }

  private report(kind: FileKind, file: string): void {
    this.reported = true;
    this.touched.add(file);
    this.onChange(kind, file);
  }

  /** What the watched files look like now (the matches of every pattern). */
  private snapshotAll(): void {
    this.known.clear();
    for (const p of [...this.files.logs, ...this.files.json]) for (const f of filesOf(p)) this.remember(f, snapshot(f));
  }

  /** Keeps the snapshots of existing files only, so names that come and go cannot grow the map. */
  private remember(file: string, s: Snapshot | null): void {
    if (s) this.known.set(file, s);
    else this.known.delete(file);
  }

  /** autofix's own files (its logs and their generations, data_dir; by path, real path or inode). */
  private isOwn(file: string): boolean {
    return this.files.own.reason(file) !== undefined;
  }
}

function snapshot(file: string): Snapshot | null {
  try {
    const st = fs.statSync(file);
    return st.isFile() ? { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs } : null;
  } catch {
    return null;
  }
}

function inoOf(dir: string): number {
  try {
    return fs.statSync(dir).ino;
  } catch {
    return -1;
  }
}
