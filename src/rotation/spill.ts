/**
 * Rotating on a full disk. Writing the rotated generation needs space that a full file system
 * does not have, and the space is only freed by truncating (or removing) the log. That order is
 * safe only when the log's content is already on disk elsewhere: the content copy its backup
 * took (kept when it fits, see src/backup/space.ts — `backups.dir` on another file system).
 *
 * Then: check that the log still begins with exactly the bytes backed up (sha256); copy what was
 * appended since into the backup folder (the tail); write a journal naming both; release the log
 * (truncate it, or unlink the renamed generation); write the generation from the two copies;
 * remove the journal. A crash in between leaves the journal: the next attempt of the action
 * (`finishSpills`) writes the generation, and retention never prunes a backup with a journal.
 */
import { createHash } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { identityOf, openFileAt, raced, sameIdentity, type DirHandle, type OpenFile } from '../fs-safe';
import { refused } from '../safety/errors';
import { readManifest } from '../backup/manifest';
import { syncDir, writeDurably } from '../backup/durable';
import { GenerationWriter, SYNC_TAIL_BYTES } from './generation';
import type { RotatedLog } from './types';

/** Name prefix of spill journals in a step's backup folder. */
export const SPILL_JOURNAL_PREFIX = 'spill-';

/** A journal: how to write a generation whose source was released. */
interface Journal {
  /** Display path of the log directory's generation. */
  generation: string;
  /** The generation's name in its directory, and the log it came from (display). */
  name: string;
  log: string;
  gzip: boolean;
  mode: number;
  uid: number;
  gid: number;
  /** Files inside the backup folder, concatenated in order. */
  parts: string[];
}

/** The content copy of `file` in a step's backup (absolute path, size, sha256), if it has one. */
export async function storedCopyOf(stepDir: string, file: string): Promise<{ stored: string; size: number; sha256: string } | undefined> {
  const m = await readManifest(stepDir).catch(() => undefined);
  const e = m?.entries.find((x) => x.path === file && x.kind === 'file' && x.stored && x.sha256 !== undefined);
  return e?.stored ? { stored: path.join(stepDir, e.stored), size: e.size ?? 0, sha256: e.sha256! } : undefined;
}

/** sha256 of the first `n` bytes of an open file. */
async function prefixSha(f: OpenFile, n: number): Promise<string> {
  const h = createHash('sha256');
  if (n > 0) await pipeline(f.fh.createReadStream({ start: 0, end: n - 1, autoClose: false, emitClose: false, highWaterMark: 1 << 20 }), h);
  return h.digest('hex');
}

/** Appends `src` from `from` to its end into `out` (async while the tail is large). */
async function copyTail(src: OpenFile, from: number, out: fs.promises.FileHandle): Promise<number> {
  let pos = from;
  for (let size = (await src.fh.stat()).size; size - pos > SYNC_TAIL_BYTES; size = (await src.fh.stat()).size) {
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, size - pos));
    const { bytesRead } = await src.fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    await out.write(buf, 0, bytesRead);
    pos += bytesRead;
  }
  return pos;
}

/** Reads the rest of `fd` from `from` synchronously and appends it to `outFd`; returns the end. */
function copyRestSync(fd: number, from: number, outFd: number): number {
  const buf = Buffer.allocUnsafe(1 << 20);
  let pos = from;
  for (let n = fs.readSync(fd, buf, 0, buf.length, pos); n > 0; n = fs.readSync(fd, buf, 0, buf.length, pos)) {
    for (let off = 0; off < n; ) off += fs.writeSync(outFd, buf, off, n - off);
    pos += n;
  }
  return pos;
}

/**
 * Rotates through the backup copy (see the module comment). `release` is `truncate` (copy-
 * truncate: the log `f.name` is truncated, its name kept) or `unlink` (create mode: `source`,
 * the renamed generation, is removed). Throws a RefusedError when there is no usable copy.
 */
