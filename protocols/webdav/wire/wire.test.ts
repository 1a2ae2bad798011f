import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DavError } from '../errors.js';
import { decodeRequestPath, encodeHref, encodeSegment, parseDestination } from './url.js';
import { parseBasicAuth, parseDepth, parseEtagList, parseLockToken, parseOverwrite, parseRange, parseTimeout } from './headers.js';
import { parseIf, submittedTokens, type IfList } from './if.js';
import { parseXml, serialize, type XmlElement } from './xml.js';
import { BoundedBody, LIMITS, WireReader } from './reader.js';

const RUNS = { numRuns: 400 };

/** Runs fn; a thrown DavError is a valid answer (returned as such), anything else fails the test. */
function answer<T>(fn: () => T): T | DavError {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DavError) {
      assert.ok(e.status >= 400 && e.status < 600, `status ${e.status}`);
      return e;
    }
    throw e;
  }
}

/** Strings that look like request paths, rich in the tricky pieces. */
const pathish = fc.array(fc.oneof(
  fc.constantFrom('/', '..', '.', '%2e%2e', '%2E%2e', '%2e', '%00', '%2f', '%2F', '%', '%g1', '%c3%28', '%e2%82%ac', '#', '?', 'a', 'b c', '\u00e9', '//'),
  fc.string({ maxLength: 8 }),
), { maxLength: 24 }).map((a) => '/' + a.join(''));

describe('wire: request paths', () => {
  test('decodeRequestPath answers a clean path or a 4xx for any input', () => {
    fc.assert(fc.property(fc.oneof(pathish, fc.string(), fc.string({ unit: 'binary' })), (s) => {
      const r = answer(() => decodeRequestPath(s));
      if (r instanceof DavError) { assert.ok([400, 414].includes(r.status)); return; }
      for (const seg of r.segments) {
        assert.notEqual(seg, '');
        assert.notEqual(seg, '.');
        assert.notEqual(seg, '..');
        assert.ok(!seg.includes('\0') && !seg.includes('/'));
        assert.ok(Buffer.byteLength(seg) <= 255);
      }
      assert.equal(r.path, '/' + r.segments.join('/'));
    }), RUNS);
  });

  test('traversal, NUL, encoded slash, bad escapes and fragments are 400; long names 414', () => {
    for (const bad of ['/a/../b', '/%2e%2e/etc/passwd', '/a/%2E%2E', '/./x', '/a%00b', '/a%2fb', '/%zz', '/%c3%28', '/a#frag', 'relative']) {
      const r = answer(() => decodeRequestPath(bad));
      assert.ok(r instanceof DavError && r.status === 400, bad);
    }
    const long = answer(() => decodeRequestPath('/' + 'x'.repeat(256)));
    assert.ok(long instanceof DavError && long.status === 414);
    const deep = answer(() => decodeRequestPath('/' + Array(900).fill('abcd').join('/')));
    assert.ok(deep instanceof DavError && deep.status === 414);
    const huge = answer(() => decodeRequestPath('/' + 'y'.repeat(LIMITS.url + 1)));
    assert.ok(huge instanceof DavError && huge.status === 414);
    assert.deepEqual(decodeRequestPath('/a//b/?q=1').segments, ['a', 'b']);
    assert.equal(decodeRequestPath('/res-%e2%82%ac').path, '/res-\u20ac');
    assert.equal(decodeRequestPath('http://h:1/x/y/').path, '/x/y');
  });

  test('encodeHref and decodeRequestPath round-trip any valid name', () => {
    const seg = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 })
      .filter((s) => !s.includes('/') && !s.includes('\0') && s !== '.' && s !== '..' && Buffer.byteLength(s) <= 255);
    fc.assert(fc.property(fc.array(seg, { maxLength: 8 }), fc.boolean(), (segs, dir) => {
      const href = encodeHref('/' + segs.join('/'), dir);
      assert.match(href, /^[A-Za-z0-9\-._~!$'()*+,;=:@%/]*$/);
      assert.deepEqual(decodeRequestPath(href).segments, segs);
    }), RUNS);
    assert.equal(encodeSegment('a b&c'), 'a%20b%26c');
  });

  test('parseDestination: same server → path, other host or scheme → 502, garbage → 4xx', () => {
    assert.equal(parseDestination('http://127.0.0.1:8080/a/b', '127.0.0.1:8080', 'http').path, '/a/b');
    assert.equal(parseDestination('/a/%20', '127.0.0.1:8080', 'http').path, '/a/ ');
    assert.equal(parseDestination('http://LOCALHOST/a', 'localhost:80', 'http').path, '/a');
    for (const other of ['http://evil.example/a', 'http://127.0.0.1:9999/a', 'https://127.0.0.1:8080/a', 'ftp://127.0.0.1:8080/a']) {
      const r = answer(() => parseDestination(other, '127.0.0.1:8080', 'http'));
      assert.ok(r instanceof DavError && r.status === 502, other);
    }
    for (const bad of [undefined, '', 'a/b', 'http://127.0.0.1:8080/../x', 'http://u@127.0.0.1:8080/x']) {
      const r = answer(() => parseDestination(bad, '127.0.0.1:8080', 'http'));
      assert.ok(r instanceof DavError && r.status === 400, String(bad));
    }
    fc.assert(fc.property(fc.oneof(fc.string(), pathish, pathish.map((p) => 'http://127.0.0.1:1' + p)), (s) => {
      answer(() => parseDestination(s, '127.0.0.1:1', 'http'));
    }), RUNS);
  });
});

