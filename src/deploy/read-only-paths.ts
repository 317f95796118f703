/**
 * What the units' `ProtectSystem=full` makes read-only for the service: /usr, /boot, /efi and
 * /etc. A data or log directory there would fail at the first write, so `install-service`
 * refuses it up front.
 */
import path from 'node:path';

/** Mount points `ProtectSystem=full` makes read-only (systemd.exec(5)). */
export const PROTECT_SYSTEM_FULL_READ_ONLY = ['/usr', '/boot', '/efi', '/etc'] as const;

/**
 * The read-only tree `p` (absolute) lies in under ProtectSystem=full, or undefined.
 *
 * @example readOnlyUnderProtectSystem('/etc/data/logs'); // '/etc'
 */
export function readOnlyUnderProtectSystem(p: string): string | undefined {
  const abs = path.resolve(p);
  return PROTECT_SYSTEM_FULL_READ_ONLY.find((ro) => abs === ro || abs.startsWith(`${ro}/`));
}
