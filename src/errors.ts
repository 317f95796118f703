/**
 * The failure types of autofix, in one place. Workflow-safe: imports only `@temporalio/common`,
 * so workflows (retry policies), activities (factories) and the CLI (messages) share one list.
 *
 * A failure of one of these types is non-retryable: retrying a refusal or a bad config can never
 * succeed, and must never repeat a side effect. Transient failures stay plain `Error`s and are
 * retried by the caller's retry policy.
 */
import { ApplicationFailure } from '@temporalio/common';

/** Every failure type name, with when it is thrown. */
export const FailureType = {
  /** The config file, or a parameter in it, does not allow this (unknown service, bad mode, …). */
  Config: 'ConfigError',
  /** A path outside `managed.roots`, a symlink that escapes, a `..` component, a racing swap. */
  UnsafePath: 'UnsafePathError',
  /** The action will not do this (a file where a directory should be, no repair source, …). */
  Refused: 'RefusedError',
  /**
   * A workflow input, signal or update that defines what only the host's config may (a config,
   * a path, an argv) or names what the config does not (an unknown pattern or service).
   */
  InvalidInput: 'InvalidInputError',
  /** A config reference this worker never served (or no longer keeps). */
  UnknownConfig: 'UnknownConfigError',
  /**
   * A live probe found the service healthy (or answering), so an action that would interrupt it
   * (restart, kill) did not run; the saga ends the incident `skipped` with the message as reason.
   */
  ServiceHealthy: 'ServiceHealthy',
} as const;

export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];

/**
 * The one RETRYABLE failure type: a notification channel failed and the activity has attempts
 * left; its retry sends only the channels still owed (src/notify/dedupe.ts).
 */
export const NOTIFICATION_CHANNEL_FAILED = 'NotificationChannelFailed';

/** The types no retry policy may repeat: every type above. */
export const NON_RETRYABLE_TYPES: FailureTypeName[] = Object.values(FailureType);

/** A non-retryable failure of `type` (the factories below name the common ones). */
export function failure(type: FailureTypeName, message: string, ...details: unknown[]): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type, ...details);
}

/** The config (file or parameter) does not allow this. */
export const configFailure = (message: string, ...details: unknown[]) => failure(FailureType.Config, message, ...details);

/** A path that is, or could become, outside the managed roots. */
export const unsafePath = (message: string) => failure(FailureType.UnsafePath, message);

/** The action will not do this. */
export const refused = (message: string) => failure(FailureType.Refused, message);

/** The live probe found nothing to repair: the service was not interrupted. */
export const serviceHealthy = (message: string) => failure(FailureType.ServiceHealthy, message);

/** A client's input that the worker does not accept. */
export const invalidInput = (message: string) => failure(FailureType.InvalidInput, message);

/** True when `err` (or the failure it wraps) is an ApplicationFailure of `type`. */
export function isFailureType(err: unknown, type: FailureTypeName): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    if (e instanceof ApplicationFailure && e.type === type) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
