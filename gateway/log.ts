/**
 * Logging with pino. On a pipe or file, stdout gets pino's JSON lines (one object per line,
 * `time` in ms since the epoch). On a terminal, the same records are written as short single
 * lines: "12:04:05.123 INFO  webdav listening url=http://127.0.0.1:8080/".
 */
import { pino, type Logger, type Level } from 'pino';
import { UsageError } from './errors.js';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };

/** Writes a pino JSON line as a single human line. Exported for tests. */
export function formatLine(json: string, color = false): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const { level, time, msg, pid: _pid, hostname: _host, ...rest } = rec;
  const t = new Date(typeof time === 'number' ? time : Date.now());
  const hh = String(t.getHours()).padStart(2, '0');
  const mm = String(t.getMinutes()).padStart(2, '0');
  const ss = String(t.getSeconds()).padStart(2, '0');
  const ms = String(t.getMilliseconds()).padStart(3, '0');
  const lv = LEVEL_NAMES[Number(level)] ?? String(level);
  const lvText = color ? `${Number(level) >= 50 ? '\x1b[31m' : Number(level) >= 40 ? '\x1b[33m' : '\x1b[36m'}${lv}\x1b[0m` : lv;
  const fields = Object.entries(rest).map(([k, v]) => {
    if (k === 'err' && v && typeof v === 'object') {
      const e = v as { message?: string; stack?: string };
      return `err=${JSON.stringify(e.message ?? '')}`;
    }
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return `${k}=${typeof v === 'string' && /\s/.test(s) ? JSON.stringify(s) : s}`;
  });
  return `${hh}:${mm}:${ss}.${ms} ${lvText} ${msg ?? ''}${fields.length ? ` ${fields.join(' ')}` : ''}\n`;
}

/**
 * A pino logger writing to stdout. `level` is one of LOG_LEVELS (UsageError otherwise);
 * `pretty` defaults to stdout being a terminal.
 */
export function createLogger(opts: { level?: string; pretty?: boolean; stream?: NodeJS.WritableStream } = {}): Logger {
  const level = opts.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level wants one of ${LOG_LEVELS.join(', ')}; got "${level}"`);
  }
  const out = opts.stream ?? process.stdout;
  const pretty = opts.pretty ?? (process.stdout.isTTY === true && !opts.stream);
  const color = pretty && out === process.stdout && process.stdout.isTTY === true && !process.env.NO_COLOR;
  const dest = pretty
    ? { write: (s: string) => { out.write(formatLine(s, color)); } }
    : opts.stream
      ? { write: (s: string) => { out.write(s); } }
      : pino.destination({ fd: 1, sync: true });
  return pino({ level: level as Level, base: { pid: process.pid } }, dest);
}
