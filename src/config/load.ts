/**
 * Loads and validates a config file once, at the edge. Everything after this sees a `Config`
 * with defaults applied, environment overrides taken and relative paths made absolute.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { configSchema, type Config } from './schema';
import { ConfigError, type ConfigIssue } from './errors';
import { JsoncSyntaxError, parseJsonc } from './jsonc';
import { checkConfigRegexes, type RegexTranslation } from './regexes';

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

/** What loading a config found besides the config itself (for `autofix config check`). */
export interface LoadReport {
  /** The file used JSON extensions: comments, trailing commas. */
  comments: boolean;
  trailingCommas: boolean;
  /** Regexes translated from Python `re` syntax (the config holds the translations). */
  translations: RegexTranslation[];
  /** Non-fatal remarks (e.g. a ReDoS analysis that did not finish in time). */
  notes: ConfigIssue[];
}

/**
 * Validates a parsed config object and reports what it translated. `source` names the file in
 * error messages and is the base for relative paths.
 */
export function parseConfigWithReport(raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env): { config: Config; report: LoadReport } {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: formatJsonPath(i.path), message: i.message }));
    throw new ConfigError(source, issues);
  }
  const cfg = result.data;
  // Every regex field of the schema: Python syntax translated, compiled, ReDoS-checked.
  const regexes = checkConfigRegexes(configSchema, cfg, source, formatJsonPath);
  resolveEnvSecrets(cfg, source, env);
  if (env.DATABASE_URL) cfg.health_checks.postgres.url = env.DATABASE_URL;
  if (env.REDIS_URL) cfg.health_checks.redis.url = env.REDIS_URL;
  resolvePaths(cfg, path.dirname(path.resolve(source)));
  const config = Object.assign(cfg, { source: path.resolve(source) });
  return { config, report: { comments: false, trailingCommas: false, ...regexes } };
}

/**
 * Validates a parsed config object. `source` names the file in error messages and is the base
 * for relative paths.
 *
 * @example
 *   const cfg = parseConfig({ error_patterns: [] }, '/etc/autofix/error_patterns.json');
 */
export function parseConfig(raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfigWithReport(raw, source, env).config;
}

/**
 * Reads, parses (JSON with comments and trailing commas) and validates a config file, and
 * reports what it translated. Throws `ConfigError` (exit code 2 in the CLI) naming the file, the
 * JSON path (with line and column for syntax errors) and what was expected.
 */
export function loadConfigWithReport(file: string = DEFAULT_CONFIG_PATH, env: NodeJS.ProcessEnv = process.env): { config: Config; report: LoadReport } {
  const parsed = readConfigJsonc(file);
  const { config, report } = parseConfigWithReport(parsed.value, file, env);
  return { config, report: { ...report, comments: parsed.comments, trailingCommas: parsed.trailingCommas } };
}

/**
 * Reads a config file and parses it (JSON with comments and trailing commas), without validating
 * it. Errors name the file and, for a syntax error, the JSON path, line and column — never the
 * file's content (the message may reach logs, alerts and workflow histories).
 */
function readConfigJsonc(file: string): ReturnType<typeof parseJsonc> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [{ path: '$', message: `cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  try {
    return parseJsonc(text.replace(/^\uFEFF/, '')); // a byte-order mark (some editors write one) is not content
  } catch (e) {
    if (!(e instanceof JsoncSyntaxError)) throw e;
    throw new ConfigError(file, [{ path: formatJsonPath(e.path), message: `not valid JSON: ${e.message} at line ${e.line}, column ${e.column}` }]);
  }
}

/** The parsed (not yet validated) content of a config file: what the worker's config store keeps. */
export function readConfigFile(file: string): unknown {
  return readConfigJsonc(file).value;
}

/**
 * Reads, parses and validates a config file. Throws `ConfigError` (exit code 2 in the CLI) naming
 * the file, the JSON path and what was expected.
 */
export function loadConfig(file: string = DEFAULT_CONFIG_PATH, env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfigWithReport(file, env).config;
}

type Mutable = z.infer<typeof configSchema>;

/** Takes the secrets a config names by environment variable (`*_env`) from `env`. */
function resolveEnvSecrets(cfg: Mutable, source: string, env: NodeJS.ProcessEnv): void {
  const take = (name: string, where: string): string => {
    const v = env[name];
    if (v === undefined || v === '') throw new ConfigError(source, [{ path: where, message: `environment variable ${name} is not set; expected it to hold the secret` }]);
    return v;
  };
  const email = cfg.notifications.email;
  if (email?.pass_env) email.pass = take(email.pass_env, '$.notifications.email.pass_env');
  const hook = cfg.notifications.webhook;
  if (hook?.url_env) {
    const url = take(hook.url_env, '$.notifications.webhook.url_env');
    if (!URL.canParse(url)) throw new ConfigError(source, [{ path: '$.notifications.webhook.url_env', message: `environment variable ${hook.url_env} does not hold a URL` }]);
    hook.url = url;
  }
  for (const [header, name] of Object.entries(hook?.headers_env ?? {})) {
    if (hook) hook.headers[header] = take(name, `$.notifications.webhook.headers_env[${JSON.stringify(header)}]`);
  }
}

/** Makes every configured path absolute, relative to the config file's directory. */
function resolvePaths(cfg: Mutable, base: string): void {
  const abs = (p: string) => (path.isAbsolute(p) ? path.normalize(p) : path.resolve(base, p));
  const d = cfg.daemon;
  d.data_dir = abs(d.data_dir);
  d.log_file = abs(d.log_file);
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
  if (cfg.backups.dir) cfg.backups.dir = abs(cfg.backups.dir);
  for (const s of Object.values(cfg.services)) if (s.pid_file) s.pid_file = abs(s.pid_file);
  for (const p of cfg.error_patterns) {
    // A file glob with a "/" names a path; one without matches file names anywhere (pattern-files.ts).
    if (p.files) p.files = p.files.map((g) => (g.startsWith('!') ? `!${g.slice(1).includes('/') ? abs(g.slice(1)) : g.slice(1)}` : g.includes('/') ? abs(g) : g));
    for (const a of p.actions) {
      if ((a.type === 'log_rotate' || a.type === 'backup_and_fix_json') && a.files) a.files = a.files.map(abs);
    }
  }
}

/** The JSON Schema of the config file (for editors and `autofix config schema`). */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}
