/**
 * What a Temporal client may send: the inputs of the workflows and the arguments of their
 * signals and updates, as strict schemas (one source for the types and the checks).
 *
 * The trust boundary of autofix: whoever reaches the namespace may *ask* for a fix of something
 * the host's config names, but never *define* one. So every input carries only ids (pattern,
 * incident, service names, a config reference the worker checks) and small numbers; a field that
 * is not listed here — a `config`, a `configPath`, a `path`, an argv — is refused before anything
 * runs, and the worker re-checks every id against its own config file.
 */
import { z } from 'zod';
import { invalidInput } from '../errors';
import { PATTERN_ID, SEVERITIES } from '../config/schema';
import { LOOP_CHECKS } from '../policy/checks';

/** Incident, workflow and host ids: printable, no path separators, bounded. */
const workflowId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,199}$/, 'an id of letters, digits, "_", ".", ":", "@" or "-"');
const hostName = z.string().regex(/^([A-Za-z0-9][A-Za-z0-9_.-]{0,62})?$/, 'a host name of letters, digits, "_", "." or "-"');
const patternId = z.string().regex(PATTERN_ID, 'a pattern id of the worker\'s config');
const text = (max: number) => z.string().max(max);

/** A config version the worker served (checked by the worker, never trusted). */
export const configRefSchema = z.strictObject({
  name: text(255),
  digest: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 digest'),
});

/** One detection, as the daemon saw it. `file` names a watched file; the worker checks it. */
export const detectionSchema = z.strictObject({
  id: patternId,
  /** As the daemon saw them; absent for a manual fix (the worker's config gives them). */
  name: text(500).optional(),
  severity: z.enum(SEVERITIES).optional(),
  count: z.number().int().nonnegative(),
  source: z.enum(['log', 'json', 'health']),
  file: text(4096).optional(),
  first_line: z.number().int().nonnegative().optional(),
  last_line: z.number().int().nonnegative().optional(),
  samples: z.array(text(2000)).max(5),
});

/** Input of `remediationSaga`. */
export const sagaInputSchema = z.strictObject({
  incidentId: workflowId,
  patternId,
  detection: detectionSchema,
  host: hostName,
  /** The config version to fix under (the daemon's); absent = the worker's current one. */
  configRef: configRefSchema.optional(),
  dryRun: z.boolean().optional(),
  /** Start already paused (a manual fix while the daemon is paused) → outcome skipped. */
  paused: z.boolean().optional(),
  /** Workflow id of the daemon to tell when done. */
  daemonWorkflowId: workflowId.optional(),
  /** Incident this one retries (`autofix incident retry`). */
  retryOf: workflowId.optional(),
  startedBy: z.enum(['daemon', 'cli']),
});

const cursorSchema = z.strictObject({
  dev: z.number(),
  ino: z.number(),
  offset: z.number().int().nonnegative(),
  line: z.number().int().nonnegative(),
});

const fixMemorySchema = z.strictObject({
  fixes: z.array(z.number()).max(10_000),
  lastDetected: z.number().optional(),
  trippedAt: z.number().optional(),
});

const healthSummarySchema = z.strictObject({
  at: z.number(),
  overall: z.enum(['healthy', 'degraded', 'unhealthy', 'unknown']),
  checks: z.record(z.string(), z.string()),
});

/** State carried across continue-as-new: counters, cursors and ids — no config. */
export const daemonStateSchema = z.strictObject({
  v: z.literal(2),
  iteration: z.number().int().positive(),
  /** Watched file → where its scan stopped (the worker scans only files its config watches). */
  cursors: z.record(text(4096), cursorSchema),
  /** Check name → epoch ms it last ran (workflow time). */
  lastRun: z.record(z.string(), z.number()),
  memory: z.record(patternId, fixMemorySchema),
  /** Pattern id → the incident running for it, and since when (to expire one never heard of again). */
  openIncidents: z.record(patternId, z.strictObject({ id: workflowId, since: z.number() })),
  pause: z.strictObject({ reason: text(500).optional(), since: z.number(), until: z.number().optional() }).nullable(),
  lastHealth: healthSummarySchema.optional(),
  lastLoopAt: z.number().optional(),
  /** Loops run, detections reported, events counted (sum of detection counts), incidents started. */
  totals: z.strictObject({ loops: z.number(), detections: z.number(), events: z.number(), incidents: z.number() }),
});