describe('wire: headers', () => {
  test('Depth, Overwrite, Timeout, Lock-Token: valid values parse, anything else is a 400', () => {
    assert.equal(parseDepth(undefined, 'infinity'), 'infinity');
    assert.equal(parseDepth('0', 1), 0);
    assert.equal(parseDepth(' Infinity ', 0), 'infinity');
    assert.ok(answer(() => parseDepth('1', 0, [0, 'infinity'])) instanceof DavError);
    assert.equal(parseOverwrite(undefined), true);
    assert.equal(parseOverwrite('F'), false);
    assert.equal(parseTimeout('Second-100', 5), 100);
    assert.equal(parseTimeout('Infinite, Second-4100000000', 5), LIMITS.maxLockSeconds);
    assert.equal(parseTimeout('Second-99999999999999999999', 5), LIMITS.maxLockSeconds);
    assert.equal(parseTimeout('Bogus', 5), 5);
    assert.equal(parseLockToken(' <urn:uuid:1234> '), 'urn:uuid:1234');
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
      const d = answer(() => parseDepth(s, 0));
      assert.ok(d instanceof DavError || d === 0 || d === 1 || d === 'infinity');
      const o = answer(() => parseOverwrite(s));
      assert.ok(o instanceof DavError || typeof o === 'boolean');
      const t = answer(() => parseTimeout(s, 7));
      assert.ok(t instanceof DavError || (Number.isInteger(t) && t >= 1 && t <= LIMITS.maxLockSeconds));
      const l = answer(() => parseLockToken(s));
      assert.ok(l instanceof DavError || (l.length > 0 && !/[\s>]/.test(l)));
      const e = answer(() => parseEtagList(s));
      assert.ok(e instanceof DavError || e === '*' || Array.isArray(e));
    }), RUNS);
  });

  test('Range: satisfiable ranges stay inside the body; huge, negative or garbage ranges never crash', () => {
    assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
    assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-1000', 100), { start: 0, end: 99 });
    assert.deepEqual(parseRange('bytes=5-99999999999999999999999', 100), { start: 5, end: 99 });
    assert.deepEqual(parseRange('bytes=5-9999999999999999999', 100), { start: 5, end: 99 });
    assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=99999999999999999999-', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-0', 0), 'unsatisfiable');
    assert.equal(parseRange('bytes=-5-3', 100), null);
    assert.equal(parseRange('bytes=9-5', 100), null);
    assert.equal(parseRange('bytes=0-1,5-6', 100), null);
    assert.equal(parseRange('items=0-1', 100), null);
    fc.assert(fc.property(fc.oneof(fc.string(), fc.tuple(fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }), fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n })).map(([a, b]) => `bytes=${a}-${b}`)),
      fc.nat({ max: 2 ** 40 }), (s, size) => {
        const r = answer(() => parseRange(s, size));
        assert.ok(!(r instanceof DavError), 'Range never errors: it is ignored or unsatisfiable');
        if (r && r !== 'unsatisfiable') assert.ok(r.start >= 0 && r.start <= r.end && r.end < size);
      }), RUNS);
  });

  test('Basic credentials: decoded or null, never thrown', () => {
    const b = (s: string): string => 'Basic ' + Buffer.from(s).toString('base64');
    assert.deepEqual(parseBasicAuth(b('u:p:q')), { user: 'u', password: 'p:q' });
    assert.equal(parseBasicAuth(b('nocolon')), null);
    assert.equal(parseBasicAuth('Bearer x'), null);
    assert.equal(parseBasicAuth('Basic ' + Buffer.from([0xff, 0x3a, 0x41]).toString('base64')), null);
    fc.assert(fc.property(fc.string({ maxLength: 5000 }), (s) => {
      const r = answer(() => parseBasicAuth(s));
      assert.ok(!(r instanceof DavError));
    }), RUNS);
  });
});

