/**
 * The NFSv4.1 conformance suite (test/nfs4/suite.ts) against nfs-ganesha, the reference server:
 * keeps our client and the suite's expectations honest until our own server runs the same suite.
 * Ganesha runs with a 10 s lease and a grace period after restarts (NFS4_GANESHA_GRACE=0 runs it
 * graceless instead, which exercises the no-grace test). About 26 s. Skips when ganesha.nfsd is
 * missing or we are not root.
 *
 * NFS4_SERVER=host:port[:root[:lease]] runs the suite against a server that is already running
 * instead (no restart, writeFile or lockOther: those tests skip), e.g. the one of
 * `/work/shared/peers/peer start nfs DIR PORT`: NFS4_SERVER=127.0.0.1:PORT:/export:10.
 */
import { test } from 'node:test';
import { ganeshaAvailable, GANESHA_DEVIATIONS, startGanesha } from '../nfs4/ganesha.js';
import { nfs4Suite } from '../nfs4/suite.js';

const external = process.env.NFS4_SERVER;
const missing = ganeshaAvailable();
const graceful = process.env.NFS4_GANESHA_GRACE !== '0';
if (external) {
  const [host = '127.0.0.1', port = '2049', root = '/', lease = '90'] = external.split(':');
  // the deviations are ganesha's: set NFS4_SERVER_DEVIATIONS=none for another server
  const deviations = process.env.NFS4_SERVER_DEVIATIONS === 'none' ? new Set<string>() : GANESHA_DEVIATIONS;
  nfs4Suite(`running server ${external}`, async () => ({ host, port: Number(port), root, leaseSeconds: Number(lease), deviations, close: async () => {} }));
} else if (missing) test('nfs4Suite against nfs-ganesha', (t) => { t.skip(missing); });
else nfs4Suite(`nfs-ganesha (VFS FSAL${graceful ? ', grace after restart' : ', graceless'})`, () => startGanesha({ lease: 10, graceful }));
