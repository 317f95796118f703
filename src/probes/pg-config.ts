/**
 * node-postgres connection settings from a URL, with libpq's default for a URL that names no
 * user: PGUSER, else the OS user (node-postgres falls back to $USER only, which services and
 * containers often lack, and then fails with "no PostgreSQL user name specified").
 */
import os from 'node:os';
import type { ClientConfig } from 'pg';

/** Builds a pg ClientConfig for `url`, adding the default user when the URL has none. */
export function pgClientConfig(url: string, extra: Omit<ClientConfig, 'connectionString'> = {}): ClientConfig {
  // The user goes into the URL itself: pg lets values parsed from the URL override fields.
  let connectionString = url;
  try {
    const u = new URL(url);
    if (!u.username) {
      u.username = encodeURIComponent(process.env.PGUSER || process.env.USER || os.userInfo().username);
      connectionString = u.toString();
    }
  } catch {
    /* not a URL: let pg parse it and report */
  }
  return { connectionString, ...extra };
}