describe('wire: If header', () => {
  const token = fc.oneof(fc.uuid().map((u) => `urn:uuid:${u}`), fc.uuid().map((u) => `opaquelocktoken:${u}`), fc.constant('DAV:no-lock'));
  const etag = fc.stringMatching(/^[A-Za-z0-9\-]{0,20}$/).map((s) => `"${s}"`);
  const cond = fc.record({ not: fc.boolean(), token: fc.option(token, { nil: undefined }), etag }).map((c) =>
    c.token !== undefined ? { not: c.not, token: c.token } : { not: c.not, etag: c.etag });
  const list = fc.array(cond, { minLength: 1, maxLength: 4 });
  const seg = fc.stringMatching(/^[a-z0-9]{1,8}$/);
  const model = fc.oneof(
    fc.array(list, { minLength: 1, maxLength: 4 }).map((ls): IfList[] => ls.map((conditions) => ({ resource: null, conditions }))),
    fc.array(fc.tuple(fc.array(seg, { maxLength: 3 }), fc.array(list, { minLength: 1, maxLength: 3 })), { minLength: 1, maxLength: 3 })
      .map((tags): IfList[] => tags.flatMap(([segs, ls]) => ls.map((conditions) => ({ resource: '/' + segs.join('/'), conditions })))),
  );
  const render = (lists: IfList[], ws: string): string => {
    let out = '';
    let last: string | null | undefined;
    for (const l of lists) {
      if (l.resource !== null && l.resource !== last) out += `${ws}<http://127.0.0.1:80${l.resource}>`;
      last = l.resource;
      out += ws + '(' + l.conditions.map((c) => `${c.not ? 'Not ' : ''}${c.token !== undefined ? `<${c.token}>` : `[${c.etag}]`}`).join(ws || ' ') + ')';
    }
    return out;
  };

  test('generated If headers parse back to their model', () => {
    fc.assert(fc.property(model, fc.constantFrom('', ' ', '\t '), (m, ws) => {
      const parsed = parseIf(render(m, ws));
      // Adjacent lists for the same tag merge in the rendering only; the model keeps one entry per list.
      assert.deepEqual(parsed, m);
    }), RUNS);
  });

  test('examples and submitted tokens', () => {
    const l = parseIf('(<urn:uuid:a> ["e1"]) (Not <DAV:no-lock> ["e1"])');
    assert.equal(l.length, 2);
    assert.deepEqual(l[1]!.conditions[0], { not: true, token: 'DAV:no-lock' });
    assert.deepEqual([...submittedTokens(l)], ['urn:uuid:a']);
    assert.equal(parseIf('</x> (<urn:uuid:b>)')[0]!.resource, '/x');
    for (const bad of ['', '(', '()', '(<a>', '<x>', '(<a>) <x> (<b>)', '(Not)', '([nope])', '(<a b>)', '<http://h/../x> (<a>)']) {
      assert.ok(answer(() => parseIf(bad)) instanceof DavError, bad);
    }
    assert.ok(answer(() => parseIf('(<a>)'.repeat(LIMITS.ifConditions + 1))) instanceof DavError);
  });

  test('arbitrary If values answer lists or a 400', () => {
    const junk = fc.array(fc.constantFrom('(', ')', '<', '>', '[', ']', 'Not ', '"', 'W/', ' ', 'urn:x', '"e"', '/a'), { maxLength: 30 }).map((a) => a.join(''));
    fc.assert(fc.property(fc.oneof(fc.string(), junk), (s) => {
      const r = answer(() => parseIf(s));
      if (r instanceof DavError) assert.equal(r.status === 400 || r.status === 414, true);
    }), RUNS);
  });
});

