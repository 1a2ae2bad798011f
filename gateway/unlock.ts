/**
 * Secrets of encrypted pools on the command line: where `dw serve` and the offline admin
 * commands get the passphrase or key file that unlocks a pool, where `dw pool create
 * --encryption` and `dw key rotate` get a new one, and their JSON form on the admin socket.
 *
 * Unlocking an existing pool (its key record says which kind it wants):
 *   passphrase: --passphrase-file FILE, else $DW_PASSPHRASE, else a prompt on the terminal;
 *   key file:   --key-file FILE, else $DW_KEY_FILE, else a prompt for the file's path.
 * A passphrase file holds the passphrase (one final newline is dropped); a key file 32 raw bytes
 * or 64 hex digits. Without a terminal and without any of these, the command fails saying what
 * to pass (CliError EACCES), before anything is written.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseKeyFile, type KeySource, type Secret, type UnlockRequest } from '../raid/index.js';
import { VfsError } from '../vfs/errno.js';
import { CliError, UsageError } from './errors.js';

/** The global flags naming a pool's secret. */
export interface KeyFlags {
  keyFile?: string;
  passphraseFile?: string;
}

/** A secret as it travels on the admin socket (JSON). */
export type SecretWire = { kind: 'passphrase'; passphrase: string } | { kind: 'keyfile'; keyHex: string };

/** Shortest new passphrase accepted (as ZFS does). */
export const MIN_PASSPHRASE = 8;

export function toWire(s: Secret): SecretWire {
  return s.kind === 'passphrase' ? { kind: 'passphrase', passphrase: s.passphrase } : { kind: 'keyfile', keyHex: s.key.toString('hex') };
}

/** Checks a secret from the admin socket; UsageError naming `what` when malformed. */
export function fromWire(v: unknown, what: string): Secret {
  const o = v as Partial<Record<string, unknown>> | null;
  if (o && o.kind === 'passphrase' && typeof o.passphrase === 'string' && o.passphrase.length > 0 && o.passphrase.length <= 4096) return { kind: 'passphrase', passphrase: o.passphrase };
  if (o && o.kind === 'keyfile' && typeof o.keyHex === 'string' && /^[0-9a-f]{64}$/.test(o.keyHex)) return { kind: 'keyfile', key: Buffer.from(o.keyHex, 'hex') };
  throw new UsageError(`missing or malformed ${what}`);
}

/** Reads a passphrase file: its text without one final newline; UsageError if unreadable or empty. */
export function readPassphraseFile(path: string): string {
  let text: string;
  try {
    const b = readFileSync(path);
    if (b.length > 4096) throw new UsageError(`the passphrase file ${path} is larger than 4 KiB`);
    text = b.toString('utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read the passphrase file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const p = text.replace(/\r?\n$/, '');
  if (!p) throw new UsageError(`the passphrase file ${path} is empty`);
  return p;
}

/** Reads a key file (32 raw bytes or 64 hex digits); UsageError if unreadable or of another shape. */
export function readKeyFile(path: string): Buffer {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read the key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parseKeyFile(b, `the key file ${path}`);
  } catch (err) {
    if (err instanceof VfsError) throw new UsageError(err.message);
    throw err;
  }
}

const interactive = () => process.stdin.isTTY === true && process.stderr.isTTY === true;

/** Asks on the terminal; with `hidden` the typed characters are not echoed. Ctrl-C cancels (exit 130). */
export function prompt(question: string, hidden: boolean): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let s = '';
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(s);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new CliError('cancelled', 'ECANCELED', 130));
        if (ch === '\u007f' || ch === '\b') {
          if (s.length && !hidden) process.stderr.write('\b \b');
          s = s.slice(0, -1);
          continue;
        }
        s += ch;
        if (!hidden) process.stderr.write(ch);
      }
    };
    stdin.setEncoding('utf8');
    // Echo off before the question shows: an answer typed the moment it appears is not echoed.
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
    process.stderr.write(question);
  });
}

/**
 * The secret that unlocks pool `req.poolId` (see the header for the order). Throws CliError
 * (EACCES) when none is given and there is no terminal, or when only the other kind is given;
 * UsageError when a named file cannot be read or has the wrong shape.
 */
