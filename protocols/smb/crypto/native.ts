/**
 * AES-GCM decryption in place through our system addon (native/sys aead.cc, OpenSSL's EVP
 * interface as Node is built with it), for encrypted SMB3 messages: Node's Decipher writes each
 * piece into a new buffer, which then has to be copied back (measured on this VM, a 200 MiB
 * encrypted put: 0.9 s of the event loop in `update`; in place 4.2 GB/s). Optional: where the
 * addon is not built (`node scripts/build-native.mjs` says why), or with DW_NATIVE_GCM=0,
 * encrypt.ts decrypts with Node's cipher as before.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Where `node scripts/build-native.mjs` puts the addon (the same one raid/sysaddon.ts loads). */
const ADDON_PATH = fileURLToPath(new URL('../../../native/sys/build/Release/dwsys.node', import.meta.url));

/**
 * Decrypts `data` in place with AES-GCM (key 16 or 32 bytes, nonce 12, tag 16) with `aad`
 * authenticated; true when the tag matched (false: `data` now holds garbage). Throws TypeError
 * on bad sizes, Error when OpenSSL fails.
 */
export type GcmOpenInPlace = (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, data: Uint8Array, tag: Uint8Array) => boolean;

let loaded: GcmOpenInPlace | null | undefined;
let enabled = process.env.DW_NATIVE_GCM !== '0';

/** The addon's gcmOpenInPlace, or null (not built, not Linux, or turned off). Loaded once. */
export function nativeGcmOpen(): GcmOpenInPlace | null {
  if (!enabled) return null;
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== 'linux') return loaded;
  try {
    const a = createRequire(import.meta.url)(ADDON_PATH) as { gcmOpenInPlace?: GcmOpenInPlace };
    if (typeof a.gcmOpenInPlace === 'function') loaded = a.gcmOpenInPlace;
  } catch {
    // not built: Node's cipher
  }
  return loaded;
}

/** Turns the native path on or off (tests compare both); returns the previous setting. */
export function useNativeGcm(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}
