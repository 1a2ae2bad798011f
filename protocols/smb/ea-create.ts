/**
 * The SMB2_CREATE_EA_BUFFER ("ExtA") create context (MS-SMB2 2.2.13.2.1, 3.3.5.9.2): the
 * FILE_FULL_EA_INFORMATION list it carries is set on the file the CREATE made, overwrote or
 * superseded (MS-FSA 2.1.5.1.1–2: EAs apply to a new or replaced file). Kept out of create.ts so
 * CREATE stays one screen.
 */
import { STATUS, SmbStatusError } from './errors.js';
import { closeOpen, type Open } from './files.js';
import type { SmbConnection } from './session.js';
import { writeEas } from './ea.js';
import { decodeFileFullEaInformation } from './wire/fscc.js';
import { CREATE_ACTION } from './wire/files.js';
import { WireError } from './wire/reader.js';

/**
 * Sets the EAs of an ExtA context on the open's file when the CREATE created, overwrote or
 * superseded it (an ExtA on a plain open is ignored). A malformed list → INVALID_PARAMETER, a bad
 * name → INVALID_EA_NAME; either way the open is closed again before the error goes back.
 */
export async function setCreateEas(c: SmbConnection, o: Open, data: Buffer, action: number): Promise<void> {
  if (action === CREATE_ACTION.OPENED) return;
  try {
    let eas;
    try {
      eas = decodeFileFullEaInformation(data);
    } catch (err) {
      if (err instanceof WireError) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
      throw err;
    }
    await writeEas(c.fileService!.vfs, o.ctx, o.node.ino, eas);
  } catch (err) {
    await closeOpen(c, o, false).catch(() => undefined);
    throw err;
  }
}
