/**
 * backup_and_fix_json: for each configured JSON file (`managed.json_files`; spec `files` narrows
 * them) that does not parse, keeps the corrupt bytes in the backup folder
 * (`<data_dir>/backups/<incident>/corrupt-json/<sha12>-<name>`, not next to the file, so the
 * app's directory gets no clutter), then restores the newest copy that parses — from earlier
 * autofix backups or `<file>.bak*` siblings — or else writes the configured `default_content`.
 * The new content is validated in a temp file before an atomic rename: invalid JSON is never
 * written. A file that parses is left alone.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ActionSpec } from '../../config/schema';
import { backupRootFor, findBackedUpCopies } from '../backup';
import { safeComponent } from '../backup/manifest';
import { configError, errnoCode, refused } from '../safety/errors';
import { copyFileAtomic, sha256File, writeFileAtomic } from '../safety/file-ops';
import { resolveInsideRoots } from '../safety/paths';
import type { ActionContext, ActionDefinition } from './types';

type Spec = Extract<ActionSpec, { type: 'backup_and_fix_json' }>;

/** Files larger than this are not parsed (or restored from); JSON.parse needs them whole. */
const MAX_JSON_BYTES = 64 * 1024 * 1024;

interface Repair {
  file: string;
  state: 'corrupt' | 'missing';
  mode: number;
  uid?: number;
  gid?: number;
  source: { kind: 'backup' | 'bak' | 'default'; from?: string; content?: string };
}

/** True when the file is small enough and parses as JSON. */
async function parsesAsJson(file: string): Promise<boolean> {
  try {
    const st = await fsp.lstat(file);
    if (!st.isFile() || st.size > MAX_JSON_BYTES) return false;
    JSON.parse(await fsp.readFile(file, 'utf8'));
    return true;
  } catch {
    return false;
  }
}

async function assertJson(tmp: string): Promise<void> {
  if (!(await parsesAsJson(tmp))) throw new Error(`refusing to install ${tmp}: it does not parse as JSON`);
}

/** `<name>.bak*` regular files next to the file (symlinks ignored), with their mtimes. */
async function bakSiblings(file: string): Promise<Array<{ file: string; mtimeMs: number }>> {
  const dir = path.dirname(file);
  const base = path.basename(file) + '.bak';
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const out: Array<{ file: string; mtimeMs: number }> = [];
  for (const n of names.filter((x) => x.startsWith(base))) {
    const st = await fsp.lstat(path.join(dir, n)).catch(() => undefined);
    if (st?.isFile()) out.push({ file: path.join(dir, n), mtimeMs: st.mtimeMs });
  }
  return out;
}

async function buildPlan(ctx: ActionContext, spec: Spec): Promise<{ repairs: Repair[]; valid: string[] }> {
  const m = ctx.config.managed;
  const configured = new Map(m.json_files.map((j) => [path.resolve(j.path), j]));
  const wanted = spec.files ?? [...configured.keys()];
  const repairs: Repair[] = [];
  const valid: string[] = [];
  for (const f of wanted) {
    const entry = configured.get(path.resolve(f));
    if (!entry) throw configError(`backup_and_fix_json: "${f}" is not in managed.json_files (configured: ${[...configured.keys()].join(', ') || 'none'})`);
    const real = await resolveInsideRoots(entry.path, m.roots);
    const st = await fsp.lstat(real).catch((e: unknown) => (errnoCode(e) === 'ENOENT' ? undefined : Promise.reject(e)));
    if (st && !st.isFile()) throw refused(`backup_and_fix_json: "${real}" is not a regular file; not replacing it`);
    if (!st && !(await fsp.lstat(path.dirname(real)).then((d) => d.isDirectory(), () => false))) {
      throw refused(`backup_and_fix_json: "${real}" is missing and so is its directory; create_missing_dirs should run first`);
    }
    if (st && (await parsesAsJson(real))) {
      valid.push(real);
      continue;
    }
    const candidates = [
      ...(await findBackedUpCopies(backupRootFor(ctx.config), real)).map((c) => ({ ...c, kind: 'backup' as const })),
      ...(await bakSiblings(real)).map((c) => ({ ...c, kind: 'bak' as const })),
    ].sort((a, b) => b.mtimeMs - a.mtimeMs);
    let source: Repair['source'] | undefined;
    for (const c of candidates) {
      if (await parsesAsJson(c.file)) {
        source = { kind: c.kind, from: c.file };
        break;
      }
    }
    if (!source && entry.default_content !== undefined) source = { kind: 'default', content: JSON.stringify(entry.default_content, null, 2) + '\n' };
    if (!source) {
      throw refused(`backup_and_fix_json: "${real}" does not parse and there is no valid backup (autofix backups, ${path.basename(real)}.bak*) and no default_content in managed.json_files`);
    }
    repairs.push({ file: real, state: st ? 'corrupt' : 'missing', mode: st ? st.mode & 0o7777 : 0o640, uid: st?.uid, gid: st?.gid, source });
  }
  return { repairs, valid };
}

