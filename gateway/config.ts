/**
 * Optional settings file for `dw serve` (--config FILE, else DIR/config.json if present).
 * JSON object; every key is optional and a command-line flag wins over it:
 *
 *   { "webdav": "127.0.0.1:8080",     listen address or "off"
 *     "sftp": "127.0.0.1:2222",       listen address or "off"
 *     "nfs": "127.0.0.1:2049",        NFSv3 listen address, off unless set; or an object:
 *     "nfs": { "listen": "127.0.0.1:2049", "portmapPort": 111,   (a second port with PORTMAP v2, off unless set)
 *              "graceSeconds": 45,            grace period after a restart, NLM and NFSv4 (default: NLM 45, NFSv4 the lease)
 *              "leaseSeconds": 90,            NFSv4 lease time (default 90)
 *              "peerPortmapPort": 111,        portmapper port on client hosts for NLM/NSM callbacks (default 111)
 *              "serverName": "nas1",          this server's name in SM_NOTIFY (default the OS host name)
 *              "exports": [ { "path": "/", "clients": ["127.0.0.1", "10.0.0.0/8"],
 *                             "readOnly": false, "squash": "root", "anonUid": 65534, "anonGid": 65534 } ] },
 *     "smb": "127.0.0.1:4450",        SMB2/3 listen address, off unless set; or an object:
 *     "smb": { "listen": "0.0.0.0:445",
 *              "serverName": "NAS1",          NetBIOS name in NTLM (default: the host name's first label)
 *              "shares": [ { "name": "data", "path": "/", "readOnly": false, "requireEncryption": false,
 *                            "remark": "shown by smbclient -L" } ] },
 *                                             (default one share "dw" of "/"; IPC$ is always there)
 *     "iscsi": "127.0.0.1:3260",      iSCSI target listen address, off unless set (targets: `dw iscsi target`)
 *     "metrics": "127.0.0.1:9100",    Prometheus /metrics, off unless set
 *     "tlsCert": "/path/cert.pem",    WebDAV over HTTPS when both are set
 *     "tlsKey": "/path/key.pem",
 *     "logLevel": "info" }
 *
 * Relative paths are taken from the config file's folder. Unknown keys are refused so a typo
 * does not pass silently.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ExportConfigError, parseExports, type Export } from '../protocols/nfs/index.js';
import { checkServerName, parseShares, ShareConfigError, type SmbShare } from '../protocols/smb/index.js';
import { UsageError } from './errors.js';

export interface FileConfig {
  webdav?: string;
  sftp?: string;
  nfs?: string;
  /** From an object "nfs": its exports (checked). */
  nfsExports?: Export[];
  /** From an object "nfs": a second port on the same address answering PORTMAP v2 (111 by convention). */
  nfsPortmapPort?: number;
  /** From an object "nfs": NLM grace period (seconds), client portmapper port, name in SM_NOTIFY. */
  nfsGraceSeconds?: number;
  /** nfs.leaseSeconds: the NFSv4 lease time. */
  nfsLeaseSeconds?: number;
  nfsPeerPortmapPort?: number;
  nfsServerName?: string;
  /** SMB2/3 listen address (string, or "smb.listen"). */
  smb?: string;
  /** "smb.shares", checked. */
  smbShares?: SmbShare[];
  /** "smb.serverName", a NetBIOS name. */
  smbServerName?: string;
  /** iSCSI target listen address (issue 8); off unless set. */
  iscsi?: string;
  metrics?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel?: string;
}

const KEYS: readonly string[] = ['webdav', 'sftp', 'nfs', 'smb', 'iscsi', 'metrics', 'tlsCert', 'tlsKey', 'logLevel'];
const MAX_CONFIG_BYTES = 1 << 20;

/**
 * Reads a config file. `explicit` = the user named it with --config (then it must exist).
 * Returns {} when no file is named and `fallback` does not exist. Throws UsageError with the
 * file name and what is wrong.
 */
export function loadConfig(file: string | undefined, fallback: string): FileConfig {
  const path = file ? resolve(file) : fallback;
  if (!file && !existsSync(path)) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (text.length > MAX_CONFIG_BYTES) throw new UsageError(`config file ${path} is larger than 1 MiB`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`config file ${path} must hold a JSON object`);
  const out: FileConfig = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (!(KEYS as readonly string[]).includes(k)) {
      throw new UsageError(`config file ${path}: unknown key "${k}" (known: ${KEYS.join(', ')})`);
    }
    if (k === 'nfs' && val && typeof val === 'object' && !Array.isArray(val)) {
      Object.assign(out, nfsSection(path, val as Record<string, unknown>));
      continue;
    }
    if (k === 'smb' && val && typeof val === 'object' && !Array.isArray(val)) {
      Object.assign(out, smbSection(path, val as Record<string, unknown>));
      continue;
    }
    if (typeof val !== 'string') {
      const obj = k === 'nfs' ? ' or an object { "listen", "exports" }' : k === 'smb' ? ' or an object { "listen", "shares", "serverName" }' : '';
      throw new UsageError(`config file ${path}: "${k}" must be a string${obj}`);
    }
    out[k as 'webdav'] = k === 'tlsCert' || k === 'tlsKey' ? resolve(dirname(path), val) : val;
  }
  return out;
}

