/**
 * A target's opened volumes follow the catalogue (TargetCatalog.watch): once the target is
 * removed or its LUNs change, its opening is closed when no session uses it, else when the last
 * of them ends; an unchanged target stays open between sessions (its LUs keep persistent
 * reservations, SPC-4 section 5.12).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TargetDevices } from './device.js';
import { startIscsiServer, type IscsiServer } from './server.js';
import { canonicalName, type TargetCatalog, type TargetConfig } from './targets.js';
import { TestInitiator } from './test-initiator.js';

const T = 'iqn.2026-11.test:watched';

/** A catalogue over a mutable list that tells its watchers, as gateway/admin-iscsi.ts IscsiTargetStore does. */
class MutableCatalog implements TargetCatalog {
  targets: TargetConfig[] = [{ iqn: T, luns: [{ lun: 0, volume: 'v1' }], initiators: [] }];
  readonly listeners = new Set<(iqn: string) => void>();
  async get(iqn: string): Promise<TargetConfig | undefined> {
    return this.targets.find((t) => canonicalName(t.iqn) === canonicalName(iqn));
  }
  async list(): Promise<TargetConfig[]> {
    return [...this.targets];
  }
  watch(l: (iqn: string) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  set(targets: TargetConfig[]): void {
    this.targets = targets;
    for (const l of this.listeners) l(T);
  }
}

const noDevices: TargetDevices = { luns: () => [], lu: () => undefined, execute: async () => ({ status: 0 }) };
const catalog = new MutableCatalog();
const opened: string[] = [];
const closed: string[] = [];
let srv: IscsiServer;
/** While set, openTarget waits for it (a slow volume open). */
let gate: Promise<void> | undefined;
let entered: (() => void) | undefined;
/** Every close waits for this (a slow flush). */
let closeDelay: Promise<void> = Promise.resolve();

before(async () => {
  srv = await startIscsiServer({
    host: '127.0.0.1', port: 0, catalog,
    openTarget: async (t) => {
      entered?.();
      if (gate) await gate;
      const name = t.luns.map((l) => l.volume).join(',');
      opened.push(name);
      return { devices: noDevices, close: async () => { await closeDelay; closed.push(name); } };
    },
  });
});
after(async () => {
  // A close under way when the server stops: close() resolves only after it.
  catalog.set([{ iqn: T, luns: [{ lun: 0, volume: 'v5' }], initiators: [] }]);
  const c = await session();
  await c.logout();
  await c.closedP;
  closeDelay = new Promise((r) => setTimeout(r, 100));
  catalog.set([]);
  await srv.close();
  assert.ok(closed.includes('v5'), 'the retired opening finished closing before close() resolved');
  assert.equal(catalog.listeners.size, 0, 'the server stops watching when it stops');
});

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), what);
}

async function session(): Promise<TestInitiator> {
  const c = await TestInitiator.connect(srv.port);
  assert.equal((await c.login({ targetName: T })).status, 0);
  return c;
}

describe('target openings follow the catalogue', () => {
  it('kept between sessions; closed at once when the target is removed with no session', async () => {
    const a = await session();
    await a.logout();
    await a.closedP;
    const b = await session();
    await b.logout();
    await b.closedP;
    assert.deepEqual(opened, ['v1'], 'one opening serves both sessions');
    assert.deepEqual(closed, []);
    catalog.set([]);
    await until('the removed target is closed', () => closed.length === 1);
    assert.deepEqual(closed, ['v1']);
  });

  it('a change while a session runs: closed when that session ends, the new LUNs open at the next login', async () => {
    catalog.set([{ iqn: T, luns: [{ lun: 0, volume: 'v2' }], initiators: [] }]);
    const a = await session();
    catalog.set([{ iqn: T, luns: [{ lun: 0, volume: 'v3' }], initiators: [] }]);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(closed, ['v1'], 'still used: not closed yet');
    await a.logout();
    await a.closedP;
    await until('the changed opening is closed after its last session', () => closed.length === 2);
    assert.deepEqual(closed, ['v1', 'v2']);
    const b = await session();
    await b.logout();
    await b.closedP;
    assert.deepEqual(opened, ['v1', 'v2', 'v3']);
  });

  it('a connection that goes while its target opens holds no use of it: the opening closes once the target is removed', async () => {
    catalog.set([{ iqn: T, luns: [{ lun: 0, volume: 'v4' }], initiators: [] }]);
    await until('v3 retired', () => closed.includes('v3'));
    let open!: () => void;
    gate = new Promise<void>((r) => { open = r; });
    const inOpen = new Promise<void>((r) => { entered = r; });
    const c = await TestInitiator.connect(srv.port);
    const login = c.login({ targetName: T }).catch(() => undefined);
    await inOpen;
    c.close();
    await c.closedP;
    await new Promise((r) => setTimeout(r, 20)); // the server saw the close
    open();
    gate = undefined;
    entered = undefined;
    await login;
    await new Promise((r) => setTimeout(r, 20));
    catalog.set([]);
    await until('the opening is closed: no session holds it', () => closed.includes('v4'));
  });
});
