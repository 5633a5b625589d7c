/**
 * Re-INVITEs as SRCs send them besides the plain new offer, on the real server over real UDP:
 * without SDP (a session refresh, or metadata alone), where the server makes the offer in its 200
 * and the SRC answers in the ACK (RFC 3261 section 14.2); with an UPDATE, a CANCEL or a BYE right
 * behind them, before they are answered (RFC 3311 section 5.2, RFC 3261 sections 9.2 and 15.1.2).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { toneLevelDb } from '../helpers/audio.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { recordingEvents, wavOf } from '../helpers/recording.js';

const METADATA = 'application/rs-metadata+xml';

/** Metadata naming one more participant (RFC 7865), alone in a body. */
function participantXml(name: string): string {
  const pid = Buffer.from(`p-${name}`).toString('base64');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<recording xmlns="urn:ietf:params:xml:ns:recording:1">',
    '  <datamode>partial</datamode>',
    `  <participant participant_id="${pid}"><nameID aor="sip:${name}@example.com"/></participant>`,
    '</recording>',
  ].join('\r\n');
}

/** An SDP of the SRC (an answer to our offer, or a new offer): every m-line sendonly, those in `declined` on port 0. */
function srcSdp(streams: number, declined: number[] = []): string {
  const sdp = ['v=0', 'o=SRC 1 2 IN IP4 127.0.0.1', 's=SIPREC', 'c=IN IP4 127.0.0.1', 't=0 0'];
  for (let i = 0; i < streams; i++)
    sdp.push(
      `m=audio ${declined.includes(i) ? 0 : 40000 + 2 * i} RTP/AVP 0`,
      'a=rtpmap:0 PCMU/8000',
      `a=label:${i + 1}`,
      'a=sendonly',
    );
  return `${sdp.join('\r\n')}\r\n`;
}

const statusOf = (text: string | null): number => Number(/^SIP\/2\.0 (\d{3})/.exec(text ?? '')?.[1] ?? 0);
const bodyOf = (text: string): string => text.slice(text.indexOf('\r\n\r\n') + 4);
const originOf = (text: string): string => /^o=.*$/m.exec(text)?.[0] ?? '';

