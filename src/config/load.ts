/**
 * Loads and validates a config file once, at the edge. Everything after this sees a `Config`
 * with defaults applied, environment overrides taken and relative paths made absolute.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { configSchema, type Config } from './schema';
import { ConfigError } from './errors';
import { checkPatternSafety } from '../detection/pattern-safety';
import { describeJsonError } from '../detection/json-check';

/** The default config shipped with autofix (seed-compatible, all twelve pattern ids). */
export const DEFAULT_CONFIG_PATH = path.resolve(__dirname, '../../../config/error_patterns.json');

/** Formats a zod issue path as a JSON path: `$.error_patterns[3].actions[0].type`. */
export function formatJsonPath(p: ReadonlyArray<PropertyKey>): string {
  return (
    '$' +
    p
      .map((k) => (typeof k === 'number' ? `[${k}]` : /^[A-Za-z_$][\w$]*$/.test(String(k)) ? `.${String(k)}` : `[${JSON.stringify(String(k))}]`))
      .join('')
  );
}

/**
 * Validates a parsed config object. `source` names the file in error messages and is the base
 * for relative paths.
 *
 * @example
 *   const cfg = parseConfig({ error_patterns: [] }, '/etc/autofix/error_patterns.json');
 */
export function parseConfig(raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: formatJsonPath(i.path), message: i.message }));
    throw new ConfigError(source, issues);
  }
  const cfg = result.data;
  cfg.error_patterns.forEach((p, i) => {
    let re: RegExp;
    try {
      re = new RegExp(p.pattern, p.flags);
    } catch (e) {
      throw new ConfigError(source, [
        { path: `$.error_patterns[${i}].pattern`, message: `not a valid regular expression: ${(e as Error).message}` },
      ]);
    }
    const unsafe = checkPatternSafety(p.pattern, re);
    if (unsafe) {
      throw new ConfigError(source, [{ path: `$.error_patterns[${i}].pattern`, message: unsafe }]);
    }
  });
  cfg.managed.kill_allow_list.forEach((rx, i) => {
    try {
      new RegExp(rx);
    } catch (e) {
      throw new ConfigError(source, [{ path: `$.managed.kill_allow_list[${i}]`, message: `not a valid regular expression: ${(e as Error).message}` }]);
    }
  });
  if (env.DATABASE_URL) cfg.health_checks.postgres.url = env.DATABASE_URL;
  if (env.REDIS_URL) cfg.health_checks.redis.url = env.REDIS_URL;
  resolvePaths(cfg, path.dirname(path.resolve(source)));
  return Object.assign(cfg, { source: path.resolve(source) });
}

/**
 * Reads, parses and validates a config file. Throws `ConfigError` (exit code 2 in the CLI) naming
 * the file, the JSON path and what was expected.
 */
export function loadConfig(file: string = DEFAULT_CONFIG_PATH, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [{ path: '$', message: `cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const where = describeJsonError(text, e as Error);
    throw new ConfigError(file, [{ path: '$', message: `not valid JSON: ${where.message}` }]);
  }
  return parseConfig(raw, file, env);
}

type Mutable = z.infer<typeof configSchema>;

/** Makes every configured path absolute, relative to the config file's directory. */
function resolvePaths(cfg: Mutable, base: string): void {
  const abs = (p: string) => (path.isAbsolute(p) ? path.normalize(p) : path.resolve(base, p));
  const d = cfg.daemon;
  d.data_dir = abs(d.data_dir);
  d.log_file = d.log_file ? abs(d.log_file) : path.join(d.data_dir, 'logs', 'auto_fix.log');
  d.alerts_file = d.alerts_file ? abs(d.alerts_file) : path.join(path.dirname(d.log_file), 'alerts.log');
  cfg.watch.logs = cfg.watch.logs.map(abs);
  cfg.watch.json_files = cfg.watch.json_files.map(abs);
  const m = cfg.managed;
  m.roots = m.roots.map(abs);
  for (const k of Object.keys(m.directories)) m.directories[k] = abs(m.directories[k] as string);
  m.cache_dirs = m.cache_dirs.map(abs);
  m.temp_dirs = m.temp_dirs.map(abs);
  m.old_file_dirs = m.old_file_dirs.map(abs);
  m.permissions = m.permissions.map((p) => ({ ...p, path: abs(p.path) }));
  m.log_rotate.files = m.log_rotate.files.map(abs);
  m.json_files = m.json_files.map((j) => ({ ...j, path: abs(j.path) }));
  for (const s of Object.values(cfg.services)) if (s.pid_file) s.pid_file = abs(s.pid_file);
  for (const p of cfg.error_patterns) {
    for (const a of p.actions) {
      if ((a.type === 'log_rotate' || a.type === 'backup_and_fix_json') && a.files) a.files = a.files.map(abs);
    }
  }
}

/** The JSON Schema of the config file (for editors and `autofix config schema`). */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}
