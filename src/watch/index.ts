/**
 * The worker's watchers: they hear a watched log grow, a watched JSON file change, a watched
 * service's process die, and wake the daemon (`runNow` with `{ reason, checks }`) so that it
 * reacts within a second whatever its loop interval; the scheduled loops stay as the backstop,
 * so nothing depends on a watcher never missing an event. See docs/operations.md, "Reacting to
 * events", and the daemon workflow's module comment for the Temporal side.
 *
 * Runs in the worker process, from the worker's own config (its `ConfigStore`): re-armed when
 * the store serves a new version. Costs nothing while nothing happens but a `kill(pid, 0)` per
 * watched pid every 200 ms and a few small /proc reads every 2 s.
 */
import type { ConfigStore } from '../config/store';
import { OwnFiles } from '../detection/own-files';
import type { RunNowArgs } from '../workflows/definitions';
import { FileWatcher } from './file-watch';
import { ProcessWatcher, type ProcessWatchOptions } from './process-watch';
import { watchTargets } from './targets';
import { Waker, type LoopStarted, type WakerOptions } from './waker';

export { Waker, type LoopStarted, type WakeEvent } from './waker';
export { FileWatcher, planWatch } from './file-watch';
export { ProcessWatcher, type ProcessDeath } from './process-watch';
export { watchTargets, checksForService, localPort, type PidSource, type WatchedFiles, type WatchTargets } from './targets';

export interface WatchingOptions {
  store: ConfigStore;
  /** Signals `runNow` to a daemon. */
  signal(workflowId: string, args: RunNowArgs): Promise<void>;
  /** True when the signal failed because the workflow is not running. */
  isGone?(err: unknown): boolean;
  /** Daemon workflow ids known up front (others are learned from the loops this worker runs). */
  daemonWorkflowIds?: string[];
  /** The watchers stop by themselves once this returns true (the worker stopped). */
  isStopped?(): boolean;
  log?(message: string): void;
  /** Overrides for tests. */
  waker?: Partial<Pick<WakerOptions, 'minGapMs' | 'retryMs'>>;
  processes?: Pick<ProcessWatchOptions, 'tickMs' | 'verifyMs' | 'rescanMs'>;
}

/** The running watchers of one worker. */
export interface Watching {
  /** Told by the detect activity when a loop starts (the coalescing handshake). */
  loopStarted(l: LoopStarted): void;
  readonly waker: Waker;
  readonly files: FileWatcher;
  readonly processes: ProcessWatcher;
  /** Resolves when the first arming (pids included) is done. */
  readonly ready: Promise<void>;
  close(): void;
}

/** How often the config version, the watched directories and the worker's state are looked at. */
const HOUSEKEEPING_MS = 2000;
const REPLAN_EVERY = 5;

/**
 * Starts the watchers of a worker.
 *
 * @example
 *   const watching = startWatching({ store, signal: (id, args) => client.workflow.getHandle(id).signal(runNowSignal, args) });
 *   createActivities({ store, host, onLoopStart: (l) => watching.loopStarted(l) });
 */
export function startWatching(o: WatchingOptions): Watching {
  const waker = new Waker({
    send: o.signal,
    ...(o.isGone ? { isGone: o.isGone } : {}),
    targets: o.daemonWorkflowIds ?? [],
    ...o.waker,
    ...(o.log ? { log: o.log } : {}),
  });
  const files = new FileWatcher((kind) => waker.notify({ reason: kind, checks: kind === 'json' ? ['json'] : [] }), o.log);
  const processes = new ProcessWatcher((d) => waker.notify({ reason: 'process', checks: d.checks }), { ...o.processes, ...(o.log ? { log: o.log } : {}) });
  let digest = '';
  const arm = (): Promise<void> => {
    const { ref, config } = o.store.current();
    digest = ref.digest;
    const t = watchTargets(config);
    waker.setMaxGap(t.loopIntervalMs);
    files.arm(t.files);
    return processes.arm(t.processes);
  };
  const ready = arm();
  let rounds = 0;
  const housekeeping = setInterval(() => {
    if (o.isStopped?.()) return close();
    if (o.store.current().ref.digest !== digest) return void arm();
    if (++rounds % REPLAN_EVERY === 0) files.refresh(OwnFiles.of(o.store.current().config));
  }, HOUSEKEEPING_MS).unref();
  function close(): void {
    clearInterval(housekeeping);
    waker.close();
    files.close();
    processes.close();
  }
  return {
    loopStarted(l) {
      files.loopStarted();
      waker.loopStarted(l);
    },
    waker,
    files,
    processes,
    ready,
    close,
  };
}