/** Keeps the corrupt bytes in the incident's backup folder; same content → same name. */
async function keepCorrupt(ctx: ActionContext, file: string): Promise<string> {
  const dir = path.join(backupRootFor(ctx.config), safeComponent(ctx.incident.incidentId, 'incident id'), 'corrupt-json');
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const dest = path.join(dir, `${(await sha256File(file)).slice(0, 12)}-${path.basename(file)}`);
  await fsp.copyFile(file, dest).catch((e: unknown) => (errnoCode(e) === 'EEXIST' ? undefined : Promise.reject(e)));
  return dest;
}

function describe(r: Repair): string {
  const from = r.source.kind === 'default' ? 'the configured default_content' : `${r.source.kind === 'backup' ? 'autofix backup' : 'sibling'} ${r.source.from}`;
  return `${r.state === 'corrupt' ? 'repair corrupt' : 'recreate missing'} ${r.file} from ${from}`;
}

/** Repairs configured JSON files that do not parse. */
export const backupAndFixJson: ActionDefinition<Spec> = {
  type: 'backup_and_fix_json',
  mutates: true,
  async plan(ctx, spec) {
    const { repairs, valid } = await buildPlan(ctx, spec);
    const steps = [...repairs.map(describe), ...valid.map((f) => `skip ${f}: parses`)];
    return { steps, targets: repairs.map((r) => ({ path: r.file })) };
  },
  async run(ctx, spec) {
    const { repairs, valid } = await buildPlan(ctx, spec);
    const done: Array<Record<string, unknown>> = [];
    for (const r of repairs) {
      ctx.signal.throwIfAborted();
      const corruptCopy = r.state === 'corrupt' ? await keepCorrupt(ctx, r.file) : undefined;
      if (r.source.kind === 'default') await writeFileAtomic(r.file, r.source.content ?? '', r.mode, assertJson);
      else await copyFileAtomic(r.source.from ?? '', r.file, r.mode, assertJson);
      if (r.uid !== undefined && r.gid !== undefined) await fsp.lchown(r.file, r.uid, r.gid).catch(() => undefined); // keep the owner when allowed
      ctx.log('INFO', `backup_and_fix_json: ${describe(r)}${corruptCopy ? `; corrupt copy kept at ${corruptCopy}` : ''}`);
      done.push({ file: r.file, state: r.state, source: r.source.kind, from: r.source.from, corrupt_copy: corruptCopy });
    }
    return {
      type: 'backup_and_fix_json',
      summary: repairs.length ? `repaired ${repairs.length} JSON file(s): ${repairs.map((r) => `${path.basename(r.file)} (${r.source.kind})`).join(', ')}` : 'all JSON files parse',
      changed: repairs.map((r) => r.file),
      details: { repaired: done, valid },
    };
  },
};
