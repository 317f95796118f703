/**
 * backup_and_fix_json: repairs JSON files that do not parse — and only those.
 *
 * Which files: the detected one when the incident came from a watched JSON file (the activities
 * checked it is one the config watches); otherwise (a JSONDecodeError in a log) every watched and
 * every `managed.json_files` file; spec `files` narrows either. A file that parses is never
 * touched. A file over 64 MiB cannot be checked (JSON.parse needs it whole): it is skipped and an
 * alert says so — never "repaired" on the guess that it is broken.
 *
 * What it puts back: the last known good version the daemon saw (src/backup/json-good.ts), else
 * the file's `default_content` (managed.json_files), else the newest `<file>.bak*` sibling that
 * parses. The corrupt bytes are kept as a backup either way, in this run's backup folder
 * (`<store>/<incident>/<run>/corrupt-json/<sha12>-<name>`). The new content is validated, written
 * to an O_EXCL temp file in the pinned directory and renamed over the file (mode and owner kept).
 *
 * The file, its directory and its `.bak*` siblings are reached through fds from the pinned
 * managed root (src/fs-safe): each is opened O_NOFOLLOW and compared with what the plan saw, a
 * hard-linked file is neither copied nor replaced.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import picomatch from 'picomatch';
import type { ActionSpec } from '../config/schema';
import {
  ensureTrustedStore,
  expandGlob,
  hasGlob,
  identityOf,
  openBelow,
  raced,
  replaceFileAt,
  sameIdentity,
  symlinkRefused,
  withFile,
  withRoots,
  type DirHandle,
  type Identity,
  type Location,
  type Roots,
} from '../fs-safe';
import { backupRootFor } from '../backup';
import { makeDirsDurably, writeDurably } from '../backup/durable';
import { MAX_JSON_BYTES, lastGoodJson, parsesAsJson } from '../backup/json-good';
import { safeComponent } from '../backup/manifest';
import { sendNotification } from '../notify';
import { configError, errnoCode, refused } from '../safety/errors';
import type { ActionContext, ActionDefinition } from './types';

type Spec = Extract<ActionSpec, { type: 'backup_and_fix_json' }>;

type Source =
  | { kind: 'last-good'; from: string; data: Buffer }
  | { kind: 'default'; content: string }
  | { kind: 'bak'; from: string; name: string; id: Identity };

interface Repair {
  file: string;
  loc: Location;
  /** The directory holding it, as planned. */
  dirId: Identity;
  state: 'corrupt' | 'missing';
  /** The corrupt file as planned. */
  id?: Identity;
  mode: number;
  uid?: number;
  gid?: number;
  source: Source;
}

/** What the plan found: repairs, and files left alone with the reason. */
interface Plan {
  repairs: Repair[];
  valid: string[];
  skipped: Array<{ file: string; why: string; oversize?: number }>;
}

/**
 * The content of a regular file in `dir` when it is small enough, else undefined. `forCopy`
 * refuses (as undefined) a hard-linked file, whose content would be copied where others read it.
 */
async function readAt(dir: DirHandle, name: string, opts: { expect?: Identity; forCopy?: boolean } = {}): Promise<Buffer | undefined> {
  try {
    return await withFile(dir, name, { expect: opts.expect, ...(opts.forCopy ? { singleLinkFor: 'copy it' } : {}) }, async (f) =>
      f && f.stat.size <= MAX_JSON_BYTES ? await f.fh.readFile() : undefined,
    );
  } catch (e) {
    if ((e as { type?: string }).type === 'RefusedError' || (e as { type?: string }).type === 'UnsafePathError') return undefined;
    throw e;
  }
}

/** `<name>.bak*` regular files next to the file (symlinks ignored), newest first. */
async function bakSiblings(dir: DirHandle, name: string): Promise<Array<{ name: string; file: string; mtimeMs: number; id: Identity }>> {
  const out = [];
  for (const n of (await dir.list()).filter((x) => x.startsWith(`${name}.bak`))) {
    const st = await dir.lstat(n);
    if (st?.isFile() && st.nlink === 1) out.push({ name: n, file: dir.child(n), mtimeMs: st.mtimeMs, id: identityOf(st) });
  }
  return out.sort((a, b) => b.mtimeMs - a.mtimeMs);
}

