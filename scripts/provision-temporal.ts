/**
 * `npm run temporal:install`: makes sure the Temporal CLI (dev server + Web UI) is available,
 * building it once into ~/.cache/autofix/bin through the Go module proxy, with progress.
 */
import { ensureTemporalCli, temporalCliVersion } from '../src/temporal/provision';

ensureTemporalCli().then(
  (bin) => process.stdout.write(`Temporal CLI: ${bin} (${temporalCliVersion(bin)})\n`),
  (err: Error) => {
    process.stderr.write(`autofix: ${err.message}\n`);
    process.exit(1);
  },
);
