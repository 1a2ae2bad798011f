import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryKv } from '../vfs/meta/memory.js';
import { keys } from '../vfs/meta/keys.js';
import { CliError, UsageError } from './errors.js';
import { checkTarget, formatTargets, IscsiTargetStore, parseChapFlag, parseLunFlag, runIscsiAdmin, type TargetInfo } from './admin-iscsi.js';

const CHAP = { user: 'alice', secret: 'twelve-chars' };

describe('iSCSI target catalogue', () => {
  test('checkTarget: IQN forms, LUNs, ACL names, CHAP rules', () => {
    const ok = checkTarget({ iqn: 'IQN.2026-11.Com.Example:Disk1', luns: [{ lun: 1, volume: 'b' }, { lun: 0, volume: 'a@snap1' }], initiators: ['iqn.1994-05.com.redhat:x', 'IQN.1994-05.com.redhat:X'] });
    assert.equal(ok.iqn, 'iqn.2026-11.com.example:disk1');
    assert.deepEqual(ok.luns.map((l) => l.lun), [0, 1]);
    assert.deepEqual(ok.initiators, ['iqn.1994-05.com.redhat:x']);
    assert.equal(checkTarget({ iqn: 'eui.02004567a425678d', luns: [{ lun: 0, volume: 'v' }] }).iqn, 'eui.02004567A425678D');
    checkTarget({ iqn: 'naa.52004567BA64678D', luns: [{ lun: 0, volume: 'v' }] });
    const bad: Array<[Parameters<typeof checkTarget>[0], RegExp]> = [
      [{ iqn: 'iqn.2026-13.com.x:y', luns: [{ lun: 0, volume: 'v' }] }, /month/],
      [{ iqn: 'iqn.26-11.com.x', luns: [{ lun: 0, volume: 'v' }] }, /not an iqn/],
      [{ iqn: 'eui.123', luns: [{ lun: 0, volume: 'v' }] }, /eui/],
      [{ iqn: 'disk1', luns: [{ lun: 0, volume: 'v' }] }, /not an iSCSI name/],
      [{ iqn: 'iqn.2026-11.com.x', luns: [] }, /at least one LUN/],
      [{ iqn: 'iqn.2026-11.com.x', luns: [{ lun: 16384, volume: 'v' }] }, /0\.\.16383/],
      [{ iqn: 'iqn.2026-11.com.x', luns: [{ lun: 0, volume: 'v' }, { lun: 0, volume: 'w' }] }, /twice/],
      [{ iqn: 'iqn.2026-11.com.x', luns: [{ lun: 0, volume: '../x' }] }, /volume name/],
      [{ iqn: 'iqn.2026-11.com.x', luns: [{ lun: 0, volume: 'v' }], initiators: ['bob'] }, /--initiator/],
      [{ iqn: 'iqn.2026-11.com.x', luns: [{ lun: 0, volume: 'v' }], chap: { user: 'a', secret: 'short' } }, /at least 12/],
      [{ iqn: 'iqn.2026-11.com.x', luns: [{ lun: 0, volume: 'v' }], mutualChap: CHAP }, /needs --chap/],
      [{ iqn: 'iqn.2026-11.com.x', luns: [{ lun: 0, volume: 'v' }], chap: CHAP, mutualChap: { user: 't', secret: CHAP.secret } }, /differ/],
    ];
    for (const [t, re] of bad) assert.throws(() => checkTarget(t), (e: unknown) => e instanceof UsageError && re.test(e.message), JSON.stringify(t));
  });

  test('add, get (by any case), list without secrets, remove; EEXIST and ENOENT', async () => {
    const kv = new MemoryKv();
    const store = new IscsiTargetStore(kv);
    const info = (await runIscsiAdmin(kv, 'iscsi.target.add', { iqn: 'iqn.2026-11.com.example:d1', luns: [{ lun: 0, volume: 'v1' }], chap: CHAP,
      mutualChap: { user: 'tgt', secret: 'another-secret' } })) as TargetInfo;
    assert.deepEqual(info.chap, { user: 'alice' });
    assert.ok(await kv.get(keys.iscsiTarget('iqn.2026-11.com.example:d1')));
    const got = await store.get('IQN.2026-11.COM.EXAMPLE:D1');
    assert.equal(got?.chap?.secret, CHAP.secret, 'the server reads the secret');
    assert.equal(await store.get('not a name'), undefined);
    await assert.rejects(runIscsiAdmin(kv, 'iscsi.target.add', { iqn: 'iqn.2026-11.com.example:D1', luns: [{ lun: 0, volume: 'v' }] }),
      (e: unknown) => e instanceof CliError && e.code === 'EEXIST');
    await runIscsiAdmin(kv, 'iscsi.target.add', { iqn: 'iqn.2026-11.com.example:a0', luns: [{ lun: 0, volume: 'v0' }] });
    const list = (await runIscsiAdmin(kv, 'iscsi.target.list', {})) as TargetInfo[];
    assert.deepEqual(list.map((t) => t.iqn), ['iqn.2026-11.com.example:a0', 'iqn.2026-11.com.example:d1']);
    assert.doesNotMatch(JSON.stringify(list), /twelve-chars|another-secret/);
    assert.doesNotMatch(formatTargets(list).join('\n'), /twelve-chars|another-secret/);
    assert.match(formatTargets(list).join('\n'), /auth: CHAP user alice, mutual CHAP as tgt/);
    assert.deepEqual(await runIscsiAdmin(kv, 'iscsi.target.remove', { iqn: 'iqn.2026-11.com.example:d1' }), { iqn: 'iqn.2026-11.com.example:d1' });
    await assert.rejects(runIscsiAdmin(kv, 'iscsi.target.remove', { iqn: 'iqn.2026-11.com.example:d1' }), (e: unknown) => e instanceof CliError && e.code === 'ENOENT');
    assert.equal((await store.list()).length, 1);
  });

  test('with a volume check, a LUN naming a missing volume or snapshot is refused (ENOENT) and nothing is stored', async () => {
    const kv = new MemoryKv();
    const have = new Set(['v1', 'v1@snap']);
    const exists = async (ref: string): Promise<boolean> => have.has(ref);
    const add = (luns: { lun: number; volume: string }[]) => runIscsiAdmin(kv, 'iscsi.target.add', { iqn: 'iqn.2026-11.com.example:t', luns }, exists);
    await assert.rejects(add([{ lun: 0, volume: 'v1' }, { lun: 1, volume: 'v2' }]), (e: unknown) => e instanceof CliError && e.code === 'ENOENT' && /LUN 1: no volume v2/.test(e.message));
    await assert.rejects(add([{ lun: 0, volume: 'v1@other' }]), (e: unknown) => e instanceof CliError && e.code === 'ENOENT');
    assert.equal((await new IscsiTargetStore(kv).list()).length, 0);
    await add([{ lun: 0, volume: 'v1' }, { lun: 1, volume: 'v1@snap' }]);
    assert.equal((await new IscsiTargetStore(kv).list()).length, 1);
  });

  test('watch: a store over the same KV (the server\'s) hears of targets the admin methods add and remove; not after unwatch', async () => {
    const kv = new MemoryKv();
    const heard: string[] = [];
    const stop = new IscsiTargetStore(kv).watch((iqn) => heard.push(iqn));
    new IscsiTargetStore(new MemoryKv()).watch(() => heard.push('another KV'));
    await runIscsiAdmin(kv, 'iscsi.target.add', { iqn: 'IQN.2026-11.com.example:W', luns: [{ lun: 0, volume: 'v1' }] });
    await assert.rejects(runIscsiAdmin(kv, 'iscsi.target.remove', { iqn: 'iqn.2026-11.com.example:none' }), CliError);
    await runIscsiAdmin(kv, 'iscsi.target.remove', { iqn: 'iqn.2026-11.com.example:w' });
    assert.deepEqual(heard, ['iqn.2026-11.com.example:w', 'iqn.2026-11.com.example:w'], 'one per change, canonical name, none for a failure');
    stop();
    await runIscsiAdmin(kv, 'iscsi.target.add', { iqn: 'iqn.2026-11.com.example:w', luns: [{ lun: 0, volume: 'v1' }] });
    assert.equal(heard.length, 2);
  });

  test('flag parsers', () => {
    assert.deepEqual(parseLunFlag('3=vol@s'), { lun: 3, volume: 'vol@s' });
    assert.throws(() => parseLunFlag('vol'), UsageError);
    assert.deepEqual(parseChapFlag('u:se:cret-with-colons', '--chap'), { user: 'u', secret: 'se:cret-with-colons' });
    assert.throws(() => parseChapFlag('nouser', '--chap'), UsageError);
  });
});
