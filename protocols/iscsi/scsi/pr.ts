/**
 * Persistent reservations (SPC-4 §5.12, §6.14, §6.15) of one LU. (First cut: no reservations
 * yet, every command allowed.)
 */
import type { Cdb } from '../wire/scsi.js';

/** How a command touches the medium, for the conflict tables (SPC-4 §5.12.1, SBC-3 §4.17). */
export type Access = 'always' | 'read' | 'write' | 'pr-in' | 'pr-out' | 'reserve';

export class PrState {
  /** True when `access` by nexus `key` conflicts with the persistent reservation. */
  conflicts(_access: Access, _cdb: Cdb, _key: string): boolean {
    return false;
  }
}
