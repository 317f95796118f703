/**
 * log_rotate: files over max_bytes are rotated f → f.1 (gzip'd to f.1.gz when `compress`),
 * older generations shifted, at most `keep` kept. In copy-truncate mode (default) the content is
 * copied and the file truncated in place, so a writer holding it open (Flask, gunicorn) keeps
 * writing to the same inode; bytes written between the copy and the truncate are lost, the known
 * price of copy-truncate.
 */
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { ActionSpec } from '../../config/schema';
import { errnoCode } from '../safety/errors';
import { tempNameFor } from '../safety/file-ops';
import { expandGlob } from '../safety/glob';
import type { ActionContext, ActionDefinition, BackupTarget } from './types';

type Spec = Extract<ActionSpec, { type: 'log_rotate' }>;

/** One rename/delete of an existing generation, in execution order. */
type Shift = { from: string; to: string | null };

interface FilePlan {
  file: string;
  size: number;
  mode: number;
  shifts: Shift[];
  newest: string;
}

interface Plan {
  files: FilePlan[];
  skipped: string[];
  settings: { maxBytes: number; keep: number; compress: boolean; copyTruncate: boolean };
}

const ROTATED = /\.\d+(\.gz)?$/;

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    (e: unknown) => (errnoCode(e) === 'ENOENT' ? false : Promise.reject(e)),
  );
}

async function buildPlan(ctx: ActionContext, spec: Spec): Promise<Plan> {
  const m = ctx.config.managed;
  const patterns = spec.files ?? (m.log_rotate.files.length > 0 ? m.log_rotate.files : ctx.config.watch.logs);
  const settings = {
    maxBytes: spec.max_bytes ?? m.log_rotate.max_bytes,
    keep: spec.keep ?? m.log_rotate.keep,
    compress: m.log_rotate.compress,
    copyTruncate: m.log_rotate.copy_truncate,
  };
  const files: FilePlan[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const pattern of patterns) {
    const { files: matched, skippedSymlinks } = await expandGlob(pattern, m.roots);
    skipped.push(...skippedSymlinks.map((s) => `${s}: symlink matched by a glob, not followed`));
    for (const file of matched) {
      if (seen.has(file) || (pattern !== file && ROTATED.test(file))) continue;
      seen.add(file);
      const st = await fsp.lstat(file).catch((e: unknown) => (errnoCode(e) === 'ENOENT' ? undefined : Promise.reject(e)));
      if (!st) continue;
      if (!st.isFile()) {
        skipped.push(`${file}: not a regular file`);
        continue;
      }
      if (st.size <= settings.maxBytes) continue;
      const shifts: Shift[] = [];
      for (let i = settings.keep; i >= 1; i--) {
        for (const ext of ['', '.gz']) {
          const from = `${file}.${i}${ext}`;
          if (await exists(from)) shifts.push({ from, to: i === settings.keep ? null : `${file}.${i + 1}${ext}` });
        }
      }
      files.push({ file, size: st.size, mode: st.mode & 0o7777, shifts, newest: `${file}.1${settings.compress ? '.gz' : ''}` });
    }
  }
  return { files, skipped, settings };
}

/** Everything rotation may change: the file and every generation name it may create or delete. */
function targetsOf(plan: Plan): BackupTarget[] {
  const out: BackupTarget[] = [];
  for (const f of plan.files) {
    out.push({ path: f.file });
    for (let i = 1; i <= plan.settings.keep; i++) out.push({ path: `${f.file}.${i}` }, { path: `${f.file}.${i}.gz` });
  }
  return out;
}

function stepsOf(plan: Plan): string[] {
  const s = plan.settings;
  const steps = plan.files.map((f) => {
    const parts = f.shifts.map((x) => (x.to ? `move ${x.from} → ${x.to}` : `delete ${x.from}`));
    parts.push(s.copyTruncate ? `copy${s.compress ? ' + gzip' : ''} → ${f.newest}; truncate ${f.file} in place` : `move → ${f.file}.1; recreate empty${s.compress ? `; gzip → ${f.newest}` : ''}`);
    return `rotate ${f.file} (${f.size} bytes > ${s.maxBytes}, keep ${s.keep}): ${parts.join('; ')}`;
  });
  return [...steps, ...plan.skipped.map((x) => `skip ${x}`)];
}

/** Streams `src` into a temp file next to `dest` (gzip'd if asked), then renames it into place. */
async function copyTo(src: string, dest: string, gzip: boolean, mode: number, signal: AbortSignal): Promise<void> {
  const tmp = tempNameFor(dest);
  try {
    const out = createWriteStream(tmp, { flags: 'wx', mode });
    if (gzip) await pipeline(createReadStream(src), createGzip(), out, { signal });
    else await pipeline(createReadStream(src), out, { signal });
    await fsp.rename(tmp, dest);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

async function rotateOne(f: FilePlan, plan: Plan, signal: AbortSignal): Promise<string[]> {
  const changed: string[] = [];
  for (const x of f.shifts) {
    if (x.to) await fsp.rename(x.from, x.to);
    else await fsp.rm(x.from, { force: true });
    changed.push(x.from);
    if (x.to) changed.push(x.to);
  }
  const { compress, copyTruncate } = plan.settings;
  if (copyTruncate) {
    await copyTo(f.file, f.newest, compress, f.mode, signal);
    await fsp.truncate(f.file, 0);
  } else {
    const st = await fsp.stat(f.file);
    await fsp.rename(f.file, `${f.file}.1`);
    const fh = await fsp.open(f.file, 'wx', f.mode);
    await fh.chown(st.uid, st.gid).catch(() => undefined); // same owner when we are allowed to
    await fh.close();
    if (compress) {
      await copyTo(`${f.file}.1`, f.newest, true, f.mode, signal);
      await fsp.unlink(`${f.file}.1`);
    }
  }
  changed.push(f.file, f.newest);
  return changed;
}

/** Rotates configured log files that grew over max_bytes. */
export const logRotate: ActionDefinition<Spec> = {
  type: 'log_rotate',
  mutates: true,
  async plan(ctx, spec) {
    const plan = await buildPlan(ctx, spec);
    return { steps: stepsOf(plan), targets: targetsOf(plan) };
  },
  async run(ctx, spec) {
    const plan = await buildPlan(ctx, spec);
    const changed: string[] = [];
    const rotated: Array<{ file: string; bytes: number; to: string }> = [];
    for (const f of plan.files) {
      ctx.signal.throwIfAborted();
      changed.push(...(await rotateOne(f, plan, ctx.signal)));
      rotated.push({ file: f.file, bytes: f.size, to: f.newest });
      ctx.log('INFO', `log_rotate: rotated ${f.file} (${f.size} bytes) → ${f.newest}`);
    }
    const summary = rotated.length ? `rotated ${rotated.length} log file(s): ${rotated.map((r) => r.file).join(', ')}` : `no log file over ${plan.settings.maxBytes} bytes`;
    return { type: 'log_rotate', summary, changed: [...new Set(changed)], details: { rotated, skipped: plan.skipped, ...plan.settings } };
  },
};
