/** The daemon's own log files: auto_fix.log and alerts.log (see auto-fix-log.ts). */
export * from './auto-fix-log';
export { appendRotating, rotateFile } from './rotating-append';
