/**
 * IOCTL (MS-SMB2 3.3.5.15) on disk shares: FSCTL_VALIDATE_NEGOTIATE_INFO (3.3.5.15.12), which
 * 3.0 and 3.0.2 clients send after every tree connect to check that nobody tampered with the
 * NEGOTIATE; the file-system controls of fsctl.ts (Previous Versions, server-side copy, sparse
 * files). Every other control code → STATUS_INVALID_DEVICE_REQUEST (FSCTLs) or
 * STATUS_NOT_SUPPORTED (device IOCTLs).
 */
import { STATUS, SmbStatusError } from './errors.js';
import { DisconnectError, type Request, type Response, type SmbConnection } from './session.js';
import { SECURITY_MODE, selectDialect } from './wire/negotiate.js';
import {
  decodeIoctlRequest, decodeValidateNegotiateInfo, encodeValidateNegotiateResponse, FSCTL, IOCTL_IS_FSCTL, writeIoctlResponse,
} from './wire/files.js';
import { capabilitiesFor } from './setup.js';
import { FSCTL_HANDLERS } from './fsctl.js';

/**
 * FSCTL_VALIDATE_NEGOTIATE_INFO: the client's Capabilities, Guid, SecurityMode and dialect list
 * must be what its NEGOTIATE said and select the connection's dialect; any difference drops the
 * connection (3.3.5.15.12). The answer (server capabilities, GUID, security mode, dialect) is
 * signed like any response to a signed request. A MaxOutputResponse below 24 → INVALID_PARAMETER.
 */
export function validateNegotiate(c: SmbConnection, q: Request, input: Buffer, maxOut: number): Response {
  const v = decodeValidateNegotiateInfo(input);
  if (maxOut < 24) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  const dialect = selectDialect(v.dialects, c.dialects);
  if (v.capabilities !== c.clientCapabilities || !c.clientGuid || !v.guid.equals(c.clientGuid) || v.securityMode !== c.clientSecurityMode
    || dialect !== c.dialect) {
    throw new DisconnectError('VALIDATE_NEGOTIATE_INFO does not match the NEGOTIATE');
  }
  const out = encodeValidateNegotiateResponse({
    capabilities: capabilitiesFor(c, c.dialect!), guid: c.opts.serverGuid,
    securityMode: SECURITY_MODE.SIGNING_ENABLED | (c.opts.requireSigning ? SECURITY_MODE.SIGNING_REQUIRED : 0), dialect: c.dialect!,
  });
  const fileId = decodeIoctlRequest(q.message).fileId;
  return { status: STATUS.SUCCESS, body: (w) => { writeIoctlResponse(w, FSCTL.VALIDATE_NEGOTIATE_INFO, fileId, out); } };
}

/** IOCTL on a disk share, and on IPC$ for what the pipe side leaves (pipe.ts answers the pipe FSCTLs). */
export function handleIoctl(c: SmbConnection, q: Request): Response | Promise<Response> {
  const req = decodeIoctlRequest(q.message);
  if (req.ctlCode === FSCTL.VALIDATE_NEGOTIATE_INFO) return validateNegotiate(c, q, req.input, req.maxOutputResponse);
  const h = q.tree?.share && req.flags & IOCTL_IS_FSCTL ? FSCTL_HANDLERS.get(req.ctlCode) : undefined;
  if (h) return h(c, q, req);
  throw new SmbStatusError(req.flags & IOCTL_IS_FSCTL ? STATUS.INVALID_DEVICE_REQUEST : STATUS.NOT_SUPPORTED);
}
