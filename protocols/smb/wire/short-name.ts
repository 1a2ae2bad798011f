/**
 * 8.3 short names (MS-FSCC 2.1.5.2.1) for FileAlternateNameInformation (2.4.5): a name that
 * already is a valid 8.3 name answers itself in upper case; any other gets a made-up one — up
 * to five legal characters of the base, '~', two characters of a hash of the whole name, and up
 * to three legal characters of the last extension — stable for a name, not checked for
 * uniqueness within the folder (names are not looked up by their short form here).
 */
import { createHash } from 'node:crypto';

/** Characters an 8.3 name may hold besides A–Z and 0–9 (MS-FSCC 2.1.5.2.1). */
const LEGAL = /^[A-Z0-9!#$%&'()\-@^_`{}~]$/;
const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function legalPart(s: string): string {
  let out = '';
  for (const ch of s.toUpperCase()) if (LEGAL.test(ch)) out += ch;
  return out;
}

/** True if `name` is a valid 8.3 name (1–8 legal characters, optionally '.' and 1–3 more), case aside. */
export function isShortName(name: string): boolean {
  const m = /^([^.]{1,8})(?:\.([^.]{1,3}))?$/.exec(name);
  if (!m) return false;
  const base = m[1]!.toUpperCase();
  const ext = (m[2] ?? '').toUpperCase();
  return legalPart(base) === base && legalPart(ext) === ext;
}

/** The 8.3 name of `name` (a single path component, not '.' or '..'). */
export function shortNameOf(name: string): string {
  if (isShortName(name)) return name.toUpperCase();
  const dot = name.lastIndexOf('.');
  const base = legalPart(dot > 0 ? name.slice(0, dot) : name).slice(0, 5);
  const ext = dot > 0 ? legalPart(name.slice(dot + 1)).slice(0, 3) : '';
  const h = createHash('sha256').update(name, 'utf8').digest();
  const tag = ALNUM[h[0]! % 36]! + ALNUM[h[1]! % 36]!;
  return `${base || '_'}~${tag}${ext ? `.${ext}` : ''}`;
}
