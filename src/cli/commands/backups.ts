/**
 * `autofix backups list|show|prune`: what the backup store holds (one row per saga run), one
 * run's backups in detail, and retention applied now (`backups.max_age_days`,
 * `backups.max_total_mb`; the daemon also applies it every detection loop). Tables by default,
 * `--json` for scripts. Reads the worker's config file for where the store is.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../../config/load';
import { backupRootFor } from '../../backup';
import { readManifest } from '../../backup/manifest';
import { listBackups, planPrune, pruneBackups, pruneLine, retentionOf, type RunBackups } from '../../backup/retention';
import { writeAutoFixLog } from '../../logging';
import { CliError, printJson, printTable } from '../output';

const configOption = ['--config <path>', 'config file', process.env.AUTOFIX_CONFIG ?? DEFAULT_CONFIG_PATH] as const;

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

/** One row of `backups list`. */
function rowOf(u: RunBackups) {
  return {
    incident: u.incidentId,
    run: u.runId ?? '(older layout)',
    created: new Date(u.createdMs).toISOString(),
    bytes: u.bytes,
    steps: u.steps.map((s) => `${s.label}:${s.mode}`),
    other: u.other,
    pendingSpill: u.pendingSpill,
    dir: u.dir,
  };
}

/** The run(s) a `show` argument names: an incident id, a run id or a folder. */
function select(list: RunBackups[], what: string): RunBackups[] {
  return list.filter((u) => u.incidentId === what || u.runId === what || u.dir === path.resolve(what));
}

/** Registers `backups`. */
export function registerBackupCommands(program: Command): void {
  const backups = program.command('backups').description('What the backup store holds, and its retention');
  backups
    .command('list')
    .description('One row per saga run: its backups, their size and mode (content / manifest)')
    .option(...configOption)
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const cfg = loadConfig(opts.config);
      const list = await listBackups(backupRootFor(cfg));
      if (opts.json) return printJson({ store: backupRootFor(cfg), runs: list.map(rowOf) });
      if (list.length === 0) return void process.stdout.write(`no backups in ${backupRootFor(cfg)}\n`);
      printTable(
        ['incident', 'run', 'created', 'size', 'backups', 'note'],
        list.map((u) => [u.incidentId, (u.runId ?? '(older layout)').slice(0, 13), new Date(u.createdMs).toISOString(), mb(u.bytes), rowOf(u).steps.join(' '), u.pendingSpill ? 'unfinished rotation: kept' : u.other.join(' ')]),
      );
      const total = list.reduce((n, u) => n + u.bytes, 0);
      process.stdout.write(`${list.length} run(s), ${mb(total)} in ${backupRootFor(cfg)} (limits: ${cfg.backups.max_age_days} days, ${cfg.backups.max_total_mb} MB)\n`);
    });
  backups
    .command('show')
    .description('The backups of an incident or run: each path, its size and sha256, and why a backup holds no copies')
    .argument('<incident-or-run>', 'an incident id, a run id or a backup folder')
    .option(...configOption)
    .option('--json', 'print JSON')
    .action(async (what: string, opts: { config: string; json?: boolean }) => {
      const cfg = loadConfig(opts.config);
      const units = select(await listBackups(backupRootFor(cfg)), what);
      if (units.length === 0) throw new CliError(`no backup of "${what}" in ${backupRootFor(cfg)} (see: autofix backups list)`);
      const detail = [];
      for (const u of units) {
        for (const s of u.steps) {
          const m = await readManifest(s.dir);
          detail.push({ ...rowOf(u), stepDir: s.dir, label: s.label, mode: s.mode, reason: s.reason, keepsDeletions: s.keepsDeletions, entries: m?.entries ?? [], redis: m?.redis });
        }
      }
      if (opts.json) return printJson(detail);
      for (const d of detail) {
        process.stdout.write(`${d.incident} run ${d.run} — ${d.label} (${d.mode}${d.keepsDeletions ? ', frees space: never undone' : ''}) in ${d.stepDir}\n`);
        if (d.reason) process.stdout.write(`  no copies: ${d.reason}\n`);
        if (d.redis) process.stdout.write(`  Redis keys under ${JSON.stringify(d.redis.prefix)} dumped to ${d.redis.file}\n`);
        printTable(
          ['path', 'kind', 'size', 'sha256', 'copy'],
          d.entries.flatMap((e) => [
            [e.path, e.kind, e.size, e.sha256?.slice(0, 16), e.stored ?? (e.metadataOnly ? 'metadata only' : '')],
            ...(e.children ?? []).map((c) => [path.join(e.path, c.rel), c.kind, c.size, c.sha256?.slice(0, 16), c.skipped ?? (e.stored ? path.join(e.stored, c.rel) : '')]),
          ]),
        );
      }
    });
  backups
    .command('prune')
    .description('Apply retention now: older than backups.max_age_days, then oldest first down to backups.max_total_mb (the last hour is kept)')
    .option(...configOption)
    .option('--dry-run', 'only say what would be removed')
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; dryRun?: boolean; json?: boolean }) => {
      const cfg = loadConfig(opts.config);
      const store = backupRootFor(cfg);
      const pruned = opts.dryRun ? planPrune(await listBackups(store), retentionOf(cfg), Date.now()) : await pruneBackups(store, retentionOf(cfg));
      if (!opts.dryRun && pruned.length > 0) await writeAutoFixLog(cfg, pruned.map((p) => ({ level: 'INFO' as const, message: pruneLine(p) })));
      if (opts.json) return printJson({ dryRun: opts.dryRun === true, pruned: pruned.map((p) => ({ ...rowOf(p.unit), why: p.why })) });
      if (pruned.length === 0) return void process.stdout.write(`nothing to prune in ${store}\n`);
      printTable(['incident', 'run', 'created', 'size', 'why'], pruned.map((p) => [p.unit.incidentId, p.unit.runId ?? '', new Date(p.unit.createdMs).toISOString(), mb(p.unit.bytes), p.why]));
      process.stdout.write(`${opts.dryRun ? 'would remove' : 'removed'} ${pruned.length} run(s), ${mb(pruned.reduce((n, p) => n + p.unit.bytes, 0))}\n`);
    });
}
