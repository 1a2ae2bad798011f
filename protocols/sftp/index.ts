/**
 * SFTP protocol server (SFTP v3, draft-ietf-secsh-filexfer-02, plus OpenSSH extensions) over
 * the path VFS. See README.md in this folder for what is supported.
 *
 *   const srv = await startSftpServer({ paths, auth, host: '127.0.0.1', port: 0, hostKeys: [generateHostKey()] });
 *   ... srv.port ...
 *   await srv.close();
 */
import ssh2 from 'ssh2';

export { startSftpServer, ONLY_SFTP_MESSAGE, type SftpServer, type SftpServerOptions } from './server.js';
export { ERRNO_TO_SSH_FX, ERRNO_MESSAGE, statusForError, statusForErrno } from './errors.js';
export { SSH_FX, SSH_FXP } from './wire/constants.js';
export { EXTENSION_VERSIONS } from './wire/extended.js';

/**
 * A new Ed25519 host private key in OpenSSH format (a PEM-like text Buffer), for
 * `startSftpServer({ hostKeys })`. The gateway generates one once and keeps it in its data folder.
 * ssh2's generator (1.x) writes about one key in 200 with a 31-byte public key (a leading zero
 * byte dropped), which its own parser then refuses ("Malformed OpenSSH private key"): a key is
 * only returned once ssh2 parses it back.
 */
export function generateHostKey(): Buffer {
  for (let attempt = 0; ; attempt++) {
    const { private: priv } = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(priv) instanceof Error)) return Buffer.from(priv);
    if (attempt >= 20) throw new Error('ssh2 generated 20 host keys it cannot parse');
  }
}
