/** Parsing and checking of CLI values (addresses, sizes); every failure is a UsageError. */
import { isIP } from 'node:net';
import { UsageError } from './errors.js';

export interface ListenAddr {
  host: string;
  /** 0 = let the kernel pick; the bound port is printed. */
  port: number;
}

/**
 * Parses a listen address for `--webdav`, `--sftp`, `--metrics`:
 * "HOST:PORT", "[IPv6]:PORT", or "PORT" alone (host 127.0.0.1). "off" disables the service
 * and returns null. HOST is an IP address or a host name such as localhost; PORT is 0-65535.
 * Throws UsageError naming the flag and the expected form.
 */
export function parseListen(flag: string, text: string): ListenAddr | null {
  const hint = `--${flag} wants HOST:PORT (for example 127.0.0.1:8080, 0.0.0.0:8080, [::1]:8080) or "off"`;
  if (typeof text !== 'string' || !text.trim()) throw new UsageError(`${hint}; got nothing`);
  const t = text.trim();
  if (t === 'off' || t === 'none') return null;
  let host = '127.0.0.1';
  let portText = t;
  const v6 = /^\[([0-9A-Fa-f:.]+)\]:(.*)$/.exec(t);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
    if (isIP(host) !== 6) throw new UsageError(`${hint}; "${host}" is not an IPv6 address`);
  } else if (t.includes(':')) {
    const i = t.lastIndexOf(':');
    host = t.slice(0, i);
    portText = t.slice(i + 1);
    if (host.includes(':')) throw new UsageError(`${hint}; put an IPv6 address in brackets, as [::1]:8080`);
    if (!host) host = '127.0.0.1';
    else if (isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9-]{0,62}\.?)*$/.test(host)) {
      throw new UsageError(`${hint}; "${host}" is not an IP address or host name`);
    }
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new UsageError(`${hint}; "${portText}" is not a port number (0-65535)`);
  }
  return { host, port: Number(portText) };
}

/** "127.0.0.1:8080" or "[::1]:8080". */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Host to put in a URL a client can use: a wildcard bind is reached on localhost. */
export function clientHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

/** Bytes as "1.5 GiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** '10M', '10MiB', '1.5G', '4096' → bytes (binary units). UsageError naming `flag` otherwise. */
export function parseSize(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(text.trim());
  const n = m ? Math.round(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag} wants a size like 500M, 10G or 4096 (bytes); got "${text}"`);
  return n;
}

/** '100k' → 100000, '2M' → 2000000, '50' → 50 (decimal units, for counts). */
export function parseCount(flag: string, text: string): number {
  const m = /^(\d+)\s*([kKmM]?)$/.exec(text.trim());
  const n = m ? Number(m[1]) * ({ '': 1, k: 1e3, m: 1e6 } as Record<string, number>)[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag} wants a count like 100000 or 100k; got "${text}"`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 365 * 86_400_000 };

/** '90s', '15m', '1h', '30d', '2w', '7y' → ms. UsageError naming `flag` otherwise. */
export function parseDuration(flag: string, text: string): number {
  const m = /^(\d{1,6})([smhdwy])$/.exec(text.trim());
  const ms = m ? Number(m[1]) * DURATION_UNITS[m[2]!]! : NaN;
  if (!Number.isSafeInteger(ms)) throw new UsageError(`${flag} wants a duration like 90s, 15m, 1h, 30d, 2w or 7y; got "${text}"`);
  return ms;
}
