/**
 * The non-retryable failures of file-system actions (from the one list in `src/errors.ts`), and
 * errno helpers. A retry policy never repeats a refusal, so every safety violation or bad
 * parameter is raised through one of these; a transient failure is a plain `Error` instead
 * (retried by the saga's retry policy).
 */
export { configFailure as configError, refused, unsafePath } from '../errors';

/** The errno code of a Node fs error, if any. */
export function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}
