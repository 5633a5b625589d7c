/**
 * Codec choice in the SIPREC SDP answer: which offered codecs are kept, in what order, and what
 * the answer lists. Real SDP text through the real parser (sdp-transform) and the real answer
 * writer. SRTP keying is in siprec-sdes.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SecretKey, newLocalKey } from '../../src/sip/app/sdes.js';
import {
  buildAnswer,
  chooseStream,
  codecNames,
  parseOffer,
  type AnswerRules,
} from '../../src/sip/app/sdp.js';
import { K30, K30B, rules, offer } from '../helpers/sdp-offers.js';

describe('codecs in the answer', () => {
  const answerLines = (text: string, r = rules(), key = newLocalKey('AES_CM_128_HMAC_SHA1_80')) => {
    const o = parseOffer(text);
    const streams = o.map((s) => {
      const c = chooseStream(s, r);
      return {
        index: s.index,
        port: 'declined' in c ? 0 : 40000,
        choice: 'declined' in c ? null : c,
        localKey: key,
      };
    });
    return buildAnswer(text, streams, '192.0.2.1', 1)
      .trimEnd()
      .split('\r\n')
      .filter((l) => /^(m=|a=(rtpmap|fmtp|crypto))/.test(l));
  };
  const cases: {
    name: string;
    m: string;
    attrs: string[];
    expect: string[];
    codec?: string;
    r?: AnswerRules;
  }[] = [
    {
      name: 'G.722 keeps its 8000 clock; G.729 annexb echoed; offer order kept',
      m: 'm=audio 5000 RTP/AVP 9 18 0 101',
      attrs: ['a=rtpmap:18 G729/8000', 'a=fmtp:18 annexb=yes', 'a=rtpmap:101 telephone-event/8000'],
      expect: [
        'm=audio 40000 RTP/AVP 9 18 0 101',
        'a=rtpmap:9 G722/8000',
        'a=rtpmap:18 G729/8000',
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:101 telephone-event/8000',
        'a=fmtp:18 annexb=yes',
        'a=fmtp:101 0-15',
      ],
      codec: 'G722,G729,PCMU',
    },
    {
      name: 'Opus 48000/2 with its fmtp; telephone-event at 48000 and 8000 both kept',
      m: 'm=audio 5000 RTP/AVP 111 110 101',
      attrs: [
        'a=rtpmap:111 opus/48000/2',
        'a=fmtp:111 useinbandfec=1;minptime=10',
        'a=rtpmap:110 telephone-event/48000',
        'a=rtpmap:101 telephone-event/8000',
      ],
      expect: [
        'm=audio 40000 RTP/AVP 111 110 101',
        'a=rtpmap:111 opus/48000/2',
        'a=rtpmap:110 telephone-event/48000',
        'a=rtpmap:101 telephone-event/8000',
        'a=fmtp:111 useinbandfec=1;minptime=10',
        'a=fmtp:110 0-15',
        'a=fmtp:101 0-15',
      ],
      codec: 'opus',
    },
    {
      name: 'AMR octet-aligned and bandwidth-efficient as offered, AMR-WB at 16000; CRC mode left out',
      m: 'm=audio 5000 RTP/AVP 96 97 98 99',
      attrs: [
        'a=rtpmap:96 AMR/8000',
        'a=fmtp:96 octet-align=1',
        'a=rtpmap:97 AMR/8000',
        'a=rtpmap:98 AMR-WB/16000',
        'a=fmtp:98 octet-align=1; mode-set=0,1,2',
        'a=rtpmap:99 AMR/8000',
        'a=fmtp:99 octet-align=1; crc=1',
      ],
      expect: [
        'm=audio 40000 RTP/AVP 96 97 98',
        'a=rtpmap:96 AMR/8000',
        'a=rtpmap:97 AMR/8000',
        'a=rtpmap:98 AMR-WB/16000',
        'a=fmtp:96 octet-align=1',
        'a=fmtp:98 octet-align=1; mode-set=0,1,2',
      ],
      codec: 'AMR,AMR-WB',
    },
    {
      name: 'iLBC mode=30, G726-32, CN; G.723 and L16 left out',
      m: 'm=audio 5000 RTP/AVP 4 97 2 98 13 11',
      attrs: ['a=rtpmap:97 iLBC/8000', 'a=fmtp:97 mode=30', 'a=rtpmap:98 G726-32/8000'],
      expect: [
        'm=audio 40000 RTP/AVP 97 98 13',
        'a=rtpmap:97 iLBC/8000',
        'a=rtpmap:98 G726-32/8000',
        'a=rtpmap:13 CN/8000',
        'a=fmtp:97 mode=30',
      ],
      codec: 'iLBC,G726-32',
    },
    {
      name: 'only what the engine decodes: G.729 left out of a PCMU-only build',
      m: 'm=audio 5000 RTP/AVP 18 0',
      attrs: [],
      r: rules('accept', ['PCMU', 'PCMA']),
      expect: ['m=audio 40000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000'],
      codec: 'PCMU',
    },
    {
      name: 'SAVP: the chosen tag (strongest suite), our own key, session params echoed, profile kept',
      m: 'm=audio 5000 RTP/SAVP 111',
      attrs: [
        'a=rtpmap:111 opus/48000/2',
        `a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${K30}`,
        `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${K30B}|2^31|3:1 UNENCRYPTED_SRTCP`,
      ],
      expect: [
        'm=audio 40000 RTP/SAVP 111',
        'a=rtpmap:111 opus/48000/2',
        'a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:LOCAL UNENCRYPTED_SRTCP',
      ],
      codec: 'opus',
    },
    {
      name: 'RTP/AVP carrying a=crypto is answered RTP/AVP with a=crypto',
      m: 'm=audio 5000 RTP/AVP 0',
      attrs: [`a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:${K30}`],
      expect: [
        'm=audio 40000 RTP/AVP 0',
        'a=rtpmap:0 PCMU/8000',
        'a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:LOCAL',
      ],
      codec: 'PCMU',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const key = newLocalKey('AES_CM_128_HMAC_SHA1_80');
      const text = offer(c.m, c.attrs);
      const got = answerLines(text, c.r, key).map((l) => l.replace(`inline:${key.base64()}`, 'inline:LOCAL'));
      assert.deepEqual(got, c.expect);
      const choice = chooseStream(parseOffer(text)[0]!, c.r ?? rules());
      assert.ok(!('declined' in choice));
      if (c.codec) assert.equal(codecNames(choice), c.codec);
      // The answer is readable SDP whose crypto line (if any) our own parser takes.
      const back = parseOffer(
        buildAnswer(text, [{ index: 0, port: 40000, choice, localKey: key }], '192.0.2.1', 1),
      );
      assert.equal(back[0]!.crypto.length, choice.crypto ? 1 : 0);
      assert.equal(back[0]!.cryptoRefused.length, 0);
    });
  }

  it('a format whose fmtp is absurdly long is left out (the engine takes at most 1000 characters)', () => {
    const text = offer('m=audio 5000 RTP/AVP 97 0', [
      'a=rtpmap:97 AMR/8000',
      `a=fmtp:97 octet-align=1;x=${'a'.repeat(1000)}`,
    ]);
    const got = chooseStream(parseOffer(text)[0]!);
    assert.ok(!('declined' in got));
    assert.deepEqual(
      got.payloads.map((p) => p.pt),
      [0],
    );
  });

  it('declined with a reason naming what was offered when nothing is decodable', () => {
    const got = chooseStream(parseOffer(offer('m=audio 5000 RTP/AVP 4 3', []))[0]!);
    assert.ok('declined' in got);
    assert.match(got.declined, /no decodable codec offered \(offered: G723\/8000 GSM\/8000; decodable: PCMU/);
  });

  it('a fresh key per call, of the suite’s length', () => {
    const a = newLocalKey('AEAD_AES_256_GCM');
    const b = newLocalKey('AEAD_AES_256_GCM');
    assert.equal(a.length, 44);
    assert.ok(!a.equals(b));
    assert.equal(newLocalKey('AES_256_CM_HMAC_SHA1_32').length, 46);
    assert.ok(a instanceof SecretKey);
  });
});
