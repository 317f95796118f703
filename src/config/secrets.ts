/**
 * Secrets of a config (passwords, tokens, credential-bearing URLs, header values), and a redactor
 * that removes them from anything about to leave the worker: activity results and failures are
 * stored in workflow histories, which every Temporal client and the Web UI can read. Secrets may
 * come from the config file or the environment; they stay in the worker's memory.
 *
 * Defence in depth: inputs never carry a config, so a secret can only reach a history through an
 * activity's own output (a probe's error text, a command's stderr); the redactor scrubs those.
 */
import type { Config } from './schema';

const MASK = '***';
/** Shorter secrets would turn ordinary words into masks; they are still masked inside URLs. */
const MIN_SECRET_LENGTH = 4;

/** The password (raw and decoded) of a URL's user info, and the URL itself when it has one. */
function urlSecrets(url: string | undefined): string[] {
  if (!url) return [];
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return [];
  }
  if (!u.password) return [];
  return [url, u.password, safeDecode(u.password)];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * A URL that is itself a credential (a webhook): the whole URL, its path and query, and each
 * long path segment or query value — a server may echo any of them back in an error.
 */
function credentialUrlParts(url: string | undefined): string[] {
  if (!url || !URL.canParse(url)) return url ? [url] : [];
  const u = new URL(url);
  const segments = u.pathname.split('/').filter((p) => p.length >= 8);
  return [url, u.pathname + u.search, u.pathname, ...segments, ...[...u.searchParams.values()], ...urlSecrets(url)];
}

/**
 * Every secret string in `cfg`, longest first (so a URL is masked whole before its password).
 *
 * @example secretsOf(cfg) // ['postgresql://app:s3cret@db/app', 's3cret', …]
 */
export function secretsOf(cfg: Config): string[] {
  const n = cfg.notifications;
  const found = [
    ...urlSecrets(cfg.health_checks.postgres.url),
    ...urlSecrets(cfg.health_checks.redis.url),
    ...cfg.health_checks.http.endpoints.flatMap((e) => urlSecrets(e.url)),
    ...(n.email?.pass ? [n.email.pass] : []),
    // A webhook URL is itself the credential (Slack-style tokens live in its path).
    ...(n.webhook ? [...credentialUrlParts(n.webhook.url), ...Object.values(n.webhook.headers)] : []),
  ];
  // Header values like "Bearer abc": mask the token too, in case a message shows it alone.
  const parts = found.flatMap((s) => [s, ...s.split(/\s+/).filter((p) => p.length >= MIN_SECRET_LENGTH)]);
  return [...new Set(parts.filter((s) => s.length >= MIN_SECRET_LENGTH))].sort((a, b) => b.length - a.length);
}

/** Masks the password of any `scheme://user:password@host` in `text`, known or not. */
function maskUrlPasswords(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi, `$1${MASK}@`);
}

/** A function that returns `value` with every secret masked in every string, deeply. */
export type Redactor = <T>(value: T) => T;

/**
 * Builds a redactor for `secrets`.
 *
 * @example makeRedactor(['s3cret'])({ message: 'auth s3cret failed' }) // { message: 'auth *** failed' }
 */
export function makeRedactor(secrets: readonly string[]): Redactor {
  const scrub = (s: string): string => {
    let out = maskUrlPasswords(s);
    for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(MASK);
    return out;
  };
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return scrub(v);
    if (depth > 32 || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (Object.getPrototypeOf(v) !== Object.prototype) return v; // plain JSON only
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, depth + 1)]));
  };
  return <T>(value: T) => walk(value, 0) as T;
}