export async function unlockSecret(flags: KeyFlags, req: UnlockRequest, env: NodeJS.ProcessEnv = process.env): Promise<Secret> {
  const id = req.poolId;
  if (req.source === 'passphrase') {
    if (flags.passphraseFile) return { kind: 'passphrase', passphrase: readPassphraseFile(flags.passphraseFile) };
    if (flags.keyFile) throw new CliError(`pool ${id} is locked with a passphrase, not a key file: give --passphrase-file FILE or $DW_PASSPHRASE instead of --key-file`, 'EACCES');
    if (env.DW_PASSPHRASE) return { kind: 'passphrase', passphrase: env.DW_PASSPHRASE };
    if (interactive()) return { kind: 'passphrase', passphrase: await prompt(`Passphrase for pool ${id}: `, true) };
    if (env.DW_KEY_FILE) throw new CliError(`pool ${id} is locked with a passphrase, not a key file: give --passphrase-file FILE or $DW_PASSPHRASE ($DW_KEY_FILE is set)`, 'EACCES');
    throw new CliError(`pool ${id} is encrypted: give its passphrase with --passphrase-file FILE or $DW_PASSPHRASE (there is no terminal to ask on)`, 'EACCES');
  }
  if (flags.keyFile) return { kind: 'keyfile', key: readKeyFile(flags.keyFile) };
  if (flags.passphraseFile) throw new CliError(`pool ${id} is locked with a key file, not a passphrase: give --key-file FILE or $DW_KEY_FILE instead of --passphrase-file`, 'EACCES');
  if (env.DW_KEY_FILE) return { kind: 'keyfile', key: readKeyFile(env.DW_KEY_FILE) };
  if (interactive()) {
    const path = (await prompt(`Key file of pool ${id}: `, false)).trim();
    if (path) return { kind: 'keyfile', key: readKeyFile(path) };
  }
  if (env.DW_PASSPHRASE) throw new CliError(`pool ${id} is locked with a key file, not a passphrase: give --key-file FILE or $DW_KEY_FILE ($DW_PASSPHRASE is set)`, 'EACCES');
  throw new CliError(`pool ${id} is encrypted: give its key file with --key-file FILE or $DW_KEY_FILE`, 'EACCES');
}

/** Where a new secret comes from (`dw pool create --encryption`, `dw key rotate`). */
export interface NewSecretFlags {
  keyFile?: string;
  passphraseFile?: string;
  /** Environment variable holding a new passphrase: DW_PASSPHRASE (create) or DW_NEW_PASSPHRASE (rotate). */
  envVar: string;
  /** How the flags are spelled in messages: '--key-file' or '--new-key-file', etc. */
  keyFlag: string;
  passFlag: string;
}

/**
 * A new secret of `kind`. Passphrase: the passphrase file, else $envVar, else asked twice on the
 * terminal; at least MIN_PASSPHRASE characters. Key file: the file named (required); if it does
 * not exist, 32 random bytes are written there as 64 hex digits with mode 0600 (`created`).
 * UsageError when a source is missing or unusable.
 */
export async function newSecret(kind: KeySource, f: NewSecretFlags, env: NodeJS.ProcessEnv = process.env): Promise<{ secret: Secret; created?: string }> {
  if (kind === 'keyfile') {
    if (!f.keyFile) throw new UsageError(`name the key file with ${f.keyFlag} FILE (it is created with a random key if it does not exist)`);
    try {
      writeFileSync(f.keyFile, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
      return { secret: { kind: 'keyfile', key: readKeyFile(f.keyFile) }, created: f.keyFile };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        if (err instanceof UsageError) throw err;
        throw new UsageError(`cannot create the key file ${f.keyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    return { secret: { kind: 'keyfile', key: readKeyFile(f.keyFile) } };
  }
  let p: string;
  if (f.passphraseFile) p = readPassphraseFile(f.passphraseFile);
  else if (env[f.envVar]) p = env[f.envVar]!;
  else if (interactive()) {
    p = await prompt('New passphrase: ', true);
    if ((await prompt('Repeat it: ', true)) !== p) throw new UsageError('the two passphrases differ');
  } else {
    throw new UsageError(`give the new passphrase with ${f.passFlag} FILE or $${f.envVar} (there is no terminal to ask on)`);
  }
  if ([...p].length < MIN_PASSPHRASE) throw new UsageError(`the passphrase is shorter than ${MIN_PASSPHRASE} characters`);
  return { secret: { kind: 'passphrase', passphrase: p } };
}
