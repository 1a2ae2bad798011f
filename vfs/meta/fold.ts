/**
 * Caseless names (issue 7, "Windows naming": case-insensitive, case-preserving lookup).
 *
 * Windows compares names the way NTFS does: each UTF-16 code unit is mapped through an
 * upper-case table (the volume's $UpCase file, 65536 entries of one code unit each; MS-FSCC
 * section 2.1.5 says names compare case-insensitively, and [MS-FSA] uses that table), then the
 * code units are compared. The mapping never changes a name's length, so characters whose
 * upper case is longer ('ß' → "SS", 'ŉ' → "ʼN") stay as they are, and characters outside the
 * BMP (surrogate pairs) are not folded.
 *
 * fold() follows that model: code unit c becomes String.fromCharCode(c).toUpperCase() when that
 * is one code unit, else c. JavaScript's toUpperCase is the Unicode default case mapping of the
 * runtime's ICU, so a few code units may map differently from the table a given Windows version
 * wrote to a volume; names that differ only in such characters may then be told apart here and
 * not on Windows, or the other way round.
 *
 * The index rows ('F', vfs/meta/keys.ts) are written by MetaTxn.addEntry/removeEntry, so every
 * change of a 'D' row changes its 'F' row in the same transaction.
 */
import { keys } from './keys.js';
import type { NameCipher } from './names.js';

let table: Uint16Array | undefined;

/** The upper-case table: code unit → its one-code-unit upper case, or itself. Built once (about 1 ms). */
function upcase(): Uint16Array {
  if (table) return table;
  const t = new Uint16Array(65536);
  for (let c = 0; c < 65536; c++) {
    const u = String.fromCharCode(c).toUpperCase();
    t[c] = u.length === 1 ? u.charCodeAt(0) : c;
  }
  return (table = t);
}

/** `name` folded per UTF-16 code unit (see the file comment): same length, 'a' → 'A', 'ä' → 'Ä', 'ß' stays. */
export function fold(name: string): string {
  const t = upcase();
  let out = '';
  let changed = false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const u = t[c]!;
    if (u !== c) changed = true;
    out += String.fromCharCode(u);
  }
  return changed ? out : name;
}

/** Whether two names are the same name to Windows. */
export function foldEquals(a: string, b: string): boolean {
  return a.length === b.length && fold(a) === fold(b);
}

/**
 * The folded key part of `name`: fold(name) on a plain pool; on an encrypted pool the keyed hash
 * of '/' + fold(name), which no real name's hash can equal ('/' is in no name), so a row never
 * shows that a name is its own folded form.
 */
export function foldedPart(names: NameCipher, name: string): string {
  const f = fold(name);
  return names.encrypted ? names.key(`/${f}`) : f;
}

/** The 'F' row of `name` in directory `parent`. */
export function foldedKey(names: NameCipher, parent: number, name: string): Buffer {
  return keys.folded(parent, foldedPart(names, name), names.key(name));
}

/** The prefix of the 'F' rows of every name in `parent` that folds like `name`. */
export function foldedPrefixOf(names: NameCipher, parent: number, name: string): Buffer {
  return keys.foldedPrefix(parent, foldedPart(names, name));
}

/** The 'F' row's value: the real name, sealed on an encrypted pool. */
export function foldedValue(names: NameCipher, name: string): Buffer {
  return names.seal(Buffer.from(name, 'utf8'));
}

/** The real name in an 'F' row's value. Errors: EIO when sealed bytes do not authenticate. */
export function decodeFoldedValue(names: NameCipher, v: Buffer): string {
  return names.open(v).toString('utf8');
}