/** The source: the last known good version, else default_content, else the newest valid .bak. */
async function pickSource(ctx: ActionContext, dir: DirHandle, loc: Location, defaultContent: unknown): Promise<Source | undefined> {
  const good = await lastGoodJson(ctx.config, loc.path);
  if (good) return { kind: 'last-good', from: good.file, data: good.data };
  if (defaultContent !== undefined) return { kind: 'default', content: JSON.stringify(defaultContent, null, 2) + '\n' };
  for (const c of await bakSiblings(dir, loc.rel[loc.rel.length - 1]!)) {
    const data = await readAt(dir, c.name, { expect: c.id, forCopy: true });
    if (data && parsesAsJson(data)) return { kind: 'bak', from: c.file, name: c.name, id: c.id };
  }
  return undefined;
}

/** The pinned directory of a located file; undefined when it is missing. */
async function openParent(loc: Location): Promise<DirHandle | undefined> {
  const below = loc.root.dir && loc.rel.length > 0 ? await openBelow(loc.root.dir, loc.rel.slice(0, -1)) : undefined;
  if (!below || below.rest.length > 0) {
    await below?.dir.close();
    return undefined;
  }
  return below.dir;
}

/** One candidate file: what it is, and whether it may be recreated when missing. */
interface Candidate {
  loc: Location;
  defaultContent: unknown;
  /** Listed in managed.json_files: a missing file may be recreated from a source. */
  configured: boolean;
}

async function planOne(ctx: ActionContext, c: Candidate, plan: Plan): Promise<void> {
  const { loc } = c;
  const dir = await openParent(loc);
  if (!dir) {
    if (c.configured) throw refused(`backup_and_fix_json: "${loc.path}" is missing and so is its directory; create_missing_dirs should run first`);
    plan.skipped.push({ file: loc.path, why: 'missing (nothing to repair)' });
    return;
  }
  try {
    const name = loc.rel[loc.rel.length - 1]!;
    const st = await dir.lstat(name);
    if (st && !st.isFile()) {
      if (st.isSymbolicLink()) throw symlinkRefused(loc.path);
      throw refused(`backup_and_fix_json: "${loc.path}" is not a regular file; not replacing it`);
    }
    if (!st && !c.configured) {
      plan.skipped.push({ file: loc.path, why: 'missing; only a managed.json_files entry is recreated' });
      return;
    }
    if (st && st.size > MAX_JSON_BYTES) {
      plan.skipped.push({ file: loc.path, why: `${st.size} bytes, over the ${MAX_JSON_BYTES} bytes it can check: left as it is`, oversize: st.size });
      return;
    }
    if (st) {
      const data = await readAt(dir, name, { expect: identityOf(st) });
      if (data === undefined) throw raced(loc.path, 'it changed while it was checked');
      if (parsesAsJson(data)) {
        plan.valid.push(loc.path);
        return;
      }
    }
    const source = await pickSource(ctx, dir, loc, c.defaultContent);
    if (!source) {
      throw refused(
        `backup_and_fix_json: "${loc.path}" does not parse and there is nothing to restore: no last known good copy (the daemon keeps one whenever a watched file parses), no default_content in managed.json_files, no valid ${name}.bak*`,
      );
    }
    plan.repairs.push({ file: loc.path, loc, dirId: dir.id, state: st ? 'corrupt' : 'missing', id: st && identityOf(st), mode: st ? st.mode & 0o7777 : 0o640, uid: st?.uid, gid: st?.gid, source });
  } finally {
    await dir.close();
  }
}

