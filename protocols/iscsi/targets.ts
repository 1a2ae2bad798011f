/**
 * iSCSI targets as configured: what `dw iscsi target add` stores and what the server reads at
 * every login (so changes apply to new logins without a restart). The gateway keeps the
 * catalogue (gateway/admin-iscsi.ts); this module holds the shape, the name and secret rules,
 * and the lookup interface the server codes against.
 */

/** CHAP credentials (RFC 7143 section 12.1.3): `user` is CHAP_N, `secret` the shared secret. */
export interface ChapCredentials {
  user: string;
  secret: string;
}

/** One LUN of a target: the LUN number (0..16383) and the block volume behind it (`dw volume`). */
export interface TargetLun {
  lun: number;
  volume: string;
}

/**
 * A target (RFC 7143 section 4.2.7 names). `initiators` is the ACL of initiator IQNs allowed to
 * log in and to see the target in SendTargets (empty: any). With `chap` every normal-session
 * login must authenticate with CHAP as `chap.user`; with `mutualChap` the target also answers an
 * initiator's challenge as `mutualChap.user` (mutual CHAP needs `chap`).
 */
export interface TargetConfig {
  iqn: string;
  luns: TargetLun[];
  initiators: string[];
  chap?: ChapCredentials;
  mutualChap?: ChapCredentials;
}

/** The catalogue as the server sees it: read at each login, never cached across logins. */
export interface TargetCatalog {
  /** The target of that name (compared in canonical form, `canonicalName`), or undefined. */
  get(iqn: string): Promise<TargetConfig | undefined>;
  /** Every target, in name order. */
  list(): Promise<TargetConfig[]>;
  /**
   * Optional: calls `listener` with a target's name after it was added, changed or removed, so
   * that the server can release the volumes of a target no session uses any more. Returns the
   * unsubscribe function.
   */
  watch?(listener: (iqn: string) => void): () => void;
}

/** A catalogue over a fixed list (tests, in-process servers). */
export function staticCatalog(targets: readonly TargetConfig[]): TargetCatalog {
  return {
    async get(iqn) {
      const c = canonicalName(iqn);
      return targets.find((t) => canonicalName(t.iqn) === c);
    },
    async list() {
      return [...targets].sort((a, b) => (a.iqn < b.iqn ? -1 : a.iqn > b.iqn ? 1 : 0));
    },
  };
}

/** Longest iSCSI name: 223 bytes (RFC 7143 section 4.2.7.1). */
export const MAX_NAME_BYTES = 223;
/** CHAP secrets: at least 12 bytes (RFC 7143 section 12.1.3 asks for 96 bits), at most 255 here. */
export const MIN_CHAP_SECRET = 12;
export const MAX_CHAP_SECRET = 255;
/** Most LUNs per target accepted by the catalogue. */
export const MAX_LUNS = 256;
/** Most initiator IQNs in one ACL. */
export const MAX_INITIATORS = 1024;

const IQN_RE = /^iqn\.(\d{4})-(\d{2})\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[\x21-\x7e]+)?$/;
const EUI_RE = /^eui\.[0-9A-F]{16}$/;
const NAA_RE = /^naa\.([0-9A-F]{16}|[0-9A-F]{32})$/;

/**
 * The canonical form of an iSCSI name (RFC 7143 section 4.2.7: names are case-insensitive;
 * RFC 3722 stringprep maps them to lower case): 'iqn.' names lower case, 'eui.'/'naa.' with
 * upper-case hex as the RFC writes them. Names in no known format are returned lower-cased.
 */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.startsWith('eui.') || lower.startsWith('naa.')) return lower.slice(0, 4) + name.slice(4).toUpperCase();
  return lower;
}

/**
 * Why `name` is not a valid iSCSI name, or undefined when it is (RFC 7143 section 4.2.7):
 * 'iqn.YYYY-MM.reverse.domain[:anything]' (a real month, a domain of labels), 'eui.' + 16 hex
 * digits, 'naa.' + 16 or 32 hex digits; at most 223 bytes. Checks the canonical form.
 */
export function iscsiNameError(name: string): string | undefined {
  if (typeof name !== 'string' || !name) return 'an iSCSI name is required';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `an iSCSI name is at most ${MAX_NAME_BYTES} bytes`;
  const c = canonicalName(name);
  if (c.startsWith('iqn.')) {
    const m = IQN_RE.exec(c);
    if (!m) return `"${name}" is not an iqn name: iqn.YYYY-MM.reverse.domain[:identifier], e.g. iqn.2026-11.com.example:disk1`;
    const month = Number(m[2]);
    if (month < 1 || month > 12) return `"${name}": month ${m[2]} in iqn.YYYY-MM`;
    return undefined;
  }
  if (c.startsWith('eui.')) return EUI_RE.test(c) ? undefined : `"${name}" is not an eui name: eui. and 16 hex digits`;
  if (c.startsWith('naa.')) return NAA_RE.test(c) ? undefined : `"${name}" is not a naa name: naa. and 16 or 32 hex digits`;
  return `"${name}" is not an iSCSI name (iqn., eui. or naa.)`;
}

/** Why a CHAP user/secret pair is unusable, or undefined (secret 12..255 bytes, RFC 7143 section 12.1.3). */
export function chapError(c: ChapCredentials, what = 'CHAP'): string | undefined {
  if (typeof c.user !== 'string' || !c.user || Buffer.byteLength(c.user, 'utf8') > 255 || /[\0]/.test(c.user)) {
    return `${what} user name: 1..255 bytes`;
  }
  if (typeof c.secret !== 'string') return `${what} secret missing`;
  const n = Buffer.byteLength(c.secret, 'utf8');
  if (n < MIN_CHAP_SECRET) return `${what} secret too short: at least ${MIN_CHAP_SECRET} bytes (RFC 7143 section 12.1.3)`;
  if (n > MAX_CHAP_SECRET) return `${what} secret too long: at most ${MAX_CHAP_SECRET} bytes`;
  return undefined;
}

/** May this initiator log in to / see this target (its ACL)? Names compared in canonical form. */
export function initiatorAllowed(t: TargetConfig, initiatorName: string): boolean {
  if (t.initiators.length === 0) return true;
  const c = canonicalName(initiatorName);
  return t.initiators.some((i) => canonicalName(i) === c);
}
