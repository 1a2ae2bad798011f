/**
 * XML request bodies (RFC 4918 §14, XML 1.0 + Namespaces): parsed with fast-xml-parser under
 * strict limits, then turned into a namespace-resolved element tree. DTDs are refused, so no
 * entity is ever expanded beyond the five predefined ones and character references.
 * Also the escaping and canonical serialization used to store and send XML back.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { DavError } from '../errors.js';
import { LIMITS } from './reader.js';

export const DAV_NS = 'DAV:';
const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

export interface XmlAttr { ns: string; local: string; value: string }
/** A namespace-resolved element. `ns` is '' for no namespace. */
export interface XmlElement {
  ns: string;
  local: string;
  attrs: XmlAttr[];
  children: XmlNode[];
}
export type XmlNode = XmlElement | string;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  allowBooleanAttributes: false,
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  commentPropName: false,
  cdataPropName: '#cdata',
  maxNestedTags: LIMITS.xmlDepth,
});

const NAME_RE = /^[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9_.\-\u00B7\u00C0-\uFFFF]*$/;

/** Decodes the five predefined entities and character references; anything else → 400. */
export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&]{0,12});/g, (_m, name: string) => {
    switch (name) {
      case 'amp': return '&';
      case 'lt': return '<';
      case 'gt': return '>';
      case 'quot': return '"';
      case 'apos': return "'";
    }
    let cp = NaN;
    if (/^#x[0-9a-fA-F]{1,6}$/.test(name)) cp = parseInt(name.slice(2), 16);
    else if (/^#[0-9]{1,7}$/.test(name)) cp = parseInt(name.slice(1), 10);
    if (!isXmlChar(cp)) throw new DavError(400, `XML: bad entity or character reference &${name};`);
    return String.fromCodePoint(cp);
  });
}

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/**
 * Parses an XML request body. Returns null for an empty (or whitespace-only) body.
 * Throws DavError: 413 (> LIMITS.xmlBody bytes), 400 (not UTF-8, DOCTYPE/entities, not
 * well-formed, nesting > LIMITS.xmlDepth, unbound or empty-bound prefix, several roots).
 */