/** The paths of the watched JSON files (globs expanded) and of managed.json_files. */
async function knownFiles(ctx: ActionContext, roots: Roots): Promise<string[]> {
  const out = new Set(ctx.config.managed.json_files.map((j) => path.resolve(j.path)));
  for (const p of ctx.config.watch.json_files) {
    if (!hasGlob(p)) out.add(path.resolve(p));
    else for (const m of (await expandGlob(roots, p).catch(() => ({ matches: [] }))).matches) if (m.stat.isFile()) out.add(m.loc.path);
  }
  return [...out];
}

/** True when `file` is one the config names: watched (glob or path) or in managed.json_files. */
function isKnown(ctx: ActionContext, file: string): boolean {
  const c = ctx.config;
  return c.managed.json_files.some((j) => path.resolve(j.path) === file) || c.watch.json_files.some((w) => w === file || picomatch.isMatch(file, w));
}

/** The files this run looks at (see the module comment). */
async function candidatesOf(ctx: ActionContext, spec: Spec, roots: Roots): Promise<string[]> {
  const d = ctx.incident.detection;
  const narrow = spec.files?.map((f) => path.resolve(f));
  for (const f of narrow ?? []) {
    if (!isKnown(ctx, f)) throw configError(`backup_and_fix_json: "${f}" is neither a watched JSON file (watch.json_files) nor in managed.json_files`);
  }
  if (d.source === 'json' && d.file !== undefined) {
    const file = path.resolve(d.file);
    return !narrow || narrow.includes(file) ? [file] : [];
  }
  return narrow ?? (await knownFiles(ctx, roots));
}

async function buildPlan(ctx: ActionContext, spec: Spec, roots: Roots): Promise<Plan> {
  const configured = new Map(ctx.config.managed.json_files.map((j) => [path.resolve(j.path), j]));
  const plan: Plan = { repairs: [], valid: [], skipped: [] };
  const located: Candidate[] = [];
  for (const f of await candidatesOf(ctx, spec, roots)) {
    const entry = configured.get(f);
    // Every file must lie inside the roots: all are located before any is looked at.
    located.push({ loc: await roots.locate(f), defaultContent: entry?.default_content, configured: entry !== undefined });
  }
  for (const c of located) await planOne(ctx, c, plan);
  return plan;
}

/** Keeps the corrupt bytes in this run's backup folder (fsynced); same content → same name. */
async function keepCorrupt(ctx: ActionContext, file: string, data: Buffer): Promise<string> {
  const store = ctx.backup?.store ?? backupRootFor(ctx.config);
  await ensureTrustedStore(store);
  // Inside the trusted store (only root or the worker can change it), paths are safe to use.
  const runDir = ctx.backup?.run ?? path.join(store, safeComponent(ctx.incident.incidentId, 'incident id'));
  const dir = await makeDirsDurably(store, [...path.relative(store, runDir).split(path.sep), 'corrupt-json']);
  const dest = path.join(dir, `${createHash('sha256').update(data).digest('hex').slice(0, 12)}-${path.basename(file)}`);
  await writeDurably(dest, data, 0o600).catch((e: unknown) => (errnoCode(e) === 'EEXIST' ? undefined : Promise.reject(e)));
  return dest;
}

/** The validated new content (a sibling re-read now, from the planned inode). */
async function contentOf(r: Repair, dir: DirHandle): Promise<Buffer> {
  const s = r.source;
  const data = s.kind === 'default' ? Buffer.from(s.content) : s.kind === 'last-good' ? s.data : await readAt(dir, s.name, { expect: s.id, forCopy: true });
  if (!data || !parsesAsJson(data)) throw new Error(`refusing to install ${s.kind === 'default' ? 'default_content' : s.from} over ${r.file}: it does not parse as JSON (any more)`);
  return data;
}

