/**
 * The non-retryable failures of file-system actions. A retry policy never repeats a refusal, so
 * every safety violation or bad parameter is raised through one of these; a transient failure is
 * a plain `Error` instead (retried by the saga's retry policy).
 */
import { ApplicationFailure } from '@temporalio/common';

/** A path outside `managed.roots`, a symlink that escapes, a `..` component. */
export function unsafePath(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'UnsafePathError');
}

/** The action will not do this (e.g. a file where a directory should be, no repair source). */
export function refused(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'RefusedError');
}

/** The config or action parameters do not allow this (unknown name, bad mode, ...). */
export function configError(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'ConfigError');
}

/** The errno code of a Node fs error, if any. */
export function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}
