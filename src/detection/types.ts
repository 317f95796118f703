/** Shared data shapes of detection. Plain JSON: they travel through Temporal payloads. */
import type { Severity } from '../config/schema';

/** Where a detection came from. */
export type DetectionSource = 'log' | 'json' | 'health';

/** One pattern seen (count times) in one source during one scan. */
export interface Detection {
  /** Pattern id from the config (`http_5xx`, ...). */
  id: string;
  name: string;
  severity: Severity;
  /** Number of events (a whole Python traceback counts once). */
  count: number;
  source: DetectionSource;
  /** The log or JSON file (absolute path), or the health check name for `health`. */
  file?: string;
  /** 1-based line numbers of the first and last event in the file. */
  first_line?: number;
  last_line?: number;
  /** First and last sample events (each cut to a few hundred characters). */
  samples: string[];
}

/** Where the incremental scan of one file stopped. Identity = (dev, ino). */
export interface LogCursor {
  dev: number;
  ino: number;
  /** Byte offset of the first unread byte (always at a line start). */
  offset: number;
  /** Number of complete lines read so far (for line numbers). */
  line: number;
}

/** Per-file cursors keyed by absolute path. */
export type LogCursors = Record<string, LogCursor>;
