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
  /** Why its content was not copied (e.g. several hard links): a restore leaves it alone. */
  skipped?: string;
  /**
   * Device, inode and birth time when backed up. A metadata-only restore applies mode and owner
   * only to that same file: to another one slipped in under the name, a recorded setuid mode and
   * root owner would be a gift. (The birth time tells a new file from a deleted one whose inode
   * number it reused; on a file system without birth times both are 0.)
   */
  dev?: number;
  ino?: number;
  birthtimeMs?: number;
}

/** One entry inside a backed-up directory; `rel` uses "/" separators. */
export interface ChildEntry extends EntryMeta {
  rel: string;
}

/** One backup target. */
export interface ManifestEntry extends EntryMeta {
  /** The original absolute path. */
  path: string;
  /**
   * The real path of the managed root it lies in: a restore reaches the path again from that
   * root's fd only (absent in backups taken before roots were recorded).
   */
  root?: string;
  metadataOnly: boolean;
  /** Where the copy lives, relative to the backup directory (`data/<index>`). */
  stored?: string;
  /** For directories: every entry below, parents before children. */
  children?: ChildEntry[];
}

/**
 * What a backup keeps. `content`: a copy of every file (restorable byte for byte). `manifest`:
 * names, sizes and sha256 only — chosen for a space-freeing action when the copy would not fit
 * or would fill the file system it is meant to free (`reason` says which).
 */
export type BackupMode = 'content' | 'manifest';

export interface Manifest {
  version: 1;
  incidentId: string;
  /** The saga run that took it (absent in backups taken before runs had their own folders). */
  runId?: string;
  label: string;
  createdAt: string;
  entries: ManifestEntry[];
  /** @default 'content' */
  mode?: BackupMode;
  /** Why `mode` is `manifest`. */
  reason?: string;
  /**
   * The action frees space (log_rotate, temp/old_file_cleanup): its compensation never puts back
   * what it removed (that would fill the disk it was freeing); the backup is a record, and a copy
   * an operator may restore by hand.
   */
  keepsDeletions?: boolean;
  /** Bytes of the copies stored under data/. */
  bytes?: number;
  /** cache_clear with Redis: the action DUMPs the keys it removes into this file of the backup. */
  redis?: { prefix: string; file: string };
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
  for (const e of m.entries) {
    // Stored copies live under data/<n>; anything else would read outside the backup.
    if (e.stored !== undefined && !/^data\/\d+$/.test(e.stored)) throw new Error(`${path.join(dir, MANIFEST_NAME)}: entry "${e.path}" names a stored copy "${e.stored}" outside its data/ folder`);
    for (const c of e.children ?? []) {
      if (c.rel.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new Error(`${path.join(dir, MANIFEST_NAME)}: entry "${e.path}" has a child "${c.rel}" that is not a plain relative path`);
    }
  }
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