export function parseXml(body: Buffer): XmlElement | null {
  if (body.length > LIMITS.xmlBody) throw new DavError(413, 'XML body too large');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new DavError(400, 'XML body is not UTF-8');
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return null;
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new DavError(400, 'XML: DTDs are not accepted');
  const v = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (v !== true) throw new DavError(400, `XML: ${v.err.msg}`);
  let raw: unknown;
  try {
    raw = parser.parse(text);
  } catch (e) {
    throw new DavError(400, `XML: ${(e as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new DavError(400, 'XML: no root element');
  const roots = raw.filter((n) => n && typeof n === 'object' && !('#text' in n));
  if (roots.length !== 1) throw new DavError(400, 'XML: need exactly one root element');
  return convert(roots[0] as Record<string, unknown>, new Map([['xml', XML_NS]]), 0);
}

/** Turns one preserveOrder node into an XmlElement, resolving prefixes against `scope`. */
function convert(node: Record<string, unknown>, outer: Map<string, string>, depth: number): XmlElement {
  if (depth > LIMITS.xmlDepth) throw new DavError(400, 'XML nested too deeply');
  const qname = Object.keys(node).find((k) => k !== ':@');
  if (qname === undefined) throw new DavError(400, 'XML: malformed element');
  const rawAttrs = (node[':@'] ?? {}) as Record<string, unknown>;
  let scope = outer;
  const plain: Array<[string, string]> = [];
  for (const [k, val] of Object.entries(rawAttrs)) {
    if (typeof val !== 'string') throw new DavError(400, 'XML: malformed attribute');
    const value = decodeEntities(val);
    if (k === 'xmlns' || k.startsWith('xmlns:')) {
      if (scope === outer) scope = new Map(outer);
      const prefix = k === 'xmlns' ? '' : k.slice(6);
      if (prefix !== '' && value === '') throw new DavError(400, `XML: prefix ${prefix} bound to the empty namespace`);
      if (prefix === 'xmlns' || (prefix === 'xml') !== (value === XML_NS) || value === XMLNS_NS) {
        throw new DavError(400, 'XML: reserved namespace misuse');
      }
      scope.set(prefix, value);
    } else plain.push([k, value]);
  }
  const [ns, local] = resolveName(qname, scope, true);
  const attrs: XmlAttr[] = [];
  for (const [k, value] of plain) {
    const [ans, alocal] = resolveName(k, scope, false);
    attrs.push({ ns: ans, local: alocal, value });
  }
  const children: XmlNode[] = [];
  const kids = node[qname];
  if (!Array.isArray(kids)) throw new DavError(400, 'XML: malformed element');
  for (const k of kids) {
    if (!k || typeof k !== 'object') continue;
    const rec = k as Record<string, unknown>;
    if ('#text' in rec) children.push(decodeEntities(String(rec['#text'])));
    else if ('#cdata' in rec) {
      const c = rec['#cdata'];
      const parts = Array.isArray(c) ? c : [c];
      for (const p of parts) {
        if (p && typeof p === 'object' && '#text' in (p as object)) children.push(String((p as Record<string, unknown>)['#text']));
      }
    } else children.push(convert(rec, scope, depth + 1));
  }
  return { ns, local, attrs, children };
}

function resolveName(qname: string, scope: Map<string, string>, isElement: boolean): [string, string] {
  const colon = qname.indexOf(':');
  const prefix = colon < 0 ? '' : qname.slice(0, colon);
  const local = colon < 0 ? qname : qname.slice(colon + 1);
  if (!NAME_RE.test(local) || (colon >= 0 && !NAME_RE.test(prefix))) throw new DavError(400, `XML: bad name ${qname.slice(0, 64)}`);
  if (prefix === '') return [isElement ? scope.get('') ?? '' : '', local];
  const ns = scope.get(prefix);
  if (ns === undefined) throw new DavError(400, `XML: unbound prefix ${prefix}`);
  return [ns, local];
}

/** Child elements (text ignored). */
export function elements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== 'string');
}

/** Whether an element is {ns}local. */
export function isEl(el: XmlElement, ns: string, local: string): boolean {
  return el.ns === ns && el.local === local;
}

/** The first child element {ns}local, or undefined. */
export function child(el: XmlElement, ns: string, local: string): XmlElement | undefined {
  return elements(el).find((c) => isEl(c, ns, local));
}

/** Concatenated text content of an element's direct text children. */
export function textOf(el: XmlElement): string {
  return el.children.filter((c): c is string => typeof c === 'string').join('');
}

/** Escapes text for element content and attribute values (&, <, >, ", '). */
export function esc(s: string): string {
  return s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, '\ufffd').replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;'));
}

/** Escapes element content: &, <, > and CR (which XML would normalize away). */
export function escText(s: string): string {
  return s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, '\ufffd').replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;'));
}

/** Escapes an attribute value: as esc, plus CR, LF and TAB as character references. */
function escAttr(s: string): string {
  return esc(s).replace(/[\r\n\t]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Canonical, self-contained serialization of an element: every element declares its own
 * default namespace (`xmlns="..."`) and namespaced attributes get a prefix declared on the
 * same element, so the fragment can be embedded anywhere. xml:* attributes keep 'xml:'.
 */
export function serialize(el: XmlElement): string {
  let out = `<${el.local} xmlns="${esc(el.ns)}"`;
  let n = 0;
  for (const a of el.attrs) {
    if (a.ns === '') out += ` ${a.local}="${escAttr(a.value)}"`;
    else if (a.ns === XML_NS) out += ` xml:${a.local}="${escAttr(a.value)}"`;
    else {
      const p = `a${n++}`;
      out += ` xmlns:${p}="${esc(a.ns)}" ${p}:${a.local}="${escAttr(a.value)}"`;
    }
  }
  if (el.children.length === 0) return out + '/>';
  out += '>';
  for (const c of el.children) out += typeof c === 'string' ? escText(c) : serialize(c);
  return out + `</${el.local}>`;
}

/** Clark notation '{ns}local' of a property name. */
export function clark(ns: string, local: string): string {
  return `{${ns}}${local}`;
}

/** Splits Clark notation back; null if malformed. */
export function unclark(s: string): { ns: string; local: string } | null {
  const m = /^\{([^}]*)\}(.+)$/s.exec(s);
  if (!m || !NAME_RE.test(m[2]!)) return null;
  return { ns: m[1]!, local: m[2]! };
}

/** An empty element {ns}local as a self-contained XML string (DAV: names use the D: prefix). */
export function emptyElement(ns: string, local: string): string {
  return ns === DAV_NS ? `<D:${local}/>` : `<${local} xmlns="${esc(ns)}"/>`;
}
