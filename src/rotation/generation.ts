/**
 * Writing a rotated generation (`app.log.1` or `app.log.1.gz`) from an open log, inside the log's
 * pinned directory: an O_EXCL temp file, filled, fsynced, given the log's owner and mode, renamed
 * into place, the directory fsynced. What the writer appends while that happens is appended
 * afterwards ("catch-up"), as further gzip members when compressed: a .gz made of several members
 * decompresses to their concatenation (RFC 1952 §2.2; gzip, zcat and zlib read them all).
 */
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import { createExclusiveAt, identityOf, sameIdentity, tempNameFor, type DirHandle, type Identity } from '../fs-safe';
import { errnoCode } from '../safety/errors';

/** Below this many new bytes the last catch-up is done synchronously, right before the truncate. */
export const SYNC_TAIL_BYTES = 256 * 1024;

/** Owner and mode of a new generation: the log's. */
export interface GenerationMeta {
  mode: number;
  uid: number;
  gid: number;
}

/** A generation being written. Use `open`, then `append*`, `commit`, and always `close`. */
export class GenerationWriter {
  private pos = 0;
  private committed: Identity | undefined;

  private constructor(
    private readonly dir: DirHandle,
    /** Its final name. */
    readonly name: string,
    private readonly tmp: string,
    private readonly out: FileHandle,
    private readonly gzip: boolean,
  ) {}

  /** Creates the temp file (0600 until `commit`). */
  static async open(dir: DirHandle, name: string, gzip: boolean): Promise<GenerationWriter> {
    const tmp = tempNameFor(name);
    return new GenerationWriter(dir, name, tmp, await createExclusiveAt(dir, tmp, 0o600), gzip);
  }

  /** Bytes written into the generation so far. */
  get written(): number {
    return this.pos;
  }

  /**
   * Copies `src` from `from` to its end (as one gzip member when compressing); returns the
   * offset reached in `src`.
   */
  async appendFrom(src: FileHandle, from: number, signal?: AbortSignal): Promise<number> {
    let read = from;
    const writeAll = async (chunk: Buffer): Promise<void> => {
      for (let off = 0; off < chunk.length; ) {
        const { bytesWritten } = await this.out.write(chunk, off, chunk.length - off, this.pos);
        off += bytesWritten;
        this.pos += bytesWritten;
      }
    };
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        writeAll(chunk).then(() => done(), done);
      },
    });
    const input = src.createReadStream({ start: from, autoClose: false, emitClose: false, highWaterMark: 1 << 20 });
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        read += chunk.length;
        done(null, chunk);
      },
    });
    const opts = signal ? { signal } : {};
    if (this.gzip) await pipeline(input, tap, createGzip(), sink, opts);
    else await pipeline(input, tap, sink, opts);
    return read;
  }

  /**
   * The last catch-up and the truncate, synchronously and back to back: reads `fd` from `from`
   * to its end, appends it, and truncates `fd` the moment a read finds nothing more. Only what
   * the writer appends between that last read and ftruncate(2) — a few microseconds — is lost:
   * copy-truncate's residual window (docs/benchmarks.md).
   */
  appendRestAndTruncateSync(fd: number, from: number): number {
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = from;
    const pending: Buffer[] = [];
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) {
        fs.ftruncateSync(fd, 0);
        break;
      }
      pending.push(Buffer.from(buf.subarray(0, n)));
      pos += n;
    }
    const data = Buffer.concat(pending);
    if (data.length > 0) this.writeSync(this.gzip ? gzipSync(data) : data);
    return pos;
  }

  private writeSync(data: Buffer): void {
    for (let off = 0; off < data.length; ) {
      const n = fs.writeSync(this.out.fd, data, off, data.length - off, this.pos);
      off += n;
      this.pos += n;
    }
  }

  /** fsyncs, sets owner (when allowed) and mode, renames it into place and fsyncs the directory. */
  async commit(meta: GenerationMeta): Promise<void> {
    await this.out.chown(meta.uid, meta.gid).catch((e: unknown) => (errnoCode(e) === 'EPERM' ? undefined : Promise.reject(e)));
    await this.out.chmod(meta.mode & 0o7777);
    await this.out.sync();
    await this.dir.rename(this.tmp, this.name);
    this.committed = identityOf(await this.out.stat());
    await this.dir.sync();
  }

  /** fsyncs what was appended after `commit`. */
  async sync(): Promise<void> {
    await this.out.sync();
  }

  /**
   * Closes it; unless `keep`, removes it — the temp file, or the committed generation when it is
   * still this inode (a rotation given up before the truncate leaves no duplicate behind).
   */
  async close(keep: boolean): Promise<void> {
    await this.out.close();
    if (keep) return;
    if (this.committed) {
      const id = this.committed;
      await this.dir.unlink(this.name, (st) => sameIdentity(identityOf(st), id)).catch(() => undefined);
    } else await this.dir.unlink(this.tmp).catch(() => undefined);
  }
}
