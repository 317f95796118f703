/**
 * fs-safe: file operations that a local user who can write inside a managed directory cannot
 * redirect outside the managed roots, whatever they swap and whenever.
 *
 * - Roots are pinned as directory fds after a trusted resolution (resolve.ts, trust.ts): every
 *   directory above a root must be changeable only by root or the worker.
 * - Below a root, every directory is opened relative to its parent's fd with O_NOFOLLOW
 *   (cursor.ts, walk.ts, glob.ts); symlinks there are never followed.
 * - Names are used through `/proc/self/fd/<dirfd>/<name>` (proc.ts): the *at() calls Node lacks.
 * - Files are opened O_NOFOLLOW|O_NONBLOCK after an lstat that rules out anything but a regular
 *   file, then fstat'ed and compared with what was planned (file.ts); content and metadata are
 *   changed through the fd; a hard-linked file is refused where its content or metadata matters.
 * - New content is written to an O_EXCL temp file and renamed within the pinned directory
 *   (write.ts); removals unlink names inside pinned directories (remove.ts).
 * - The backup store must be trusted all the way down (store.ts).
 */
export { DirHandle, withDir } from './dir';
export { hardLinked, raced, symlinkRefused } from './errors';
export { MetaHandle, createExclusiveAt, openFileAt, withFile, type OpenFile, type OpenFileOptions } from './file';
export { DirCursor, closeTarget, openBelow, openTarget, type Below, type Target } from './cursor';
export { expandGlob, hasGlob, type GlobMatch, type GlobResult } from './glob';
export { formatIdentity, identityOf, sameIdentity, type Identity } from './identity';
export { isInside, splitAbsolute } from './names';
export { isHardLinked, removalOf, removeEntries, type Removal, type RemovalEntry } from './remove';
export { walkTrusted, type TrustedWalk } from './resolve';
export { Roots, withRoots, type Location, type Root } from './roots';
export { ensureTrustedStore, isTrustedStore } from './store';
export { isTrustedDir, isTrustedUid } from './trust';
export { isSwapped, kindOf, walkTree, type EntryKind, type Tree, type TreeEntry, type WalkOptions } from './walk';
export { copyFd, readFrom, replaceFileAt, sha256Of, tempNameFor, writeInto, type NewFileMeta, type Written } from './write';