describe('wire: XML bodies', () => {
  const name = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_.-]{0,10}$/);
  const ns = fc.constantFrom('', 'DAV:', 'http://example.com/ns', 'urn:x:y', 'http://a/b?c&d<e>');
  const text = fc.string({ unit: 'binary', maxLength: 20 }).map((s) => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff\r]/g, '').replace(/[\ud800-\udfff]/g, ''));
  const tree: fc.Arbitrary<XmlElement> = fc.letrec<{ el: XmlElement }>((tie) => ({
    el: fc.record({
      ns,
      local: name,
      attrs: fc.uniqueArray(fc.record({ ns: fc.constantFrom('', 'urn:attr'), local: name, value: text }), { maxLength: 2, selector: (a) => `{${a.ns}}${a.local}` }),
      children: fc.array(fc.oneof({ depthSize: 'small' }, text.filter((t) => t.trim() !== ''), tie('el')), { maxLength: 3 }),
    }),
  })).el;

  /** Merges adjacent text nodes, as any XML parser will. */
  const norm = (e: XmlElement): XmlElement => {
    const children: Array<XmlElement | string> = [];
    for (const c of e.children) {
      if (typeof c === 'string') {
        if (typeof children[children.length - 1] === 'string') children[children.length - 1] += c;
        else children.push(c);
      } else children.push(norm(c));
    }
    return { ...e, children: children.filter((c) => c !== '') };
  };

  test('serialize → parseXml round-trips any element tree', () => {
    fc.assert(fc.property(tree, (t) => {
      const back = parseXml(Buffer.from(serialize(t)));
      assert.ok(back);
      assert.deepEqual(JSON.parse(JSON.stringify(norm(back))), JSON.parse(JSON.stringify(norm(t))));
    }), RUNS);
  });

  test('namespaces, entities and character references', () => {
    const e = parseXml(Buffer.from('<?xml version="1.0"?><D:a xmlns:D="DAV:" xmlns="urn:d"><b x="&lt;&#x41;"/>t&amp;&#66;<![CDATA[<raw>]]></D:a>'))!;
    assert.equal(e.ns, 'DAV:');
    assert.equal(e.local, 'a');
    const b = e.children[0] as XmlElement;
    assert.equal(b.ns, 'urn:d');
    assert.deepEqual(b.attrs, [{ ns: '', local: 'x', value: '<A' }]);
    assert.deepEqual(e.children.slice(1).join(''), 't&B<raw>');
    assert.equal(parseXml(Buffer.from('  \n')), null);
  });

  test('malformed, DTDs, unbound prefixes, empty prefix bindings, deep nesting → 400; too large → 413', () => {
    const bad = [
      '<a><b></a>', '<a>', 'not xml', '<a/><b/>', '<x:a/>', '<a xmlns:x=""><x:b/></a>',
      '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
      '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>',
      '<a>&unknown;</a>', '<a>&#0;</a>', '<a>&#xD800;</a>',
      '<a>' + '<b>'.repeat(LIMITS.xmlDepth + 5) + '</b>'.repeat(LIMITS.xmlDepth + 5) + '</a>',
    ];
    for (const s of bad) {
      const r = answer(() => parseXml(Buffer.from(s)));
      assert.ok(r instanceof DavError && r.status === 400, s.slice(0, 60));
    }
    const notUtf8 = answer(() => parseXml(Buffer.from([0x3c, 0x61, 0xff, 0x3e])));
    assert.ok(notUtf8 instanceof DavError && notUtf8.status === 400);
    const big = answer(() => parseXml(Buffer.alloc(LIMITS.xmlBody + 1, 0x20)));
    assert.ok(big instanceof DavError && big.status === 413);
  });

  test('arbitrary bytes and XML-ish junk answer an element, null or a 4xx', () => {
    const junk = fc.array(fc.constantFrom('<', '>', '/', 'a', 'D:', 'xmlns', '="DAV:"', '&', ';', '<!--', '-->', '<![CDATA[', ']]>', ' ', '__proto__', 'constructor', '?'), { maxLength: 40 }).map((a) => a.join(''));
    fc.assert(fc.property(fc.oneof(junk, fc.string(), fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u).toString('latin1'))), (s) => {
      answer(() => parseXml(Buffer.from(s, 'utf8')));
    }), RUNS);
  });
});

describe('wire: reader', () => {
  test('bounds are enforced', () => {
    assert.ok(answer(() => new WireReader('x'.repeat(11), 10, 't')) instanceof DavError);
    const r = new WireReader('abc>def', 10, 't');
    assert.ok(answer(() => r.takeUntil('>', 2)) instanceof DavError);
    const body = new BoundedBody(4);
    body.push(Buffer.from('abcd'));
    const over = answer(() => body.push(Buffer.from('e')));
    assert.ok(over instanceof DavError && over.status === 413);
  });
});
