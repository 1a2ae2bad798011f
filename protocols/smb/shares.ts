/**
 * The shares an SMB server offers (MS-SMB2 3.3.1.6, "Share": Name, LocalPath/ServerName,
 * EncryptData, read-only), checked from the gateway's config. IPC$ (the named-pipe share,
 * ShareType PIPE) is always there and cannot be configured.
 */

/** A bad share definition; the message names the field and what to write instead. */
export class ShareConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShareConfigError';
  }
}

export interface SmbShare {
  /** As the client names it in \\server\share; matched case-insensitively. */
  name: string;
  /** A folder of the VFS, normalized, absolute ('/', '/projects'). */
  path: string;
  readOnly: boolean;
  /**
   * MS-SMB2 Share.EncryptData with RejectUnencryptedAccess: clients without SMB 3.x encryption
   * get STATUS_ACCESS_DENIED at TREE_CONNECT, and every request on the tree must be encrypted.
   */
  requireEncryption: boolean;
  /** The comment share listings show (srvsvc shi1_remark, `smbclient -L`'s Comment); ≤ 256 characters, no control characters. */
  remark?: string;
}

/** The named-pipe share (always offered). */
export const IPC_SHARE = 'IPC$';
/** The share `dw serve --smb` offers when the config names none: the whole namespace. */
export const DEFAULT_SHARES: readonly SmbShare[] = [{ name: 'dw', path: '/', readOnly: false, requireEncryption: false }];

// Windows share names: no control characters nor \ / : * ? " < > | (MS-FSCC 2.1.6 for the
// characters; 80 characters as Windows' NetShareAdd allows).
const BAD_NAME = /[\x00-\x1f\\/:*?"<>|]/;
const SHARE_KEYS = ['name', 'path', 'readOnly', 'requireEncryption', 'remark'];

function normalizePath(p: string, field: string): string {
  if (!p.startsWith('/')) throw new ShareConfigError(`${field}.path: "${p}" must be an absolute path in the DataWarehouse namespace, like "/" or "/projects"`);
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) throw new ShareConfigError(`${field}.path: "${p}" must not contain ".."`);
  if (p.includes('\0')) throw new ShareConfigError(`${field}.path must not contain NUL`);
  return `/${parts.join('/')}`;
}

function makeShare(v: unknown, field: string): SmbShare {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ShareConfigError(`${field} must be an object { "name": "…", "path": "/…" }`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!SHARE_KEYS.includes(k)) throw new ShareConfigError(`${field}: unknown key "${k}" (known: ${SHARE_KEYS.join(', ')})`);
  }
  const { name, path } = o;
  if (typeof name !== 'string' || name.length === 0 || name.length > 80) throw new ShareConfigError(`${field}.name must be a share name of 1..80 characters`);
  if (BAD_NAME.test(name)) throw new ShareConfigError(`${field}.name: "${name}" must not contain control characters nor any of \\ / : * ? " < > |`);
  if (name.toUpperCase() === IPC_SHARE) throw new ShareConfigError(`${field}.name: "${name}" is reserved (the server offers IPC$ itself)`);
  if (typeof path !== 'string' || !path) throw new ShareConfigError(`${field}.path must be a folder of the namespace, like "/" or "/projects"`);
  for (const k of ['readOnly', 'requireEncryption'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new ShareConfigError(`${field}.${k} must be true or false`);
  }
  const { remark } = o;
  if (remark !== undefined && (typeof remark !== 'string' || remark.length > 256 || /[\x00-\x1f]/.test(remark))) {
    throw new ShareConfigError(`${field}.remark must be a text of at most 256 characters without control characters`);
  }
  return {
    name, path: normalizePath(path, field), readOnly: o.readOnly === true, requireEncryption: o.requireEncryption === true,
    ...(remark !== undefined ? { remark: remark as string } : {}),
  };
}

/**
 * Checks a list of shares (`field` e.g. 'smb.shares'): a non-empty array of objects with a
 * valid name and absolute path, booleans where booleans go, no unknown keys, names distinct
 * case-insensitively. Throws ShareConfigError naming the field.
 */
export function parseShares(v: unknown, field = 'shares'): SmbShare[] {
  if (!Array.isArray(v) || v.length === 0) throw new ShareConfigError(`${field} must be a non-empty list of shares [{ "name": "…", "path": "/…" }]`);
  if (v.length > 256) throw new ShareConfigError(`${field}: at most 256 shares`);
  const out = v.map((s, i) => makeShare(s, `${field}[${i}]`));
  const seen = new Map<string, number>();
  out.forEach((s, i) => {
    const k = s.name.toUpperCase();
    const j = seen.get(k);
    if (j !== undefined) throw new ShareConfigError(`${field}[${i}].name: "${s.name}" is also the name of ${field}[${j}] (share names ignore case)`);
    seen.set(k, i);
  });
  return out;
}

/** A NetBIOS computer name (1..15 characters: letters, digits, '-'), as NTLM's target info needs. */
export function checkServerName(v: unknown, field = 'serverName'): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9-]{0,14}$/.test(v)) {
    throw new ShareConfigError(`${field} must be a NetBIOS name: 1..15 letters, digits or '-', starting with a letter or digit`);
  }
  return v;
}
