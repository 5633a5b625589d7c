/**
 * SRTP keying (RFC 4568 SDES) in the SIPREC SDP: a=crypto parsing and validation, the
 * strongest-suite pick, SRS_SRTP modes, the answer's crypto line, re-keying across re-INVITEs, an
 * SBC offer with several crypto lines, and that keys never leave through logs or JSON. Real SDP
 * text through the real parser (sdp-transform) and the real answer writer. The codec choice is in
 * siprec-codecs.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import {
  CryptoLineError,
  SecretKey,
  parseCryptoLine,
  pickCrypto,
  readCryptoLines,
  srtpParamsOf,
} from '../../src/sip/app/sdes.js';
import { buildAnswer, chooseStream, codecNames, parseOffer, type SrtpMode } from '../../src/sip/app/sdp.js';
import { answerOf, applyPlan, planOffer, type Slot } from '../../src/sip/app/session.js';
import { K30, K30B, K46, K28, K44, rules, offer } from '../helpers/sdp-offers.js';
import { SdesTransportCheck, WARN_INTERVAL_MS } from '../../src/sip/app/sdes-transport.js';

describe('a=crypto lines (RFC 4568 §9.1)', () => {
  const ok: [string, string, Partial<ReturnType<typeof summary>>][] = [
    ['AES_CM_128_HMAC_SHA1_80, bare key', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}`, { tag: 1, bytes: 30 }],
    ['AES_CM_128_HMAC_SHA1_32', `2 AES_CM_128_HMAC_SHA1_32 inline:${K30}`, { tag: 2, bytes: 30 }],
    ['AES_256_CM_HMAC_SHA1_80', `3 AES_256_CM_HMAC_SHA1_80 inline:${K46}`, { bytes: 46 }],
    ['AES_256_CM_HMAC_SHA1_32', `3 AES_256_CM_HMAC_SHA1_32 inline:${K46}`, { bytes: 46 }],
    ['AEAD_AES_128_GCM', `4 AEAD_AES_128_GCM inline:${K28}`, { bytes: 28 }],
    ['AEAD_AES_256_GCM', `5 AEAD_AES_256_GCM inline:${K44}`, { bytes: 44 }],
    [
      'lifetime 2^20 and MKI 1:4',
      `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|2^20|1:4`,
      { lifetime: 2 ** 20, mki: { value: 1, length: 4 } },
    ],
    ['decimal lifetime', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|1000000`, { lifetime: 1e6 }],
    ['MKI without lifetime', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|7:1`, { mki: { value: 7, length: 1 } }],
    [
      'two inline keys with MKIs: both read, the first used',
      `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|2^20|1:2;inline:${K30B}|2^20|2:2`,
      { keys: 2, mki: { value: 1, length: 2 } },
    ],
    [
      'session parameters: UNENCRYPTED_SRTCP, UNENCRYPTED_SRTP echoed; KDR=0 and WSH taken, not echoed',
      `1 AES_CM_128_HMAC_SHA1_80 inline:${K30} UNENCRYPTED_SRTCP UNENCRYPTED_SRTP KDR=0 WSH=64`,
      { srtcpClear: true, srtpClear: true, echo: 'UNENCRYPTED_SRTCP UNENCRYPTED_SRTP' },
    ],
    [
      'UNAUTHENTICATED_SRTP',
      `1 AES_CM_128_HMAC_SHA1_80 inline:${K30} UNAUTHENTICATED_SRTP`,
      { noAuth: true, echo: 'UNAUTHENTICATED_SRTP' },
    ],
  ];
  function summary(value: string) {
    const l = parseCryptoLine(value);
    const p = srtpParamsOf(l);
    return {
      tag: l.tag,
      bytes: p.keySalt.length,
      keys: l.keys.length,
      lifetime: l.keys[0]?.lifetime,
      mki: p.mki,
      srtcpClear: p.unencryptedSrtcp === true,
      srtpClear: p.unencryptedSrtp === true,
      noAuth: p.unauthenticatedSrtp === true,
      echo: l.echoParams.join(' '),
    };
  }
  for (const [name, value, want] of ok) {
    it(name, () => {
      const got = summary(value);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof typeof got], v, k);
      // The engine gets the offer's own key bytes.
      const b64 = value.split('inline:')[1]!.split(/[|; ]/)[0]!;
      assert.deepEqual(srtpParamsOf(parseCryptoLine(value)).keySalt, Buffer.from(b64, 'base64'));
    });
  }

  const bad: [string, string, RegExp][] = [
    [
      'AES_CM_128 key 2 bytes short',
      `1 AES_CM_128_HMAC_SHA1_80 inline:${K28}`,
      /30-byte key\|\|salt, the line has 28/,
    ],
    ['AES_256_CM with a 128-bit key', `1 AES_256_CM_HMAC_SHA1_80 inline:${K30}`, /46-byte/],
    ['AEAD_AES_128_GCM with an AES_CM key', `1 AEAD_AES_128_GCM inline:${K30}`, /28-byte/],
    ['AEAD_AES_256_GCM with a 46-byte key', `1 AEAD_AES_256_GCM inline:${K46}`, /44-byte/],
    ['unknown suite', `1 F8_128_HMAC_SHA1_80 inline:${K30}`, /suite F8_128_HMAC_SHA1_80 not supported/],
    ['not inline', `1 AES_CM_128_HMAC_SHA1_80 uri:https://example.com/k`, /not inline/],
    ['not base64', `1 AES_CM_128_HMAC_SHA1_80 inline:@@@@`, /not base64/],
    ['KDR other than 0', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30} KDR=24`, /KDR=24 not supported/],
    ['FEC_ORDER', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30} FEC_ORDER=SRTP_FEC`, /FEC_ORDER/],
    ['MKI length 0', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|2^20|1:0`, /MKI length 0/],
    [
      'MKI length 32 (RFC 4568’s example)',
      `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|2^20|1:32`,
      /MKI length 32 not supported/,
    ],
    ['MKI value above its length', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|256:1`, /does not fit/],
    ['lifetime above 2^48', `1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|2^49`, /2\^49/],
    ['tag not a number', `x AES_CM_128_HMAC_SHA1_80 inline:${K30}`, /tag/],
    ['AEAD with UNAUTHENTICATED_SRTP', `1 AEAD_AES_128_GCM inline:${K28} UNAUTHENTICATED_SRTP`, /AEAD/],
  ];
  for (const [name, value, re] of bad) {
    it(`refused: ${name} (no key in the message)`, () => {
      assert.throws(
        () => parseCryptoLine(value),
        (err: unknown) => {
          assert.ok(err instanceof CryptoLineError);
          assert.match(err.message, re);
          for (const k of [K30, K46, K28, K44]) assert.ok(!err.message.includes(k), 'key in the error');
          return true;
        },
      );
    });
  }

  it('picks the strongest suite, the first on ties; refused lines are reported', () => {
    const { lines, refused } = readCryptoLines([
      `1 AES_CM_128_HMAC_SHA1_32 inline:${K30}`,
      `2 AES_CM_128_HMAC_SHA1_80 inline:${K30}`,
      `3 AES_256_CM_HMAC_SHA1_32 inline:${K46}`,
      `4 AES_256_CM_HMAC_SHA1_80 inline:${K46}`,
      `5 AEAD_AES_128_GCM inline:${K28}`,
      `6 AEAD_AES_256_GCM inline:${K30}`, // wrong length: refused
      `7 AES_CM_128_HMAC_SHA1_80 inline:${K30B}`,
    ]);
    assert.equal(refused.length, 1);
    const order: number[] = [];
    let rest = [...lines];
    while (rest.length > 0) {
      const best = pickCrypto(rest)!;
      order.push(best.tag);
      rest = rest.filter((l) => l !== best);
    }
    assert.deepEqual(order, [5, 4, 3, 2, 7, 1]);
    assert.equal(pickCrypto([]), null);
  });

  it('keys never leave through JSON, inspect, String() or a pino log line', () => {
    const text = offer('m=audio 5000 RTP/SAVP 0', [
      `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|2^20|1:4`,
    ]);
    const parsed = parseOffer(text);
    const key = parsed[0]!.crypto[0]!.keys[0]!.key;
    assert.equal(JSON.stringify(key), '"[redacted]"');
    assert.equal(String(key), '[redacted]');
    assert.ok(!inspect(parsed, { depth: 10 }).includes(K30));
    assert.ok(!JSON.stringify(parsed).includes(K30));
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const log = pino({}, sink);
    log.info({ offer: parsed, choice: chooseStream(parsed[0]!) }, 'offer');
    assert.match(out, /\[redacted\]/);
    assert.ok(!out.includes(K30));
    assert.ok(!out.includes(Buffer.from(K30, 'base64').toString('hex')));
  });
});

describe('SRS_SRTP modes and profiles', () => {
  const crypto = `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${K30}`;
  const offers: Record<string, string> = {
    'RTP/AVP': offer('m=audio 5000 RTP/AVP 0', []),
    'RTP/AVP + a=crypto': offer('m=audio 5000 RTP/AVP 0', [crypto]),
    'RTP/SAVP + a=crypto': offer('m=audio 5000 RTP/SAVP 0', [crypto]),
    'RTP/SAVPF + a=crypto': offer('m=audio 5000 RTP/SAVPF 0', [crypto]),
    'RTP/SAVP, bad a=crypto': offer('m=audio 5000 RTP/SAVP 0', [
      `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${K28}`,
    ]),
    'UDP/TLS/RTP/SAVPF (DTLS)': offer('m=audio 5000 UDP/TLS/RTP/SAVPF 0', []),
  };
  /** mode -> offer -> 'plain' | 'srtp' | a pattern of the decline reason */
  const table: [SrtpMode, string, 'plain' | 'srtp' | RegExp][] = [
    ['accept', 'RTP/AVP', 'plain'],
    ['accept', 'RTP/AVP + a=crypto', 'srtp'],
    ['accept', 'RTP/SAVP + a=crypto', 'srtp'],
    ['accept', 'RTP/SAVPF + a=crypto', 'srtp'],
    ['accept', 'RTP/SAVP, bad a=crypto', /RTP\/SAVP without a usable a=crypto line: .*30-byte/],
    ['accept', 'UDP/TLS/RTP/SAVPF (DTLS)', /transport UDP\/TLS\/RTP\/SAVPF not supported/],
    ['require', 'RTP/AVP', /plain RTP not accepted \(SRS_SRTP=require\)/],
    ['require', 'RTP/AVP + a=crypto', 'srtp'],
    ['require', 'RTP/SAVP + a=crypto', 'srtp'],
    ['require', 'RTP/SAVP, bad a=crypto', /without a usable a=crypto/],
    ['off', 'RTP/AVP', 'plain'],
    ['off', 'RTP/AVP + a=crypto', 'plain'],
    ['off', 'RTP/SAVP + a=crypto', /SRTP is turned off here \(SRS_SRTP=off\)/],
    ['off', 'RTP/SAVPF + a=crypto', /SRS_SRTP=off/],
  ];
  for (const [mode, name, want] of table) {
    it(`${mode}: ${name} → ${String(want)}`, () => {
      const got = chooseStream(parseOffer(offers[name]!)[0]!, rules(mode));
      if (want instanceof RegExp) {
        assert.ok('declined' in got, 'declined');
        assert.match(got.declined, want);
        assert.ok(!got.declined.includes(K30) && !got.declined.includes(K28));
      } else {
        assert.ok(!('declined' in got));
        assert.equal(got.crypto === null ? 'plain' : 'srtp', want);
      }
    });
  }
});

