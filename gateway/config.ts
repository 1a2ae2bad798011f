/**
 * Optional settings file for `dw serve` (--config FILE, else DIR/config.json if present).
 * JSON object; every key is optional and a command-line flag wins over it:
 *
 *   { "webdav": "127.0.0.1:8080",     listen address or "off"
 *     "sftp": "127.0.0.1:2222",       listen address or "off"
 *     "nfs": "127.0.0.1:2049",        NFSv3 listen address, off unless set
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
import { UsageError } from './errors.js';

export interface FileConfig {
  webdav?: string;
  sftp?: string;
  nfs?: string;
  metrics?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel?: string;
}

const KEYS: readonly (keyof FileConfig)[] = ['webdav', 'sftp', 'nfs', 'metrics', 'tlsCert', 'tlsKey', 'logLevel'];
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
    if (typeof val !== 'string') throw new UsageError(`config file ${path}: "${k}" must be a string`);
    out[k as keyof FileConfig] = k === 'tlsCert' || k === 'tlsKey' ? resolve(dirname(path), val) : val;
  }
  return out;
}
