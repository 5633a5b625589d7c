// The edge's pure SIP parser: table-driven cases and a fuzz run (random and mutated messages).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ParseError } from '../../src/errors.js';
import {
  FramingError,
  canonicalName,
  frameStream,
  getHeader,
  getHeaders,
  getTag,
  parseCSeq,
  parseMessage,
  parseNameAddr,
  parseSipUri,
  parseVia,
  serializeMessage,
  splitList,
  stringifyVia,
} from '../../src/sip/edge/message.js';
import { takeFrames } from '../../src/sip/edge/control.js';
import { mulberry32 as rng } from '../helpers/prng.js';

const INVITE = [
  'INVITE sip:srs@127.0.0.1:5090 SIP/2.0',
  'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa;rport, SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bKb',
  'v: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKc',
  'f: "Alice, A" <sip:alice@example.com>;tag=abc',
  't: <sip:srs@127.0.0.1:5090>',
  'i: call-1@example.com',
  'CSeq: 1 INVITE',
  'm: <sip:alice@10.0.0.1:5060>;+sip.src',
  'Subject: folded',
  '  continuation',
  'c: application/sdp',
  'l:   5',
  '',
  'v=0\r\nEXTRA',
].join('\r\n');

describe('sip message parser', () => {
  test('request with compact headers, multi-value Via, folding and Content-Length', () => {
    const m = parseMessage(INVITE);
    assert.equal(m.type, 'request');
    if (m.type !== 'request') return;
    assert.equal(m.method, 'INVITE');
    assert.equal(m.uri, 'sip:srs@127.0.0.1:5090');
    assert.equal(getHeader(m, 'Call-ID'), 'call-1@example.com');
    assert.equal(getHeader(m, 'from'), '"Alice, A" <sip:alice@example.com>;tag=abc');
    assert.equal(getTag(getHeader(m, 'From')), 'abc');
    assert.equal(getTag(getHeader(m, 'To')), undefined);
    assert.equal(getHeader(m, 'subject'), 'folded continuation');
    assert.equal(getHeader(m, 'content-type'), 'application/sdp');
    const vias = getHeaders(m, 'via');
    assert.equal(vias.length, 3);
    const v2 = parseVia(vias[1] ?? '');
    assert.equal(v2.host, '2001:db8::1');
    assert.equal(v2.port, 5070);
    assert.equal(v2.transport, 'TCP');
    assert.equal(m.body.toString(), 'v=0\r\n');
    assert.equal(parseNameAddr(getHeader(m, 'contact') ?? '').uri, 'sip:alice@10.0.0.1:5060');
  });

  test('response line, reason with spaces, missing reason', () => {
    const r = parseMessage(
      'SIP/2.0 481 Call/Transaction Does Not Exist\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n',
    );
    assert.equal(r.type, 'response');
    if (r.type === 'response') {
      assert.equal(r.status, 481);
      assert.equal(r.reason, 'Call/Transaction Does Not Exist');
    }
    const r2 = parseMessage('SIP/2.0 200\r\n\r\n');
    assert.equal(r2.type === 'response' && r2.reason, '');
  });

  const bad: [string, string | Buffer][] = [
    ['empty', ''],
    ['only CRLF', '\r\n\r\n'],
    ['junk start line', 'hello world\r\n\r\n'],
    ['status out of range', 'SIP/2.0 999 Nope\r\n\r\n'],
    ['header without colon', 'OPTIONS sip:a SIP/2.0\r\nVia SIP/2.0/UDP x\r\n\r\n'],
    ['bad header name', 'OPTIONS sip:a SIP/2.0\r\nVi a: x\r\n\r\n'],
    ['continuation first', 'OPTIONS sip:a SIP/2.0\r\n folded\r\n\r\n'],
    ['Content-Length not a number', 'OPTIONS sip:a SIP/2.0\r\nContent-Length: x\r\n\r\n'],
    ['body shorter than Content-Length', 'OPTIONS sip:a SIP/2.0\r\nContent-Length: 10\r\n\r\nabc'],
  ];
  for (const [name, input] of bad) {
    test(`rejects ${name} with ParseError`, () => {
      assert.throws(() => parseMessage(input), ParseError);
    });
  }

  test('header helpers', () => {
    assert.equal(canonicalName('V'), 'via');
    assert.equal(canonicalName('Call-ID'), 'call-id');
    assert.deepEqual(splitList('<sip:a,b>;x="1,2", sip:c'), ['<sip:a,b>;x="1,2"', 'sip:c']);
    assert.deepEqual(parseCSeq('12 invite'), { seq: 12, method: 'INVITE' });
    assert.throws(() => parseCSeq('x INVITE'), ParseError);
    const u = parseSipUri('sip:bob@[::1]:5062;transport=tcp;lr');
    assert.equal(u.host, '::1');
    assert.equal(u.port, 5062);
    assert.deepEqual(u.params, [
      ['transport', 'tcp'],
      ['lr', undefined],
    ]);
    const v = parseVia('SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx;rport');
    v.params.push(['received', '5.6.7.8']);
    assert.equal(stringifyVia(v), 'SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx;rport;received=5.6.7.8');
    assert.equal(parseNameAddr('sip:a@b;tag=1').uri, 'sip:a@b');
  });

  test('serialize keeps raw header lines and round-trips', () => {
    const m = parseMessage(INVITE);
    const again = parseMessage(serializeMessage(m));
    assert.deepEqual(
      again.headers.map((h) => [h.name, h.value]),
      m.headers.map((h) => [h.name, h.value]),
    );
    assert.ok(serializeMessage(m).toString().includes('l:   5\r\n'));
  });

  test('stream framing: keep-alives, several messages, split message', () => {
    const one = 'OPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n\r\nabc';
    const buf = Buffer.from('\r\n\r\n' + one + one);
    const f0 = frameStream(buf);
    assert.deepEqual(f0, { kind: 'keepalive', length: 4 });
    const f1 = frameStream(buf.subarray(4));
    assert.deepEqual(f1, { kind: 'message', length: one.length });
    assert.deepEqual(frameStream(Buffer.from(one.slice(0, 20))), { kind: 'incomplete' });
    assert.deepEqual(frameStream(Buffer.from(one.slice(0, one.length - 1))), { kind: 'incomplete' });
    assert.deepEqual(frameStream(Buffer.from('OPTIONS sip:a SIP/2.0\r\nl: 0\r\n\r\n')), {
      kind: 'message',
      length: 31,
    });
    assert.throws(() => frameStream(Buffer.from('X\r\nContent-Length: -1\r\n\r\n')), ParseError);
  });

  test('stream framing and the parser read Content-Length by one rule (folded lines, duplicates)', () => {
    const inner = 'OPTIONS sip:a SIP/2.0\r\nCall-ID: SMUGGLED\r\nContent-Length: 0\r\n\r\n';
    const outer =
      `MESSAGE sip:a SIP/2.0\r\nSubject: hello\r\n l: 0\r\nContent-Length: ${inner.length}\r\n\r\n` + inner;
    // The folded ` l: 0` continues Subject: the body (the OPTIONS) belongs to the MESSAGE.
    assert.deepEqual(frameStream(Buffer.from(outer)), { kind: 'message', length: outer.length });
    assert.equal(parseMessage(Buffer.from(outer)).body.toString(), inner);
    const twice = 'OPTIONS sip:a SIP/2.0\r\nContent-Length: 0\r\nl: 4\r\n\r\nabcd';
    assert.throws(
      () => frameStream(Buffer.from(twice)),
      (e: unknown) => {
        assert.ok(e instanceof FramingError);
        assert.equal(e.status, 400);
        assert.equal(e.headLength, twice.length - 4);
        return true;
      },
    );
    assert.throws(() => parseMessage(Buffer.from(twice)), /2 Content-Length headers/);
    assert.throws(
      () => frameStream(Buffer.from('OPTIONS sip:a SIP/2.0\r\nl: 2000000\r\n\r\n')),
      (e: unknown) => e instanceof FramingError && e.status === 513,
    );
  });

  test('control framing counts UTF-8 bytes and waits for the rest', () => {
    const p = 'id|route|invité';
    const frame = `${Buffer.byteLength(p)}#${p}`;
    const { frames, rest } = takeFrames(Buffer.from(frame + frame.slice(0, 5)));
    assert.deepEqual(frames, [p]);
    assert.equal(rest.toString(), frame.slice(0, 5));
    assert.throws(() => takeFrames(Buffer.from('abc#x')));
  });
});

