/**
 * The If request header (RFC 4918 §10.4):
 *   If = ( 1*No-tag-list | 1*Tagged-list )
 *   Tagged-list = Resource-Tag 1*List ; List = "(" 1*Condition ")"
 *   Condition = ["Not"] ( State-token | "[" entity-tag "]" ) ; State-token = "<" absolute-URI ">"
 * Parsing only; evaluation against locks and ETags is in ../conditions.ts.
 */
import { DavError } from '../errors.js';
import { LIMITS, WireReader } from './reader.js';
import { readEntityTag } from './headers.js';
import { decodeRequestPath } from './url.js';

export interface IfCondition {
  not: boolean;
  /** A state token (lock token URI, or e.g. 'DAV:no-lock'). */
  token?: string;
  /** An entity-tag as written, quotes included: '"abc"' or 'W/"abc"'. */
  etag?: string;
}

export interface IfList {
  /** Decoded path of the Resource-Tag, or null for a No-tag-list (applies to the request URI). */
  resource: string | null;
  conditions: IfCondition[];
}

/**
 * Parses an If header value into its lists (in order). Mixing tagged and untagged lists,
 * empty lists, unbalanced brackets, more than LIMITS.ifConditions conditions or trailing
 * junk → DavError 400. Absent header → [] (no lists).
 */
export function parseIf(value: string | undefined): IfList[] {
  if (value === undefined) return [];
  const r: WireReader = new WireReader(value, LIMITS.ifHeader, 'If');
  const lists: IfList[] = [];
  let tagged: boolean | null = null;
  let current: string | null = null;
  let count = 0;
  r.skipWs();
  if (r.eof()) r.fail('empty');
  while (!r.eof()) {
    if (r.peek() === '<') {
      if (tagged === false) r.fail('tagged list after untagged list');
      tagged = true;
      r.expect('<');
      const ref = r.takeUntil('>', LIMITS.url);
      r.expect('>');
      if (ref === '') r.fail('empty resource tag');
      current = decodeRequestPath(ref).path;
      r.skipWs();
      if (r.peek() !== '(') r.fail('resource tag without list');
      continue;
    }
    if (r.peek() !== '(') r.fail("expected '(' or '<'");
    if (tagged === null) tagged = false;
    r.expect('(');
    const conditions: IfCondition[] = [];
    r.skipWs();
    while (r.peek() !== ')') {
      if (r.eof()) r.fail("missing ')'");
      if (++count > LIMITS.ifConditions) r.fail('too many conditions');
      let not = false;
      if (r.accept('Not', true)) {
        not = true;
        r.skipWs();
      }
      if (r.accept('<')) {
        const token = r.takeUntil('>', 1024);
        r.expect('>');
        if (token === '' || /[\s<]/.test(token)) r.fail('malformed state token');
        conditions.push({ not, token });
      } else if (r.accept('[')) {
        r.skipWs();
        const etag = readEntityTag(r);
        if (etag === null) r.fail('malformed entity-tag');
        r.skipWs();
        r.expect(']');
        conditions.push({ not, etag });
      } else r.fail('expected a condition');
      r.skipWs();
    }
    r.expect(')');
    if (conditions.length === 0) r.fail('empty list');
    lists.push({ resource: tagged ? current : null, conditions });
    r.skipWs();
  }
  if (lists.length === 0) throw new DavError(400, 'If: no lists');
  return lists;
}

/** Every state token named anywhere in the header (the tokens the client "submits", RFC 4918 §6.5). */
export function submittedTokens(lists: readonly IfList[]): Set<string> {
  const s = new Set<string>();
  for (const l of lists) for (const c of l.conditions) if (c.token !== undefined && !c.not) s.add(c.token);
  return s;
}