describe('re-INVITE: re-keying and codec changes on a kept stream', () => {
  const sdp = (crypto: string | null, m = 'm=audio 5000 RTP/SAVP 0 8') =>
    offer(m, crypto === null ? [] : [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${crypto}`]);
  let n = 0;
  const keys = (): SecretKey => new SecretKey(Buffer.alloc(30, ++n));
  function step(slots: Slot[], text: string, ports: number[] = [30000], r = rules()) {
    const o = parseOffer(text);
    const plan = planOffer(slots, o, r);
    const next = applyPlan(
      slots,
      o,
      plan,
      plan.add.map((_, i) => ports[i] ?? 0),
      keys,
    );
    return { plan, slots: next, answer: buildAnswer(text, answerOf(next), '192.0.2.1', 1) };
  }

  it('same a=crypto again: unchanged, same answer (our key kept)', () => {
    const first = step([], sdp(K30));
    const again = step(first.slots, sdp(K30));
    assert.equal(again.plan.unchanged, true);
    assert.equal(again.answer, first.answer);
  });

  it('a new key re-keys the leg in place (no new port); our answer key stays', () => {
    const first = step([], sdp(K30));
    const next = step(first.slots, sdp(K30B));
    assert.deepEqual(next.plan.add, []);
    assert.deepEqual(next.plan.remove, []);
    assert.equal(next.plan.rekey.length, 1);
    assert.deepEqual(next.plan.rekey[0]!.srtp!.keySalt, Buffer.from(K30B, 'base64'));
    assert.equal(next.slots[0]!.port, 30000);
    assert.equal(next.answer, first.answer);
  });

  it('SRTP turned off and on again by re-INVITE: re-keyed to plain (null) and back', () => {
    const first = step([], sdp(K30, 'm=audio 5000 RTP/AVP 0'));
    const plain = step(first.slots, sdp(null, 'm=audio 5000 RTP/AVP 0'));
    assert.deepEqual(plain.plan.rekey, [{ index: 0, srtp: null }]);
    assert.ok(!plain.answer.includes('a=crypto'));
    const back = step(plain.slots, sdp(K30, 'm=audio 5000 RTP/AVP 0'));
    assert.equal(back.plan.rekey[0]!.srtp!.suite, 'AES_CM_128_HMAC_SHA1_80');
    assert.match(back.answer, /a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:/);
  });

  it('codecs: the answer keeps only payload types the leg has and the offer still carries', () => {
    const first = step([], sdp(null, 'm=audio 5000 RTP/AVP 18 0 8'));
    const fewer = step(first.slots, sdp(null, 'm=audio 5000 RTP/AVP 8 9'));
    assert.equal(fewer.plan.unchanged, true);
    assert.match(fewer.answer, /m=audio 30000 RTP\/AVP 8\r\n/);
    // Nothing in common: the stream restarts on a new leg with the new codecs.
    const other = step(fewer.slots, sdp(null, 'm=audio 5000 RTP/AVP 9'), [30002]);
    assert.deepEqual(other.plan.remove, [0]);
    assert.deepEqual(
      other.plan.add.map((a) => [a.index, a.codec]),
      [[0, 'G722']],
    );
    assert.match(other.answer, /m=audio 30002 RTP\/AVP 9\r\n/);
  });

  it('AMR octet-align changed on the same payload type: a new leg with the new packing, not an echo the old leg cannot decode', () => {
    const amr = (fmtp: string) => [
      'a=rtpmap:97 AMR/8000',
      `a=fmtp:97 ${fmtp}`,
      'a=rtpmap:101 telephone-event/8000',
    ];
    const first = step([], offer('m=audio 5000 RTP/AVP 97 0 101', amr('octet-align=1')));
    // Other parameters (mode-change-capability) and spelling (spaces, case) keep the leg.
    const same = step(
      first.slots,
      offer('m=audio 5000 RTP/AVP 97 0 101', amr('mode-change-capability=2; OCTET-ALIGN = 1')),
    );
    assert.deepEqual([same.plan.add, same.plan.remove], [[], []]);
    assert.match(same.answer, /m=audio 30000 RTP\/AVP 97 0 101\r\n/);
    // Bandwidth-efficient now: the stream restarts on a new port with every format of the offer,
    // PCMU included, and the new leg is told the new packing.
    const other = step(same.slots, offer('m=audio 5000 RTP/AVP 97 0 101', amr('octet-align=0')), [30002]);
    assert.deepEqual(other.plan.remove, [0]);
    assert.deepEqual(
      other.plan.add.map((a) => [a.codec, a.payloads?.[97]?.fmtp]),
      [['AMR,PCMU', 'octet-align=0']],
    );
    assert.match(other.answer, /m=audio 30002 RTP\/AVP 97 0 101\r\n/);
    assert.match(other.answer, /a=fmtp:97 octet-align=0\r\n/);
    // No octet-align at all is bandwidth-efficient too (RFC 4867 §8.1): the new leg is kept.
    const absent = step(other.slots, offer('m=audio 5000 RTP/AVP 97 0 101', amr('mode-set=7')));
    assert.deepEqual([absent.plan.add, absent.plan.remove], [[], []]);
  });

  it('iLBC mode changed: the leg is kept (the engine tells 20 ms from 30 ms frames by their length)', () => {
    const ilbc = (mode: number) => ['a=rtpmap:98 iLBC/8000', `a=fmtp:98 mode=${mode}`];
    const first = step([], offer('m=audio 5000 RTP/AVP 98', ilbc(30)));
    const next = step(first.slots, offer('m=audio 5000 RTP/AVP 98', ilbc(20)));
    assert.deepEqual([next.plan.add, next.plan.remove], [[], []]);
    assert.match(next.answer, /a=fmtp:98 mode=20\r\n/);
  });
});

describe('an SBC offer: SRTP with several crypto lines and MKI keys, and a codec mix', () => {
  it('reads every line and answers each m-line with its strongest suite and decodable codecs', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL('../fixtures/siprec/sbc-srtp-codecs.sdp', import.meta.url), 'utf8');
    const o = parseOffer(text);
    assert.deepEqual(
      o.map((s) => s.crypto.map((c) => [c.tag, c.keys.length])),
      [
        [
          [1, 1],
          [2, 2],
          [3, 1],
        ],
        [[7, 1]],
      ],
    );
    const choices = o.map((s) => chooseStream(s));
    assert.deepEqual(
      choices.map((c) => ('declined' in c ? c.declined : [c.crypto?.suite, codecNames(c)])),
      [
        ['AEAD_AES_256_GCM', 'opus,PCMU'],
        ['AES_CM_128_HMAC_SHA1_32', 'G729,G722,AMR,iLBC'],
      ],
    );
  });
});

describe('SDES keys over signalling without TLS (SRS_SDES_REQUIRE_TLS)', () => {
  const keyed = parseOffer(
    offer('m=audio 4000 RTP/SAVP 0', [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${K30}`]),
  );
  const plain = parseOffer(offer('m=audio 4000 RTP/AVP 0', []));
  const world = (requireTls: boolean) => {
    const lines: { msg: string; source: string }[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _e, cb) {
          const l = JSON.parse(chunk.toString()) as { msg: string; source: string };
          lines.push(l);
          cb();
        },
      }),
    );
    let now = 1_000_000;
    const check = new SdesTransportCheck({ requireTls, log, now: () => now });
    return { check, lines, advance: (ms: number) => (now += ms) };
  };

  it('refuses keys over udp and tcp with 488 and a 399 Warning when required; takes tls, wss and plain RTP', () => {
    const { check } = world(true);
    for (const t of ['udp', 'tcp', 'ws', undefined]) {
      const r = check.check(keyed, t, '192.0.2.1', 'INVITE');
      assert.equal(r?.status, 488, String(t));
      assert.match(r?.headers.Warning ?? '', /^399 srs "SRTP keys \(a=crypto\) require SIP over TLS/);
    }
    assert.equal(check.check(keyed, 'tls', '192.0.2.1', 'INVITE'), null);
    assert.equal(check.check(keyed, 'wss', '192.0.2.1', 'INVITE'), null);
    assert.equal(check.check(plain, 'udp', '192.0.2.1', 'INVITE'), null);
    assert.deepEqual(
      check.samples().map((x) => `${x.labels.transport} ${x.labels.outcome} ${x.value}`),
      ['udp refused 1', 'tcp refused 1', 'ws refused 1', 'unknown refused 1'],
    );
  });

  it('takes them when not required, counted, with one warning per source per interval', () => {
    const { check, lines, advance } = world(false);
    for (let i = 0; i < 50; i++) assert.equal(check.check(keyed, 'udp', '192.0.2.1', 'INVITE'), null);
    check.check(keyed, 'tcp', '192.0.2.2', 're-INVITE');
    assert.deepEqual(
      lines.map((l) => l.source),
      ['192.0.2.1', '192.0.2.2'],
    );
    assert.match(lines[0]?.msg ?? '', /readable by anyone on the path/);
    advance(WARN_INTERVAL_MS - 1);
    check.check(keyed, 'udp', '192.0.2.1', 'INVITE');
    assert.equal(lines.length, 2);
    advance(1);
    check.check(keyed, 'udp', '192.0.2.1', 'INVITE');
    assert.equal(lines.length, 3);
    assert.deepEqual(
      check.samples().map((x) => `${x.labels.transport} ${x.labels.outcome} ${x.value}`),
      ['udp accepted 52', 'tcp accepted 1'],
    );
  });
});