describe('re-INVITEs without an offer, and requests right behind a re-INVITE', { timeout: 240000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('answers a re-INVITE without SDP with its offer, and applies the answer in the ACK', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 2 });
    assert.equal(inv.status, 200, inv.text);
    const [first, second] = inv.ports as [number, number];
    const t = uac.start('INVITE');
    const ok = (await t.final) ?? '';
    assert.equal(statusOf(ok), 200, ok);
    // The offer is the media as it stands: the same ports, recvonly, and (unchanged) the same version.
    const offer = bodyOf(ok);
    assert.deepEqual(
      [...offer.matchAll(/^m=audio (\d+) /gm)].map((m) => Number(m[1])),
      [first, second],
      offer,
    );
    assert.equal((offer.match(/^a=recvonly/gm) ?? []).length, 2, offer);
    assert.equal(originOf(offer), originOf(bodyOf(inv.text)));
    // The SRC answers: the second stream is declined.
    uac.ack(t.cseq, srcSdp(2, [1]));
    await new Promise((r) => setTimeout(r, 300));
    await sendLoopbackTone(second, 1500, 0x61); // no longer recorded
    await sendLoopbackTone(first, 1500, 0x62);
    assert.equal(statusOf(await uac.request('BYE')), 200);
    uac.close();
    const rec = await waitForState(server, uac.callId, 'stored');
    const events = await recordingEvents(server, rec.id);
    assert.ok(
      events.some((e) => e.type === 'stream-removed'),
      JSON.stringify(events.map((e) => e.type)),
    );
    const pcm = await wavOf(server, rec);
    const ms = pcm.length / 8;
    assert.ok(toneLevelDb(pcm, ms - 1200, ms - 300, 440) > -3, 'the first stream is heard');
    assert.ok(toneLevelDb(pcm, ms - 2700, ms - 1800, 440) < -20, 'the declined stream is not recorded');
  });

  it('answers a re-INVITE with metadata alone with its offer, and keeps the metadata', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    const t = uac.start('INVITE', participantXml('carol'), METADATA);
    const ok = (await t.final) ?? '';
    assert.equal(statusOf(ok), 200, ok);
    assert.match(bodyOf(ok), /^m=audio [1-9]\d* RTP\/AVP 0/m);
    uac.ack(t.cseq, srcSdp(1));
    assert.equal(statusOf(await uac.request('BYE')), 200);
    uac.close();
    const rec = await waitForState(server, uac.callId, 'stored');
    assert.ok(
      rec.participants.some((p) => p.aor === 'sip:carol@example.com'),
      JSON.stringify(rec.participants),
    );
  });

  it('answers an UPDATE with metadata alone sent while a re-INVITE is unanswered with 200', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    const statuses: number[] = [];
    for (let n = 0; n < 12; n++) {
      // SDP alone: metadata in the re-INVITE (datamode complete) would replace the participants.
      const re = uac.start('INVITE', srcSdp(1), 'application/sdp');
      const up = uac.start('UPDATE', participantXml(`u${n}`), METADATA);
      const [reFinal, upFinal] = await Promise.all([re.final, up.final]);
      assert.equal(statusOf(reFinal), 200, reFinal ?? 'no answer to the re-INVITE');
      uac.ack(re.cseq);
      statuses.push(statusOf(upFinal));
    }
    assert.deepEqual(statuses, Array<number>(12).fill(200));
    assert.equal(statusOf(await uac.request('BYE')), 200);
    uac.close();
    const rec = await waitForState(server, uac.callId, 'stored');
    for (let n = 0; n < 12; n++)
      assert.ok(
        rec.participants.some((p) => p.aor === `sip:u${n}@example.com`),
        `participant u${n}: ${JSON.stringify(rec.participants)}`,
      );
  });

  it('changes nothing for a re-INVITE the SRC cancelled before its answer', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    const outcomes: number[] = [];
    for (let n = 0; n < 15; n++) {
      const { contentType, body } = SiprecUac.body({ streams: 2 });
      const re = uac.start('INVITE', body, contentType);
      uac.cancel(re);
      const final = await re.final;
      outcomes.push(statusOf(final));
      if (statusOf(final) === 200) uac.ack(re.cseq);
      else
        uac.send(
          // The ACK of a non-2xx final is hop by hop, in the INVITE's transaction.
          (final ?? '')
            .split('\r\n\r\n')[0]!
            .split('\r\n')
            .filter((l) => /^(Via|From|To|Call-ID):/i.test(l))
            .concat([`CSeq: ${re.cseq} ACK`, 'Content-Length: 0', '', ''])
            .join('\r\n')
            .replace(/^/, `ACK sip:srs@127.0.0.1:${server.sipPort} SIP/2.0\r\n`),
        );
      // Back to one stream, whatever the outcome: a second stream, if any, is removed now.
      assert.equal(statusOf(await uac.reinvite({ streams: 1 })), 200);
    }
    assert.equal(statusOf(await uac.request('BYE')), 200);
    uac.close();
    const rec = await waitForState(server, uac.callId, 'stored');
    const added = (await recordingEvents(server, rec.id)).filter((e) => e.type === 'stream-added').length;
    assert.ok(
      outcomes.every((s) => s === 200 || s === 487),
      `each re-INVITE is answered 200 or 487: ${outcomes.join(' ')}`,
    );
    // A stream is added once for each re-INVITE the SRC was told succeeded, and for no other.
    assert.equal(added, outcomes.filter((s) => s === 200).length, `outcomes ${outcomes.join(' ')}`);
  });

  it('ends the dialog for good when a BYE follows a re-INVITE before its answer', async () => {
    const outcomes: number[] = [];
    const uacs: SiprecUac[] = [];
    for (let n = 0; n < 8; n++) {
      const uac = await SiprecUac.open(server.sipPort);
      uacs.push(uac);
      const inv = await uac.invite({ streams: 1 });
      assert.equal(inv.status, 200, inv.text);
      const { contentType, body } = SiprecUac.body({ streams: 2 });
      const re = uac.start('INVITE', body, contentType);
      const bye = uac.start('BYE');
      const [reFinal, byeFinal] = await Promise.all([re.final, bye.final]);
      assert.equal(statusOf(byeFinal), 200, byeFinal ?? 'no answer to the BYE');
      outcomes.push(statusOf(reFinal));
      // A real UA ACKs every 2xx, even one that arrives after its BYE.
      if (statusOf(reFinal) === 200) uac.ack(re.cseq);
      // The dialog is gone: a request in it is answered 481 (RFC 3261 section 12.2.2).
      const after = uac.start('UPDATE');
      assert.equal(statusOf(await after.final), 481, `call ${n}: the dialog outlived its BYE`);
    }
    assert.ok(
      outcomes.every((s) => s === 200 || s === 487),
      `each re-INVITE is answered 200 or 487: ${outcomes.join(' ')}`,
    );
    for (const uac of uacs) {
      await waitForState(server, uac.callId, 'stored');
      // The server never sends a BYE of its own for a call the SRC ended.
      assert.ok(!uac.requests.some((r) => r.startsWith('BYE ')), uac.requests.join('\n'));
      uac.close();
    }
  });
});
