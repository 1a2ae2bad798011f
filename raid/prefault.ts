/**
 * Faults in record-arena memory ahead of use, on a helper thread, so that the event loop does
 * not pay the first touch of each new page itself.
 *
 * Why: a record arena (arena.ts) hands out new memory as its block cache fills, and every new
 * 4 KiB page costs a page fault on its first write. On this machine (a paravirtualised VM whose
 * host maps each new guest page) that fault cost 12 µs, 3 ms per MiB: a fresh server taking a
 * 200 MiB NFS write spent about 0.65 s of its event loop in 51,000 such faults, a third of the
 * write (docs/benchmarks.md, 2026-12-01). The helper touches the memory an arena has grown into
 * but not yet carved, while the event loop does the rest of the work.
 *
 * How the touch is safe: the helper compares one 32-bit word per page with 0 and, if it is 0,
 * stores 0 there (`Atomics.compareExchange(words, i, 0, 0)`), one indivisible locked write that
 * leaves every value as it was. A store by the event loop to the same word lands wholly before
 * or wholly after it, so no byte of a slot ever changes because of the helper (the arena test
 * writes slots while the helper runs and checks them).
 *
 * Why not `Atomics.add(words, i, 0)`, as before 2026-12-02: with it each new page faulted twice
 * (measured: a 200 MiB write made the helper take 102,400 faults for 51,200 pages, and 0.5–0.7 s
 * of system time; with compareExchange 51,200 faults and 0.06–0.07 s; docs/benchmarks.md,
 * 2026-12-02). The likely reason, not traced: a plain load before the locked write (a
 * compare-and-swap loop), which maps the shared zero page, then a second fault to replace it.
 *
 * First, with our addon (native/sys), the helper has the kernel populate each 1 MiB of new
 * memory in one madvise(MADV_POPULATE_WRITE) call, then touches its pages as above: on this VM
 * (whose hypervisor still takes one fault per page on first access after the kernel filled the
 * page tables) a 512 MiB memory took the helper 0.84–0.87 s that way, against 1.60–1.73 s touching
 * alone (system time 0.11–0.12 against 0.84–0.88 s; docs/benchmarks.md, 2026-12-02). Without
 * the addon, or on a kernel before 5.14 (EINVAL), it touches alone.
 *
 * The helper is one worker thread per process, started on first use and unref'd (it never keeps
 * the process alive). It sleeps in `Atomics.wait` until an arena grows; a new arena's memory is
 * posted to it, and it lets go of the old one then.
 */
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { SYS_ADDON_PATH, sysAddon } from './sysaddon.js';

/**
 * Bytes an arena grows ahead of its carved slots, for the helper to fault in: DW_PREFAULT_MIB
 * (default 64; 0 turns the helper off and arenas grow only as slots need, as before).
 */
export const PREFAULT_BYTES = Math.max(0, Math.floor(Number(process.env.DW_PREFAULT_MIB ?? 64) || 0)) * 1048576;

/** The shared memory of an arena (WebAssembly.Memory, shared). */
export interface SharedMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}

/** Shared words: [0] bytes of the memory to fault in, in 64 KiB units; [1] units faulted in so far. */
const WANT = 0;
const DONE = 1;

/** Units (64 KiB each) populated in one madvise call: 1 MiB. */
const POPULATE_UNITS = 16;

/** The helper's loop (plain JavaScript: eval'd in the worker, no loader needed). */
const HELPER = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { ctl, port, addon } = workerData;
let sys = null;
try { if (addon) sys = require(addon); } catch { sys = null; }
let mem;
let done = 0;
for (;;) {
  const next = receiveMessageOnPort(port);
  if (next) { mem = next.message; done = 0; Atomics.store(ctl, ${DONE}, 0); continue; }
  const want = Atomics.load(ctl, ${WANT});
  if (!mem || want <= done) { Atomics.wait(ctl, ${WANT}, want); continue; }
  const words = new Int32Array(mem.buffer);
  const bytes = new Uint8Array(mem.buffer);
  const upto = Math.min(want, words.length >>> 14);
  for (let unit = done; unit < upto; unit += ${POPULATE_UNITS}) {
    const end = Math.min(upto, unit + ${POPULATE_UNITS});
    if (sys && sys.populateWrite(bytes.subarray(unit << 16, end << 16)) !== 0) sys = null;
    for (let w = unit << 14, last = end << 14; w < last; w += 1024) Atomics.compareExchange(words, w, 0, 0);
    Atomics.store(ctl, ${DONE}, end);
  }
  done = upto;
}`;

let helper: { ctl: Int32Array; port: MessagePort; mem?: SharedMemory } | undefined;

/**
 * Asks the helper to fault in `mem` up to its current length (bytes grown so far). `mem` is the
 * arena's memory; asking with another memory switches the helper to it (from its start).
 * Returns at once; the touching happens on the helper thread.
 */
export function prefault(mem: SharedMemory): void {
  if (!helper) {
    const ctl = new Int32Array(new SharedArrayBuffer(8));
    const { port1, port2 } = new MessageChannel();
    // The addon's path only where it loads here (a worker loads it again: N-API addons may be).
    const addon = sysAddon() ? SYS_ADDON_PATH : undefined;
    const w = new Worker(HELPER, { eval: true, workerData: { ctl, port: port2, addon }, transferList: [port2] });
    w.unref();
    w.on('error', () => { /* faulting in ahead is an optimisation: the event loop faults pages in itself */ });
    port1.unref();
    helper = { ctl, port: port1 };
  }
  if (helper.mem !== mem) {
    helper.port.postMessage(mem);
    helper.mem = mem;
  }
  Atomics.store(helper.ctl, WANT, mem.buffer.byteLength >>> 16);
  Atomics.notify(helper.ctl, WANT);
}

/** Bytes of the current memory the helper has faulted in so far (tests). */
export function prefaulted(): number {
  return helper ? Atomics.load(helper.ctl, DONE) * 65536 : 0;
}