/** Input of `autoFixDaemon`. Every field is optional; the worker's config gives the defaults. */
export const daemonInputSchema = z.strictObject({
  loopCount: z.number().int().positive().max(1_000_000).optional(),
  loopIntervalSeconds: z.number().min(0.05).max(86_400).optional(),
  waitMinutes: z.number().min(0.0005).max(10_080).optional(),
  /** Host name stamped on incidents (multi-host setups). */
  host: hostName.optional(),
  /** One loop, detect and fix, then return a summary (the seed's manual run). */
  once: z.boolean().optional(),
  /** Internal: carried by continue-as-new. */
  state: daemonStateSchema.optional(),
});

/** Argument of `pauseFixes`. */
export const pauseArgsSchema = z.strictObject({
  reason: text(500).optional(),
  minutes: z.number().positive().max(525_600).optional(),
});

/** What a worker's watcher saw: a watched log grew or was rotated, a watched JSON file changed, a watched process died. */
export const WAKE_REASONS = ['log', 'json', 'process'] as const;

/**
 * Argument of `runNow`. Absent (or without `reason`): a manual run-now, which cuts the current
 * rest short. With `reason`: an event from the worker's watchers, which runs one extra loop now
 * and leaves the cadence alone. `checks` names periodic checks to run in that loop whatever their
 * interval (only those the worker's config has run). Names only: nothing here is a path or text.
 */
export const runNowArgsSchema = z.strictObject({
  reason: z.enum(WAKE_REASONS).optional(),
  checks: z.array(z.enum(LOOP_CHECKS)).max(LOOP_CHECKS.length).optional(),
});

/** Argument of `reloadConfig`: nothing — the worker re-reads its own config file. */
export const reloadArgsSchema = z.strictObject({});

export type ConfigRefInput = z.infer<typeof configRefSchema>;
export type SagaInput = z.infer<typeof sagaInputSchema>;
export type DaemonState = z.infer<typeof daemonStateSchema>;
export type DaemonInput = z.infer<typeof daemonInputSchema>;
export type PauseArgs = z.infer<typeof pauseArgsSchema>;
export type ReloadArgs = z.infer<typeof reloadArgsSchema>;
export type RunNowArgs = z.infer<typeof runNowArgsSchema>;
export type WakeReason = (typeof WAKE_REASONS)[number];

/** Fields a client might send from older versions or by mistake, and why they are refused. */
const DEFINING_FIELDS: Record<string, string> = {
  config: 'a config',
  configPath: 'a config path',
  path: 'a path',
  logFile: 'a log file path',
};

/** The one-paragraph refusal for an invalid input: what was wrong, where, and what is accepted. */
function refusal(what: string, error: z.ZodError): string {
  const problems = error.issues.map((i) => {
    const where = '$' + i.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
    if (i.code === 'unrecognized_keys') {
      const defining = i.keys.filter((k) => k in DEFINING_FIELDS);
      const why = defining.length
        ? `: ${defining.map((k) => DEFINING_FIELDS[k]).join(', ')} cannot be sent — the worker runs only its own config file`
        : '';
      return `${where}: field(s) ${i.keys.join(', ')} not accepted${why}`;
    }
    return `${where}: ${i.message}`;
  });
  return `${what} refused: ${problems.join('; ')}. Inputs carry only ids the worker checks against its config (pattern, incident and service names).`;
}

/**
 * Parses a client's input with `schema`, or throws a non-retryable `InvalidInputError` that
 * names each bad field (never echoing its value).
 *
 * @example const input = parseInput(sagaInputSchema, raw, 'remediationSaga input');
 */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) throw invalidInput(refusal(what, r.error));
  return r.data;
}
