/**
 * autofix's own files are never input. auto_fix.log, alerts.log, their rotated generations and
 * everything under `daemon.data_dir` are left out of watching, whatever `watch.logs` and
 * `watch.json_files` say: a watched `logs/*.log` next to auto_fix.log would otherwise detect each
 * alert line again (a feedback loop), and the daemon's state files under data_dir would be
 * "repaired" as corrupt JSON.
 *
 * The watched directories may belong to the app's user, who can put a symlink or a hard link to
 * our files there; so a file is recognised by its path, by its real path, and by (dev, ino).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema';

/**
 * True when `name` is `base` or a rotated generation of it: `auto_fix.log.1`, `auto_fix.log.1.gz`,
 * `auto_fix.log-20251228`, `auto_fix.log.2025-12-28` (logrotate, Python's handlers, ours), or the
 * stem-and-extension forms `auto_fix-20251228.log`, `auto_fix.1.log`. The part added must start
 * with a separator and a digit, so `auto_fix_report.log` is not one.
 *
 * @example isGenerationOf('alerts.log.3', 'alerts.log') // true
 */
export function isGenerationOf(name: string, base: string): boolean {
  if (name === base) return true;
  const rotation = /^[-._]\d[\w.:-]*$/;
  if (name.startsWith(base) && rotation.test(name.slice(base.length))) return true;
  const ext = path.extname(base);
  const stem = base.slice(0, base.length - ext.length);
  if (!ext || !stem || !name.startsWith(stem) || !name.endsWith(ext) || name.length <= base.length) return false;
  return rotation.test(name.slice(stem.length, name.length - ext.length));
}

/**
 * The names `name` may be a rotated generation of (`app.log.1` → `app.log`; `app-20251228.log` →
 * `app.log`), nearest first; [] when it looks like no rotation.
 *
 * @example rotationBases('app.log.1') // ['app.log']
 */
export function rotationBases(name: string): string[] {
  const out = new Set<string>();
  for (let i = name.length - 1; i > 0; i--) {
    const base = name.slice(0, i);
    if (base !== name && /[-._]/.test(name[i] ?? '') && isGenerationOf(name, base)) out.add(base);
  }
  const m = /^(.+?)([-._]\d[\w.:-]*)(\.[A-Za-z]\w*)$/.exec(name); // stem-<rotation>.ext
  if (m && isGenerationOf(name, `${m[1]}${m[3]}`)) out.add(`${m[1]}${m[3]}`);
  return [...out];
}

/** `child` is `parent` or lies below it (both absolute, normalised). */
function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function realpathOr(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/** The real path of `p`'s directory joined with its name (`p` itself may not exist yet). */
function realDirJoin(p: string): string {
  return path.join(realpathOr(path.dirname(p)), path.basename(p));
}

/**
 * Decides which files are autofix's own. Built once per loop (it takes a snapshot of the own
 * logs' inodes), then asked about each file a watch glob expands to.
 */
export class OwnFiles {
  private readonly logs: string[];
  private readonly dataDirs: string[];
  private readonly inodes = new Set<string>();

  /**
   * @param logs auto_fix.log and alerts.log (absolute paths).
   * @param dataDir `daemon.data_dir` (absolute).
   */
  constructor(logs: string[], dataDir: string) {
    this.logs = [...new Set(logs.flatMap((l) => [path.resolve(l), realDirJoin(path.resolve(l))]))];
    this.dataDirs = [...new Set([path.resolve(dataDir), realpathOr(path.resolve(dataDir))])];
    for (const log of this.logs) this.snapshotInodes(log);
  }

  /** The own files of a config (its log paths as `--log-file` may have moved them). */
  static of(config: Pick<Config, 'daemon'>): OwnFiles {
    const d = config.daemon;
    const logs = [d.log_file, d.alerts_file ?? path.join(path.dirname(d.log_file), 'alerts.log')];
    return new OwnFiles(logs, d.data_dir);
  }

  /** Records (dev, ino) of every existing generation of `log`, so a hard link to one is recognised. */
  private snapshotInodes(log: string): void {
    let names: string[];
    try {
      names = fs.readdirSync(path.dirname(log));
    } catch {
      return;
    }
    for (const name of names) {
      if (!isGenerationOf(name, path.basename(log))) continue;
      try {
        const st = fs.statSync(path.join(path.dirname(log), name));
        this.inodes.add(`${st.dev}:${st.ino}`);
      } catch {
        // gone since readdir: nothing to recognise
      }
    }
  }

  /** Why `p` (lexically or really) names an own file, or undefined. */
  private pathReason(p: string): string | undefined {
    for (const dir of this.dataDirs) if (isInside(p, dir)) return `under daemon.data_dir ${dir}`;
    for (const log of this.logs) {
      if (path.dirname(p) === path.dirname(log) && isGenerationOf(path.basename(p), path.basename(log))) {
        return `autofix's own log ${path.basename(log)} (or a rotated generation of it)`;
      }
    }
    return undefined;
  }

  /**
   * Why `file` is one of autofix's own files (a sentence for auto_fix.log), or undefined when it
   * may be watched. `st`, when given, is the file's stat (checked for a hard link to an own log).
   *
   * @example OwnFiles.of(cfg).reason('/srv/backend/logs/auto_fix.log') // "autofix's own log auto_fix.log …"
   */
  reason(file: string, st?: fs.Stats): string | undefined {
    const abs = path.resolve(file);
    const lexical = this.pathReason(abs);
    if (lexical) return lexical;
    const real = realpathOr(abs);
    if (real !== abs) {
      const viaLink = this.pathReason(real);
      if (viaLink) return `${viaLink}, through a symlink`;
    }
    if (st && this.inodes.has(`${st.dev}:${st.ino}`)) return "a hard link to autofix's own log";
    return undefined;
  }
}
