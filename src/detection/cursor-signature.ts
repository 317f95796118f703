/**
 * A cursor's fingerprint: a hash of the bytes just before its offset. A file truncated and
 * written again past the old offset (logrotate's copytruncate while the daemon was stopped) keeps
 * its inode and outgrows the offset, so size and identity cannot tell; the bytes before the offset
 * can. Kept beside the cursors in the disk copy (cursor-store.ts), never in workflow state.
 */
import { createHash } from 'node:crypto';
import { openForReading } from '../fs-safe/read';

/** Bytes hashed before the offset: a line or two, timestamps included. */
export const SIGNATURE_BYTES = 512;

/**
 * The fingerprint of `file` at `offset` ('' at offset 0, when fewer bytes can be read, or when
 * the file is not the inode `expect` names: then the file changed anyway). Opened as detection
 * opens a watched file (src/fs-safe/read.ts): a symlink or FIFO the app user swapped in is
 * refused, never followed or waited on.
 *
 * @example await signatureAt('/srv/logs/app.log', 4096) // 'f3a9c0e14b7d2a55'
 */
export async function signatureAt(file: string, offset: number, expect?: { dev: number; ino: number }): Promise<string> {
  if (offset <= 0) return '';
  const opened = await openForReading(file);
  if (!opened) return '';
  const { fh, stat } = opened;
  try {
    if (expect && (stat.dev !== expect.dev || stat.ino !== expect.ino)) return '';
    const len = Math.min(offset, SIGNATURE_BYTES);
    const buf = Buffer.alloc(len);
    const { bytesRead } = await fh.read(buf, 0, len, offset - len);
    if (bytesRead < len) return '';
    return createHash('sha256').update(buf).digest('hex').slice(0, 16);
  } finally {
    await fh.close();
  }
}
