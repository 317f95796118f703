/**
 * The worker's config, served by reference (Temporal's "claim check"): the worker loads its own
 * config file — and only that file — and workflows carry a `ConfigRef` (the file's name and the
 * sha256 of its validated content), never the content. Activities resolve the reference here; a
 * reference this worker never served is refused, so a Temporal client can only ask the worker to
 * act on what the host's config already names.
 *
 * Every version the worker has served is kept (bounded: in memory and as
 * `<data_dir>/config/<digest>.json`, mode 0600 in a 0700 folder), so a saga that started under
 * one version finishes under it even if the file changes meanwhile or the worker restarts.
 * Stored versions hold the file's parsed content only: environment overrides (DATABASE_URL, …)
 * and worker options are applied again on every resolve and never written anywhere.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { writePrivateJsonSync } from '../util/private-dir';
import path from 'node:path';
import { FailureType, failure } from '../errors';
import type { Config } from './schema';
import { ConfigError } from './errors';
import { parseConfig, readConfigFile } from './load';

/** What workflows carry instead of a config. Plain JSON. */
export interface ConfigRef {
  /** The config file's base name (for people; the digest is what counts). */
  name: string;
  /** sha256 (hex) of the validated content and the file's path. */
  digest: string;
}

/** A resolved config and its reference. */
export interface LoadedConfig {
  ref: ConfigRef;
  config: Config;
}

/** Worker-level settings applied on top of the file (never stored, never in a history). */
export interface ConfigStoreOptions {
  /** The worker's config file (`--config`, AUTOFIX_CONFIG, or the shipped default). */
  path: string;
  env?: NodeJS.ProcessEnv;
  /** The seed's `--log-file`: auto_fix.log (and alerts.log next to it) for this worker. */
  logFile?: string;
  /** Versions kept in memory and on disk. @default 20 */
  keep?: number;
}

interface Version {
  source: string;
  raw: unknown;
  digest: string;
  /** Validated once (regex checks included), then reused for every activity that names it. */
  config?: Config;
}

const DIGEST = /^[0-9a-f]{64}$/;

/** The worker's config versions. One per worker process. */
export class ConfigStore {
  private readonly file: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly keep: number;
  private readonly versions = new Map<string, Version>();
  private currentVersion!: Version;
  private currentConfig!: Config;
  /** sha256 of the file's bytes as last read (to parse and validate only after an edit). */
  private stamp = '';

  /** Loads the file; a bad config throws `ConfigError` (the worker refuses to start). */
  constructor(private readonly opts: ConfigStoreOptions) {
    this.file = path.resolve(opts.path);
    this.env = opts.env ?? process.env;
    this.keep = opts.keep ?? 20;
    this.adopt(this.readVersion());
  }

  /** The config file this store serves. */
  get path(): string {
    return this.file;
  }

  /** The current version. */
  current(): LoadedConfig {
    return { ref: refOf(this.currentVersion), config: this.currentConfig };
  }

  /**
   * Re-reads the file now. Throws `ConfigError` for an invalid file and keeps the current version.
   *
   * @example const { changed } = store.reload(); // after `autofix reload`
   */
  reload(): { loaded: LoadedConfig; changed: boolean } {
    const v = this.readVersion();
    const changed = v.digest !== this.currentVersion.digest;
    if (changed) this.adopt(v);
    return { loaded: this.current(), changed };
  }

  /**
   * Re-reads the file when its bytes changed since the last read (comparing bytes, not mtimes,
   * so two quick edits within one timestamp tick are not missed; the file is small). An invalid
   * edit is returned as `error`, once, and the current version stays.
   */
  refresh(): { loaded: LoadedConfig; changed: boolean; error?: ConfigError } {
    if (this.fileStamp() === this.stamp) return { loaded: this.current(), changed: false };
    try {
      return this.reload();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.stamp = this.fileStamp(); // report a bad edit once, not once per loop
      return { loaded: this.current(), changed: false, error: err };
    }
  }

