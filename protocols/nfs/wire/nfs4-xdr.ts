/**
 * Small XDR codec combinators for NFSv4 (RFC 4506 over `XdrReader`/`XdrWriter`): each codec
 * decodes and encodes one type, so every NFSv4 argument type is declared once and gets both
 * directions (the server decodes, tests and clients encode). Every variable-length item names
 * its maximum; every failure is an `XdrError`. Sans-IO.
 */
import { XdrError, type XdrReader, type XdrWriter } from './xdr.js';

export interface Codec<T> {
  dec(r: XdrReader): T;
  enc(w: XdrWriter, v: T): void;
}
export type ValueOf<C> = C extends Codec<infer V> ? V : never;

export const u32: Codec<number> = { dec: (r) => r.uint(), enc: (w, v) => void w.uint(v) };
export const i32: Codec<number> = { dec: (r) => r.int(), enc: (w, v) => void w.int(v) };
export const u64: Codec<bigint> = { dec: (r) => r.uhyper(), enc: (w, v) => void w.uhyper(v) };
export const i64: Codec<bigint> = { dec: (r) => r.hyper(), enc: (w, v) => void w.hyper(v) };
export const bool: Codec<boolean> = { dec: (r) => r.bool(), enc: (w, v) => void w.bool(v) };
export const voidT: Codec<undefined> = { dec: () => undefined, enc: () => undefined };

/** opaque[n]. */
export const fixed = (n: number): Codec<Buffer> => ({
  dec: (r) => Buffer.from(r.fixed(n)),
  enc: (w, v) => {
    if (v.length !== n) throw new RangeError(`fixed opaque of ${n} bytes given ${v.length}`);
    w.fixed(v);
  },
});
/** opaque<max>. */
export const opaque = (max: number): Codec<Buffer> => ({ dec: (r) => Buffer.from(r.opaque(max)), enc: (w, v) => void w.opaque(v) });
/** string<max> (strict UTF-8). */
export const str = (max: number): Codec<string> => ({ dec: (r) => r.string(max), enc: (w, v) => void w.string(v) });
/** T<max>. */
export const arrayOf = <T>(max: number, c: Codec<T>): Codec<T[]> => ({
  dec: (r) => r.array(max, (x) => c.dec(x)),
  enc: (w, v) => void w.array(v, (x, i) => c.enc(x, i)),
});
/** *T. */
export const optional = <T>(c: Codec<T>): Codec<T | undefined> => ({
  dec: (r) => r.optional((x) => c.dec(x)),
  enc: (w, v) => void w.optional(v, (x, i) => c.enc(x, i)),
});

type Fields = Record<string, Codec<any>>;
export type StructOf<F extends Fields> = { [K in keyof F]: ValueOf<F[K]> };

/** A struct: fields in declaration order. */
export function struct<F extends Fields>(fields: F): Codec<StructOf<F>> {
  const keys = Object.keys(fields);
  return {
    dec: (r) => {
      const o: Record<string, unknown> = {};
      for (const k of keys) o[k] = fields[k]!.dec(r);
      return o as StructOf<F>;
    },
    enc: (w, v) => {
      for (const k of keys) fields[k]!.enc(w, (v as Record<string, unknown>)[k]);
    },
  };
}

/** A discriminated union: `{ tag, v }`; a tag with no arm is an XdrError unless `dflt` is given. */
export interface U<T = unknown> {
  tag: number;
  v: T;
}
export function union(arms: Record<number, Codec<any>>, dflt?: Codec<any>, what = 'union'): Codec<U<any>> {
  return {
    dec: (r) => {
      const tag = r.int(`${what} discriminant`);
      const c = arms[tag] ?? dflt;
      if (!c) throw new XdrError(`${what}: bad discriminant ${tag}`);
      return { tag, v: c.dec(r) };
    },
    enc: (w, u) => {
      w.int(u.tag);
      const c = arms[u.tag] ?? dflt;
      if (!c) throw new RangeError(`${what}: no arm ${u.tag}`);
      c.enc(w, u.v);
    },
  };
}
