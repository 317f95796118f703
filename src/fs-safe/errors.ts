/**
 * The failures of fs-safe. They are the file actions' non-retryable failures (a retry policy never
 * repeats a refusal): a path that leaves the roots, a symlink inside them, or something that
 * changed between the plan and its use is an `UnsafePathError`; what the action will not do (a
 * file with several hard links, a directory where a file should be) is a `RefusedError`.
 */
import { refused, unsafePath } from '../safety/errors';

export { configError, errnoCode, refused, unsafePath } from '../safety/errors';

/**
 * `what` (a display path) is not the inode that was checked or planned any more: someone swapped
 * it. Nothing was done to it.
 */
export function raced(what: string, detail: string): ReturnType<typeof unsafePath> {
  return unsafePath(`"${what}" changed between check and use (${detail}); it was not touched — someone is swapping files in a managed directory`);
}

/** A symlink where a file or directory of a managed root was expected: never followed. */
export function symlinkRefused(what: string): ReturnType<typeof unsafePath> {
  return unsafePath(`"${what}" is a symlink inside a managed root; autofix never follows symlinks there (the app user could point them anywhere); configure the real path`);
}

/** A file whose content or metadata would be changed or copied while another name shares it; `action` e.g. "truncate it". */
export function hardLinked(what: string, nlink: number, action: string): ReturnType<typeof refused> {
  return refused(
    `"${what}" has ${nlink} hard links; autofix will not ${action}: another link may be a file outside managed.roots (a hard link made by the app user)`,
  );
}
