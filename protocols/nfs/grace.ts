/**
 * Grace period and client records in stable storage, for the lock protocols that let clients
 * reclaim their locks after a server restart: NLM v4 with NSM now (XNFS chapters 10–11), and
 * the NFSv4 state later (RFC 7530 section 9.6.2: the same grace rule).
 *
 * A `GraceStore` owns one JSON state file (optional). At open it reads the file, increments the
 * NSM state number by 2 (odd = up, XNFS chapter 11) and writes the file again before anything
 * is served. The records found there are `previous()`: the clients of the last run, to notify
 * (NSM SM_NOTIFY) and to accept reclaims from. The grace period runs from open for `graceMs`
 * when the previous run recorded at least one client (nobody could reclaim otherwise); during
 * it a lock protocol honours only reclaims. Records are written atomically: a temporary file
 * in the same directory, fsynced, renamed over the state file, then the directory fsynced.
 *
 * With no file: state number 1, no records survive the process, no grace — so no
 * notifications and no reclaims after a restart (document that for users).
 *
 * Record ids are the caller's choice and must be unique across kinds, e.g. `nlm:<name>@<addr>`
 * or `nfs4:<client owner hex>`. A record not confirmed in this run (`add`) by the end of the
 * grace period is dropped then (its client did not come back).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** One client that holds (or held) state on this server. */
export interface ClientRecord {
  /** Unique id, prefixed by kind, e.g. 'nlm:client1@10.0.0.5'. */
  id: string;
  /** Which protocol recorded it, e.g. 'nlm' or 'nfs4'. */
  kind: string;
  /** The client's host name as it gave it (NLM caller_name, NSM mon_name). */
  name: string;
  /** The client's IP address (where to send notifications). */
  address: string;
  /** Free-form data of the recording protocol (JSON-serializable, e.g. an NFSv4 client owner). */
  data?: unknown;
  /** The server state number of the run that last confirmed it (set by the store). */
  epoch?: number;
}

export interface GraceOptions {
  /** The state file; absent: nothing is kept (no grace, no records across restarts). */
  file?: string;
  /** Grace period length in milliseconds (default 45,000). */
  graceMs?: number;
  /** Clock for tests (ms). */
  now?: () => number;
}

interface StateFile {
  version: 1;
  /** NSM state number, odd while up. */
  state: number;
  clients: ClientRecord[];
}

/** The grace period and the client records of one server run. */
export class GraceStore {
  private records = new Map<string, ClientRecord>();
  private prev: ClientRecord[] = [];
  private graceEnd = 0;
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  private constructor(readonly file: string | undefined, private stateNo: number, now: () => number) {
    this.now = now;
  }

  /**
   * Opens (or creates) the state file, bumps the state number and writes it durably. Errors:
   * the file exists but is not a state file (SyntaxError / Error naming it), or cannot be
   * written (the fs error): the server should not start then.
   */
  static async open(opts: GraceOptions = {}): Promise<GraceStore> {
    const now = opts.now ?? Date.now;
    const graceMs = opts.graceMs ?? 45_000;
    if (!opts.file) return new GraceStore(undefined, 1, now);
    let old: StateFile | undefined;
    try {
      old = parseState(await readFile(opts.file, 'utf8'), opts.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const prevState = old?.state ?? -1;
    const g = new GraceStore(opts.file, (prevState | 1) + 2 > 0x7fffffff ? 1 : (prevState | 1) + 2, now);
    g.prev = old?.clients ?? [];
    for (const c of g.prev) g.records.set(c.id, c);
    if (g.prev.length && graceMs > 0) {
      g.graceEnd = now() + graceMs;
      g.timer = setTimeout(() => void g.endGrace(), graceMs);
      g.timer.unref();
    }
    await g.flush();
    return g;
  }

  /** The NSM state number of this run (odd). */
  get state(): number {
    return this.stateNo;
  }

  /**
   * Moves to the next state number (odd, by 2) and writes it durably, as after a restart but
   * without one (NSM SM_SIMU_CRASH). Resolves to the new number.
   */
  async bump(): Promise<number> {
    this.stateNo = this.stateNo + 2 > 0x7fffffff ? 1 : this.stateNo + 2;
    for (const r of this.records.values()) r.epoch = this.stateNo;
    await this.flush();
    return this.stateNo;
  }

  /** The clients the previous run had recorded (to notify; may reclaim during grace). */
  previous(): readonly ClientRecord[] {
    return this.prev;
  }

  /** True while only reclaims may be honoured. */
  inGrace(): boolean {
    return this.graceEnd > 0 && this.now() < this.graceEnd;
  }

  /** Milliseconds of grace left (0 when none). */
  graceLeftMs(): number {
    return this.inGrace() ? this.graceEnd - this.now() : 0;
  }

  /** The records as they stand now. */
  clients(): ClientRecord[] {
    return [...this.records.values()];
  }

  /**
   * Records a client (or confirms one of the previous run) and writes the file when that
   * changed anything; resolves when it is durable. Without a file it only keeps it in memory.
   */
  async add(rec: ClientRecord): Promise<void> {
    const cur = this.records.get(rec.id);
    const next = { ...rec, epoch: this.stateNo };
    if (cur && cur.epoch === this.stateNo && cur.name === rec.name && cur.address === rec.address && JSON.stringify(cur.data) === JSON.stringify(rec.data)) return this.writing;
    this.records.set(rec.id, next);
    return this.flush();
  }

  /** Forgets records (a client that released everything or rebooted); resolves when durable. */
  async remove(...ids: string[]): Promise<void> {
    let changed = false;
    for (const id of ids) changed = this.records.delete(id) || changed;
    return changed ? this.flush() : this.writing;
  }

  /** Ends the grace period now, dropping the previous run's records not confirmed since. */
  async endGrace(): Promise<void> {
    this.graceEnd = 0;
    if (this.timer) clearTimeout(this.timer);
    const stale = [...this.records.values()].filter((c) => c.epoch !== this.stateNo).map((c) => c.id);
    await this.remove(...stale);
  }

  /** Stops the grace timer and waits for pending writes. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.writing.catch(() => undefined);
  }

  /** Queues one atomic write of the current state (writes are serialized; each writes the latest). */
  private flush(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const run = async (): Promise<void> => {
      const body: StateFile = { version: 1, state: this.stateNo, clients: [...this.records.values()] };
      await writeAtomic(file, JSON.stringify(body, null, 1) + '\n');
    };
    this.writing = this.writing.catch(() => undefined).then(run);
    return this.writing;
  }
}

function parseState(text: string, file: string): StateFile {
  const v = JSON.parse(text) as Partial<StateFile>;
  if (!v || v.version !== 1 || !Number.isInteger(v.state) || !Array.isArray(v.clients)) throw new Error(`${file}: not a DataWarehouse lock state file`);
  const clients = v.clients.filter((c): c is ClientRecord => !!c && typeof c.id === 'string' && typeof c.kind === 'string' && typeof c.name === 'string' && typeof c.address === 'string');
  return { version: 1, state: v.state!, clients };
}

/** Writes `text` to `file` so that a crash leaves the old or the new content: temp file, fsync, rename, fsync dir. */
export async function writeAtomic(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
