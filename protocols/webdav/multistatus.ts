/**
 * 207 Multi-Status bodies (RFC 4918 §13, §14.16, §14.24): responses with propstat groups or a
 * single status, and the DAV:error body (§16). Hrefs are passed percent-encoded and escaped here.
 */
import { statusLine } from './errors.js';
import { XML_HEADER } from './session.js';
import { esc } from './wire/xml.js';

export const MULTISTATUS_OPEN = XML_HEADER + '<D:multistatus xmlns:D="DAV:">';
export const MULTISTATUS_CLOSE = '</D:multistatus>\n';

/** Collects property XML by status for one DAV:response. */
export class PropstatBuilder {
  private groups = new Map<number, string[]>();
  add(status: number, propXml: string): void {
    let g = this.groups.get(status);
    if (!g) this.groups.set(status, (g = []));
    g.push(propXml);
  }
  get empty(): boolean { return this.groups.size === 0; }
  /** The DAV:response element for `href`, propstats ordered by status. */
  response(href: string): string {
    let out = `<D:response><D:href>${esc(href)}</D:href>`;
    for (const status of [...this.groups.keys()].sort((a, b) => a - b)) {
      out += `<D:propstat><D:prop>${this.groups.get(status)!.join('')}</D:prop><D:status>${statusLine(status)}</D:status></D:propstat>`;
    }
    return out + '</D:response>';
  }
}

/** A DAV:response carrying only a status (and optionally a DAV:error precondition). */
export function statusResponse(href: string, status: number, condition?: string): string {
  return `<D:response><D:href>${esc(href)}</D:href><D:status>${statusLine(status)}</D:status>`
    + (condition ? `<D:error><D:${condition}/></D:error>` : '') + '</D:response>';
}

/** A DAV:error body (RFC 4918 §16) naming a precondition, with optional DAV:href children. */
export function errorBody(condition: string, hrefs: readonly string[] = []): string {
  const inner = hrefs.map((h) => `<D:href>${esc(h)}</D:href>`).join('');
  return XML_HEADER + `<D:error xmlns:D="DAV:"><D:${condition}>${inner}</D:${condition}></D:error>\n`;
}
