/** Network helpers for tests. */
export { freePort } from '../../src/util/net';
