/**
 * The `longname` of SSH_FXP_NAME entries (draft-02 section 7): a line as `ls -l` prints it,
 *   -rwxr-xr-x   1 mjos     staff      348911 Mar 25 14:29 t-filexfer
 * Owner and group are printed as numbers (the export has no name service).
 */

const TYPE_CHAR: Record<number, string> = {
  0o140000: 's', 0o120000: 'l', 0o100000: '-', 0o060000: 'b', 0o040000: 'd', 0o020000: 'c', 0o010000: 'p',
};
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS_S = 182 * 24 * 3600;

/** `drwxr-sr-t` style mode string (10 characters) from st_mode. */
export function modeString(mode: number): string {
  const t = TYPE_CHAR[mode & 0o170000] ?? '?';
  const bit = (m: number, c: string): string => (mode & m ? c : '-');
  const exec = (x: number, special: number, on: string, onNoX: string): string =>
    mode & special ? (mode & x ? on : onNoX) : mode & x ? 'x' : '-';
  return t
    + bit(0o400, 'r') + bit(0o200, 'w') + exec(0o100, 0o4000, 's', 'S')
    + bit(0o040, 'r') + bit(0o020, 'w') + exec(0o010, 0o2000, 's', 'S')
    + bit(0o004, 'r') + bit(0o002, 'w') + exec(0o001, 0o1000, 't', 'T');
}

/** `Mar 25 14:29` for times within six months of `nowS`, else `Mar 25  2023` (UTC). */
export function lsDate(mtimeS: number, nowS: number): string {
  const d = new Date(mtimeS * 1000);
  const day = String(d.getUTCDate()).padStart(2, ' ');
  const mon = MONTHS[d.getUTCMonth()] ?? '???';
  if (Math.abs(nowS - mtimeS) < SIX_MONTHS_S) {
    const hh = String(d.getUTCHours()).padStart(2, '0');
    const mm = String(d.getUTCMinutes()).padStart(2, '0');
    return `${mon} ${day} ${hh}:${mm}`;
  }
  return `${mon} ${day}  ${d.getUTCFullYear()}`;
}

export interface LongnameInput { mode: number; nlink: number; uid: number; gid: number; size: number; mtimeS: number }

/** One `ls -l` line for `name`. */
export function longname(name: string, a: LongnameInput, nowS = Math.floor(Date.now() / 1000)): string {
  return `${modeString(a.mode)} ${String(a.nlink).padStart(3)} ${String(a.uid).padEnd(8)} ${String(a.gid).padEnd(8)} `
    + `${String(a.size).padStart(8)} ${lsDate(a.mtimeS, nowS)} ${name}`;
}
