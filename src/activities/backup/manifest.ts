/**
 * The backup manifest: what each backed-up path looked like before an action ran. Plain JSON,
 * written last (atomically) so a directory with a manifest is a complete backup.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../safety/errors';

export type EntryKind = 'file' | 'dir' | 'symlink' | 'other' | 'absent';

/** The state of one path (or one entry of a backed-up directory). */
export interface EntryMeta {
  kind: EntryKind;
  size?: number;
  /** sha256 of the stored copy (files only, unless metadataOnly). */
  sha256?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtimeMs?: number;
  /** readlink() of a symlink. */
  linkTarget?: string;
}

/** One entry inside a backed-up directory; `rel` uses "/" separators. */
export interface ChildEntry extends EntryMeta {
  rel: string;
}

/** One backup target. */
export interface ManifestEntry extends EntryMeta {
  /** The original absolute path. */
  path: string;
  metadataOnly: boolean;
  /** Where the copy lives, relative to the backup directory (`data/<index>`). */
  stored?: string;
  /** For directories: every entry below, parents before children. */
  children?: ChildEntry[];
}

export interface Manifest {
  version: 1;
  incidentId: string;
  label: string;
  createdAt: string;
  entries: ManifestEntry[];
}

export const MANIFEST_NAME = 'manifest.json';

/**
 * Reads a manifest; undefined when it does not exist. A manifest that does not parse is an
 * error: the backup directory was tampered with or the disk lost it.
 */
export async function readManifest(dir: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(dir, MANIFEST_NAME), 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  const m = JSON.parse(text) as Manifest;
  if (m.version !== 1 || !Array.isArray(m.entries)) throw new Error(`${path.join(dir, MANIFEST_NAME)} is not an autofix backup manifest (version 1)`);
  return m;
}

/**
 * A path component made safe for a directory name: anything but letters, digits, ".", "_" and
 * "-" becomes "_", deterministically (the same incident/label always maps to the same folder).
 */
export function safeComponent(s: string, what: string): string {
  const out = s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
  if (out === '' || out === '.' || out === '..') throw new Error(`backup ${what} "${s}" cannot name a directory`);
  return out;
}