/** Repairs one planned file inside its pinned directory; returns where the corrupt bytes were kept. */
async function repairOne(ctx: ActionContext, r: Repair): Promise<string | undefined> {
  const dir = await openParent(r.loc);
  if (!dir) throw raced(r.file, 'its directory is gone');
  try {
    if (!sameIdentity(dir.id, r.dirId)) throw raced(path.dirname(r.file), 'its directory is not the one planned');
    const name = r.loc.rel[r.loc.rel.length - 1]!;
    let corruptCopy: string | undefined;
    if (r.state === 'corrupt') {
      const bytes = await withFile(dir, name, { expect: r.id, singleLinkFor: 'repair it' }, async (f) => f && (await f.fh.readFile()));
      if (!bytes) return undefined; // gone since the plan: nothing to repair
      if (parsesAsJson(bytes)) return undefined; // the app fixed it meanwhile: never touch a file that parses
      corruptCopy = await keepCorrupt(ctx, r.file, bytes);
    }
    const content = await contentOf(r, dir);
    await replaceFileAt(dir, name, (fh) => fh.writeFile(content), { mode: r.mode, uid: r.uid, gid: r.gid }); // owner kept when allowed
    return corruptCopy;
  } finally {
    await dir.close();
  }
}

function describe(r: Repair): string {
  const from = r.source.kind === 'default' ? 'the configured default_content' : r.source.kind === 'last-good' ? `its last known good copy ${r.source.from}` : `sibling ${r.source.from}`;
  return `${r.state === 'corrupt' ? 'repair corrupt' : 'recreate missing'} ${r.file} from ${from}`;
}

/** Alerts about files too large to check (once per incident and file). */
async function alertOversize(ctx: ActionContext, plan: Plan): Promise<void> {
  for (const s of plan.skipped.filter((x) => x.oversize !== undefined)) {
    ctx.log('WARNING', `backup_and_fix_json: skipped ${s.file}: ${s.why}`);
    await sendNotification(ctx.config, {
      severity: 'warning',
      message: `backup_and_fix_json skipped ${s.file}: ${s.why}; check it by hand`,
      incidentId: ctx.incident.incidentId,
      patternId: ctx.incident.patternId,
      dedupeKey: `json-oversize:${ctx.incident.incidentId}:${s.file}`,
      details: { file: s.file, bytes: s.oversize },
    });
  }
}

/** Repairs JSON files that do not parse. */
export const backupAndFixJson: ActionDefinition<Spec> = {
  type: 'backup_and_fix_json',
  mutates: true,
  async plan(ctx, spec) {
    const plan = await withRoots(ctx.config.managed.roots, (roots) => buildPlan(ctx, spec, roots));
    const steps = [...plan.repairs.map(describe), ...plan.valid.map((f) => `skip ${f}: parses`), ...plan.skipped.map((s) => `skip ${s.file}: ${s.why}`)];
    return { steps, targets: plan.repairs.map((r) => ({ path: r.file })) };
  },
  async run(ctx, spec) {
    const done: Array<Record<string, unknown>> = [];
    const plan = await withRoots(ctx.config.managed.roots, async (roots) => {
      const plan = await buildPlan(ctx, spec, roots);
      for (const r of plan.repairs) {
        ctx.signal.throwIfAborted();
        const corruptCopy = await repairOne(ctx, r);
        ctx.log('INFO', `backup_and_fix_json: ${describe(r)}${corruptCopy ? `; corrupt copy kept at ${corruptCopy}` : ''}`);
        done.push({ file: r.file, state: r.state, source: r.source.kind, from: r.source.kind === 'default' ? undefined : r.source.from, corrupt_copy: corruptCopy });
      }
      return plan;
    });
    await alertOversize(ctx, plan);
    const { repairs, valid, skipped } = plan;
    const parts = [
      ...(repairs.length ? [`repaired ${repairs.length} JSON file(s): ${repairs.map((r) => `${path.basename(r.file)} (${r.source.kind})`).join(', ')}`] : []),
      ...skipped.map((s) => `skipped ${path.basename(s.file)}: ${s.why}`),
    ];
    return {
      type: 'backup_and_fix_json',
      summary: parts.join('; ') || 'all JSON files parse',
      changed: repairs.map((r) => r.file),
      details: { repaired: done, valid, skipped },
    };
  },
};
