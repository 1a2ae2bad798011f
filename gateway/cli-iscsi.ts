/**
 * `dw iscsi target add|remove|list` (issue 8): the iSCSI target catalogue through the admin
 * methods of admin-iscsi.ts (the running server's socket, or the data folder directly).
 *
 *   dw iscsi target add IQN --lun 0=VOLUME [--lun 1=VOLUME] [--initiator IQN]… [--chap USER:SECRET] [--mutual-chap USER:SECRET]
 *   dw iscsi target remove IQN
 *   dw iscsi target list [--json]          (secrets are never printed)
 */
import type { Argv } from 'yargs';
import { formatTargets, parseChapFlag, parseLunFlag, type TargetInfo } from './admin-iscsi.js';
import { UsageError } from './errors.js';

export interface IscsiCliDeps {
  admin(data: unknown, method: string, params: Record<string, unknown>): Promise<unknown>;
  print(json: boolean, value: unknown, human: () => string[]): void;
  out(line: string): void;
}

const list = (v: unknown): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String));

/** Adds the `target` subcommands to `dw iscsi`. */
export function iscsiCommands<T>(y: Argv<T>, d: IscsiCliDeps): Argv<T> {
  return y.command('target', 'iSCSI targets: one IQN each, block volumes as LUNs, an initiator ACL, CHAP', (t) =>
    t.command('add [iqn]', 'add a target (new logins see it at once)', (z) =>
      z.positional('iqn', { type: 'string', describe: 'target name: iqn.YYYY-MM.reverse.domain[:id], eui.<16 hex> or naa.<16|32 hex>' })
        .option('lun', { type: 'string', array: true, describe: 'LUN=VOLUME (a `dw volume`; VOLUME@SNAP for a read-only snapshot); repeatable' })
        .option('initiator', { type: 'string', array: true, describe: 'initiator IQN allowed to log in and to see the target; repeatable (default: any)' })
        .option('chap', { type: 'string', describe: 'USER:SECRET the initiator must prove (CHAP, secret 12+ characters)' })
        .option('mutual-chap', { type: 'string', describe: 'USER:SECRET the target proves back when the initiator asks (mutual CHAP; needs --chap)' }),
    async (a) => {
      const usage = 'dw iscsi target add IQN --lun 0=VOLUME [--initiator IQN] [--chap USER:SECRET] [--mutual-chap USER:SECRET]';
      if (!a.iqn) throw new UsageError(`missing IQN: ${usage}`);
      const luns = list(a.lun).map(parseLunFlag);
      if (!luns.length) throw new UsageError(`give at least one --lun: ${usage}`);
      const r = (await d.admin((a as { data?: string }).data, 'iscsi.target.add', {
        iqn: a.iqn, luns, initiators: list(a.initiator),
        ...(a.chap !== undefined ? { chap: parseChapFlag(String(a.chap), '--chap') } : {}),
        ...(a['mutual-chap'] !== undefined ? { mutualChap: parseChapFlag(String(a['mutual-chap']), '--mutual-chap') } : {}),
      })) as TargetInfo;
      d.out(`added target ${r.iqn} (${r.luns.map((l) => `LUN ${l.lun} = ${l.volume}`).join(', ')}; initiators: ${r.initiators.length ? r.initiators.join(', ') : 'any'}; ${r.chap ? 'CHAP' : 'no CHAP'}${r.mutualChap ? ' + mutual' : ''})`);
    })
      .command(['remove [iqn]', 'rm [iqn]'], 'remove a target (logged-in sessions continue until they log out)', (z) => z.positional('iqn', { type: 'string' }), async (a) => {
        if (!a.iqn) throw new UsageError('missing IQN: dw iscsi target remove IQN');
        const r = (await d.admin((a as { data?: string }).data, 'iscsi.target.remove', { iqn: a.iqn })) as { iqn: string };
        d.out(`removed target ${r.iqn}`);
      })
      .command(['list', 'ls'], 'list targets with their LUNs, ACL and CHAP user (never the secrets)', (z) =>
        z.option('json', { type: 'boolean', default: false, describe: 'print JSON' }), async (a) => {
        const r = (await d.admin((a as { data?: string }).data, 'iscsi.target.list', {})) as TargetInfo[];
        d.print(!!a.json, r, () => formatTargets(r));
      })
      .demandCommand(1, 'name a target command: add, remove or list'))
    .demandCommand(1, 'name an iscsi command: target');
}