export async function rotateThroughBackup(
  dir: DirHandle,
  f: RotatedLog,
  o: { stepDir: string; source: string; release: 'truncate' | 'unlink'; gzip: boolean; generation: string; signal?: AbortSignal },
): Promise<number> {
  const copy = await storedCopyOf(o.stepDir, f.file);
  if (!copy) throw refused(`no space to write ${o.generation} and the backup holds no copy of ${f.file} (a manifest-only backup: set backups.dir on another file system); left as it is`);
  const src = await openFileAt(dir, o.source, { write: o.release === 'truncate', expect: f.id, singleLinkFor: 'rotate it' });
  if (!src) throw raced(f.file, 'it is gone');
  const n = fs.readdirSync(o.stepDir).filter((x) => x.startsWith(SPILL_JOURNAL_PREFIX) && x.endsWith('.json')).length;
  const tailName = `${SPILL_JOURNAL_PREFIX}${n}.tail`;
  const journalName = `${SPILL_JOURNAL_PREFIX}${n}.json`;
  let end: number;
  try {
    if ((await prefixSha(src, copy.size)) !== copy.sha256) throw refused(`${f.file} no longer begins with the bytes backed up; not releasing it without a copy`);
    const tail = await fsp.open(path.join(o.stepDir, tailName), 'wx', 0o600);
    try {
      let pos = await copyTail(src, copy.size, tail);
      await tail.sync();
      const journal: Journal = { generation: path.join(path.dirname(f.file), o.generation), name: o.generation, log: f.file, gzip: o.gzip, mode: f.mode, uid: f.uid, gid: f.gid, parts: [path.relative(o.stepDir, copy.stored), tailName] };
      await writeDurably(path.join(o.stepDir, journalName), JSON.stringify(journal, null, 2) + '\n', 0o600);
      await syncDir(o.stepDir);
      if (o.release === 'truncate') {
        // The last tail and the truncate back to back, as copy-truncate does it (copy-truncate.ts).
        pos = copyRestSync(src.fh.fd, pos, tail.fd);
        fs.ftruncateSync(src.fh.fd, 0);
      } else {
        pos = copyRestSync(src.fh.fd, pos, tail.fd);
        const removed = await dir.unlink(o.source, (st) => sameIdentity(identityOf(st), f.id) && st.size === pos);
        if (removed === 'kept') throw raced(dir.child(o.source), 'it changed while it was copied; kept');
      }
      await tail.sync();
      end = pos;
    } finally {
      await tail.close();
    }
  } finally {
    await src.fh.close(); // an unlinked file's blocks are freed only once no fd holds it
  }
  await writeFromJournal(dir, o.stepDir, journalName, o.signal);
  return end;
}

/** Writes the generation a journal names (replacing a half-written one) and removes the journal. */
async function writeFromJournal(dir: DirHandle, stepDir: string, journalName: string, signal?: AbortSignal): Promise<void> {
  const j = JSON.parse(await fsp.readFile(path.join(stepDir, journalName), 'utf8')) as Journal;
  const gen = await GenerationWriter.open(dir, j.name, j.gzip);
  let done = false;
  try {
    for (const part of j.parts) {
      // Only the backup's own copies: a journal never makes the worker read elsewhere.
      if (!/^(data\/\d+|spill-\d+\.tail)$/.test(part)) throw new Error(`${path.join(stepDir, journalName)}: part "${part}" is not a copy of this backup`);
      const fh = await fsp.open(path.join(stepDir, part), 'r');
      try {
        await gen.appendFrom(fh, 0, signal);
      } finally {
        await fh.close();
      }
    }
    await gen.commit(j);
    done = true;
  } finally {
    await gen.close(done);
  }
  await fsp.rm(path.join(stepDir, j.parts[1] ?? ''), { force: true });
  await fsp.rm(path.join(stepDir, journalName), { force: true });
  await syncDir(stepDir);
}

/**
 * Completes the journals a crashed attempt left in `stepDir` for logs in `dir` (`logDir` is its
 * display path). Returns the generations written.
 */
export async function finishSpills(dir: DirHandle, logDir: string, stepDir: string, signal?: AbortSignal): Promise<string[]> {
  const names = await fsp.readdir(stepDir).catch(() => [] as string[]);
  const done: string[] = [];
  for (const n of names.filter((x) => x.startsWith(SPILL_JOURNAL_PREFIX) && x.endsWith('.json')).sort()) {
    const j = JSON.parse(await fsp.readFile(path.join(stepDir, n), 'utf8')) as Journal;
    if (path.dirname(j.generation) !== logDir) continue;
    await writeFromJournal(dir, stepDir, n, signal);
    done.push(j.generation);
  }
  return done;
}

/** True when a backup folder holds an unfinished spill (retention keeps it). */
export function hasPendingSpill(names: readonly string[]): boolean {
  return names.some((x) => x.startsWith(SPILL_JOURNAL_PREFIX) && x.endsWith('.json'));
}