/** The object form of "nfs": { "listen": "HOST:PORT", "exports": [...] } (see protocols/nfs/exports.ts). */
type NfsKeys = 'nfs' | 'nfsExports' | 'nfsPortmapPort' | 'nfsGraceSeconds' | 'nfsLeaseSeconds' | 'nfsPeerPortmapPort' | 'nfsServerName';
const NFS_KEYS = ['listen', 'exports', 'portmapPort', 'graceSeconds', 'leaseSeconds', 'peerPortmapPort', 'serverName'];

function nfsSection(path: string, o: Record<string, unknown>): Pick<FileConfig, NfsKeys> {
  const out: Pick<FileConfig, NfsKeys> = {};
  for (const k of Object.keys(o)) {
    if (!NFS_KEYS.includes(k)) throw new UsageError(`config file ${path}: unknown key "nfs.${k}" (known: ${NFS_KEYS.map((x) => `nfs.${x}`).join(', ')})`);
  }
  for (const k of ['portmapPort', 'peerPortmapPort'] as const) {
    const p = o[k];
    if (p === undefined) continue;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) throw new UsageError(`config file ${path}: "nfs.${k}" must be a port number (1..65535)`);
    out[k === 'portmapPort' ? 'nfsPortmapPort' : 'nfsPeerPortmapPort'] = p;
  }
  if (o.graceSeconds !== undefined) {
    const g = o.graceSeconds;
    if (typeof g !== 'number' || !Number.isFinite(g) || g < 0 || g > 3600) throw new UsageError(`config file ${path}: "nfs.graceSeconds" must be a number of seconds (0..3600)`);
    out.nfsGraceSeconds = g;
  }
  if (o.leaseSeconds !== undefined) {
    const l = o.leaseSeconds;
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 1 || l > 3600) throw new UsageError(`config file ${path}: "nfs.leaseSeconds" must be a whole number of seconds (1..3600)`);
    out.nfsLeaseSeconds = l;
  }
  if (o.serverName !== undefined) {
    if (typeof o.serverName !== 'string' || !o.serverName || o.serverName.length > 255) throw new UsageError(`config file ${path}: "nfs.serverName" must be a host name (1..255 characters)`);
    out.nfsServerName = o.serverName;
  }
  if (o.listen !== undefined) {
    if (typeof o.listen !== 'string') throw new UsageError(`config file ${path}: "nfs.listen" must be a string (HOST:PORT or "off")`);
    out.nfs = o.listen;
  }
  if (o.exports !== undefined) {
    try {
      out.nfsExports = parseExports(o.exports, 'nfs.exports');
    } catch (err) {
      if (err instanceof ExportConfigError) throw new UsageError(`config file ${path}: ${err.message}`);
      throw err;
    }
  }
  return out;
}

/** The object form of "smb": { "listen": "HOST:PORT", "shares": [...], "serverName": "NAS1" } (see protocols/smb/shares.ts). */
const SMB_KEYS = ['listen', 'shares', 'serverName'];

function smbSection(path: string, o: Record<string, unknown>): Pick<FileConfig, 'smb' | 'smbShares' | 'smbServerName'> {
  const out: Pick<FileConfig, 'smb' | 'smbShares' | 'smbServerName'> = {};
  for (const k of Object.keys(o)) {
    if (!SMB_KEYS.includes(k)) throw new UsageError(`config file ${path}: unknown key "smb.${k}" (known: ${SMB_KEYS.map((x) => `smb.${x}`).join(', ')})`);
  }
  if (o.listen !== undefined) {
    if (typeof o.listen !== 'string') throw new UsageError(`config file ${path}: "smb.listen" must be a string (HOST:PORT or "off")`);
    out.smb = o.listen;
  }
  try {
    if (o.shares !== undefined) out.smbShares = parseShares(o.shares, 'smb.shares');
    if (o.serverName !== undefined) out.smbServerName = checkServerName(o.serverName, 'smb.serverName');
  } catch (err) {
    if (err instanceof ShareConfigError) throw new UsageError(`config file ${path}: ${err.message}`);
    throw err;
  }
  return out;
}
