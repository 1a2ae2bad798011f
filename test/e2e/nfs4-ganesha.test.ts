/**
 * The NFSv4.1 conformance suite (test/nfs4/suite.ts) against nfs-ganesha, the reference server:
 * keeps our client and the suite's expectations honest until our own server runs the same suite.
 * Ganesha runs with a 10 s lease and a grace period after restarts (NFS4_GANESHA_GRACE=0 runs it
 * graceless instead, which exercises the no-grace test). About 25 s. Skips when ganesha.nfsd is
 * missing or we are not root.
 */
import { test } from 'node:test';
import { ganeshaAvailable, startGanesha } from '../nfs4/ganesha.js';
import { nfs4Suite } from '../nfs4/suite.js';

const missing = ganeshaAvailable();
const graceful = process.env.NFS4_GANESHA_GRACE !== '0';
if (missing) test('nfs4Suite against nfs-ganesha', (t) => { t.skip(missing); });
else nfs4Suite(`nfs-ganesha (VFS FSAL${graceful ? ', grace after restart' : ', graceless'})`, () => startGanesha({ lease: 10, graceful }));