  /**
   * The config a reference names. Refused (non-retryable `UnknownConfigError`) when this worker
   * never served it, so nothing runs under a config a client made up.
   */
  resolve(ref: unknown): Config {
    const digest = (ref as Partial<ConfigRef> | null)?.digest;
    if (typeof digest !== 'string' || !DIGEST.test(digest)) {
      throw failure(FailureType.UnknownConfig, 'not a config reference: expected { name, digest } as given by this worker');
    }
    if (digest === this.currentVersion.digest) return this.currentConfig;
    const v = this.versions.get(digest) ?? this.readStored(digest);
    if (!v) {
      throw failure(
        FailureType.UnknownConfig,
        `config ${digest.slice(0, 12)}… is not one this worker served from ${this.file}; the worker runs only its own config`,
      );
    }
    return this.materialize(v);
  }

  private materialize(v: Version): Config {
    if (v.config) return v.config;
    const cfg = parseConfig(v.raw, v.source, this.env);
    if (this.opts.logFile) {
      cfg.daemon.log_file = path.resolve(this.opts.logFile);
      cfg.daemon.alerts_file = path.join(path.dirname(cfg.daemon.log_file), 'alerts.log');
    }
    v.config = cfg;
    return cfg;
  }

  private readVersion(): Version {
    const stamp = this.fileStamp();
    const raw = readConfigFile(this.file);
    const v: Version = { source: this.file, raw, digest: digestOf(this.file, raw) };
    this.materialize(v); // validates; throws ConfigError
    this.stamp = stamp;
    return v;
  }

  private adopt(v: Version): void {
    this.currentVersion = v;
    this.currentConfig = this.materialize(v);
    this.versions.delete(v.digest);
    this.versions.set(v.digest, v);
    while (this.versions.size > this.keep) this.versions.delete(this.versions.keys().next().value as string);
    this.store(v);
  }

  /** sha256 of the file's bytes, or 'missing'. */
  private fileStamp(): string {
    try {
      return createHash('sha256').update(readFileSync(this.file)).digest('hex');
    } catch (e) {
      return `unreadable:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
    }
  }

  private storeDir(): string {
    return path.join(this.currentConfig.daemon.data_dir, 'config');
  }

  /** Writes the version 0600 into a 0700 folder (atomically), then prunes the oldest. */
  private store(v: Version): void {
    try {
      const dir = this.storeDir();
      writePrivateJsonSync(path.join(dir, `${v.digest}.json`), { source: v.source, raw: v.raw });
      const stored = readdirSync(dir)
        .filter((n) => /^[0-9a-f]{64}\.json$/.test(n))
        .map((n) => ({ n, t: statSync(path.join(dir, n)).mtimeMs }))
        .sort((a, b) => b.t - a.t);
      for (const old of stored.slice(this.keep)) unlinkSync(path.join(dir, old.n));
    } catch {
      // Best effort: without a stored copy, a saga that outlives both the edit and a worker
      // restart is refused (UnknownConfigError) instead of running under another config.
    }
  }

  private readStored(digest: string): Version | undefined {
    try {
      const rec = JSON.parse(readFileSync(path.join(this.storeDir(), `${digest}.json`), 'utf8')) as { source: string; raw: unknown };
      // Only a file this worker wrote for this config file, intact, counts.
      if (rec.source !== this.file || digestOf(rec.source, rec.raw) !== digest) return undefined;
      const v: Version = { source: rec.source, raw: rec.raw, digest };
      this.versions.set(digest, v);
      return v;
    } catch {
      return undefined;
    }
  }
}

function digestOf(source: string, raw: unknown): string {
  return createHash('sha256').update(JSON.stringify({ source, raw })).digest('hex');
}

function refOf(v: Version): ConfigRef {
  return { name: path.basename(v.source), digest: v.digest };
}