// ------------------------------------------------------------------ fuzz
const PIECES = [
  '\r\n',
  '\r\n\r\n',
  ':',
  ';',
  ',',
  '<',
  '>',
  '"',
  ' ',
  '\t',
  'SIP/2.0',
  'Via',
  'v',
  'l',
  'Content-Length',
  '0',
  '99999999999',
  '-1',
  'sip:',
  '@',
  '[',
  ']',
  'é',
  '\u0000',
  'tag=',
  'branch=z9hG4bK',
];

describe('sip parser fuzz', () => {
  test('20k random and mutated inputs: parse succeeds or throws ParseError, never hangs', () => {
    const r = rng(0x5ee0);
    const seeds = [
      INVITE,
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKx\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n',
    ];
    const start = Date.now();
    let parsed = 0;
    for (let i = 0; i < 20000; i++) {
      let input: Buffer;
      if (i % 4 === 0) {
        // random bytes
        input = Buffer.alloc(Math.floor(r() * 300));
        for (let j = 0; j < input.length; j++) input[j] = Math.floor(r() * 256);
      } else {
        // mutate a valid message: splice pieces, delete ranges, flip bytes
        let s = seeds[i % seeds.length] ?? '';
        const ops = 1 + Math.floor(r() * 4);
        for (let k = 0; k < ops; k++) {
          const at = Math.floor(r() * (s.length + 1));
          const op = r();
          if (op < 0.4) s = s.slice(0, at) + (PIECES[Math.floor(r() * PIECES.length)] ?? '') + s.slice(at);
          else if (op < 0.7) s = s.slice(0, at) + s.slice(at + Math.floor(r() * 20));
          else s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 128)) + s.slice(at + 1);
        }
        input = Buffer.from(s, 'utf8');
      }
      try {
        const m = parseMessage(input);
        parsed++;
        // helpers must hold up on whatever parsed
        for (const name of ['via', 'from', 'to', 'contact', 'cseq']) {
          const v = getHeader(m, name);
          if (v === undefined) continue;
          try {
            if (name === 'via') parseVia(v);
            else if (name === 'cseq') parseCSeq(v);
            else parseSipUri(parseNameAddr(v).uri);
          } catch (err) {
            assert.ok(err instanceof ParseError, `helper threw ${String(err)} on ${JSON.stringify(v)}`);
          }
        }
        serializeMessage(m);
      } catch (err) {
        assert.ok(
          err instanceof ParseError,
          `threw ${String(err)} on ${JSON.stringify(input.toString('latin1'))}`,
        );
      }
      try {
        frameStream(input);
      } catch (err) {
        assert.ok(err instanceof ParseError, `frameStream threw ${String(err)}`);
      }
    }
    assert.ok(parsed > 1000, `only ${parsed} inputs parsed; the mutator is too destructive`);
    assert.ok(Date.now() - start < 20000, 'fuzz run too slow');
  });
});
