/**
 * A call the recording policy answers without recording (excludedAction `answer`) on the real
 * server: its re-INVITE is answered with as many m-lines as it offers, all on port 0 (RFC 3264
 * section 6), not with the first answer; a re-INVITE without SDP gets the last answer as the
 * server's offer, an UPDATE with metadata alone a 200; and the session timer its 200 promised runs, so a call
 * whose BYE is lost is ended by the server instead of keeping its dialog for ever.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SiprecUac } from '../helpers/siprec-uac.js';

const mLines = (text: string) => [...text.matchAll(/^m=audio (\d+) /gm)].map((m) => Number(m[1]));

describe('a call answered but not recorded by policy (real server)', { timeout: 120000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ SRS_BLACKLIST: '2000', SRS_SESSION_EXPIRES: '4', SRS_MIN_SE: '2' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    await server?.stop();
  });

  it('answers its re-INVITE m-line for m-line on port 0, and ends it when its timer expires', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const call = {
      metadataExtra:
        '  <participant participant_id="MjAwMA=="><nameID aor="sip:2000@pbx.example"/></participant>',
      extraHeaders: ['Supported: timer', 'Session-Expires: 4;refresher=uac'],
    };
    const inv = await uac.invite({ streams: 2, ...call });
    assert.equal(inv.status, 200, inv.text);
    assert.deepEqual(mLines(inv.text), [0, 0], 'not recorded: every stream declined');
    assert.match(inv.text, /Session-Expires: 4;refresher=uac/);
    await server.waitFor(/SIPREC session answered, not recorded/, 5000);

    const more = await uac.reinvite({ streams: 3, ...call });
    assert.match(more ?? '', /^SIP\/2\.0 200/, more ?? 'no answer');
    assert.deepEqual(mLines(more ?? ''), [0, 0, 0], 'one answer line per offered m-line');
    const fewer = await uac.reinvite({ streams: 1, ...call });
    assert.deepEqual(mLines(fewer ?? ''), [0]);
    // A refresh without SDP gets our last answer as the offer; metadata alone in an UPDATE, 200.
    const refresh = uac.start('INVITE');
    const offer = (await refresh.final) ?? '';
    assert.match(offer, /^SIP\/2\.0 200/, offer);
    assert.deepEqual(mLines(offer), [0]);
    assert.equal(/^o=.*$/m.exec(offer)?.[0], /^o=.*$/m.exec(fewer ?? '')?.[0], 'unchanged: same version');
    uac.ack(refresh.cseq, offer.slice(offer.indexOf('\r\n\r\n') + 4));
    const { body } = SiprecUac.body({ streams: 1 });
    const xml = body.slice(body.indexOf('<?xml'), body.lastIndexOf('</recording>') + 12);
    const update = await uac.start('UPDATE', xml, 'application/rs-metadata+xml').final;
    assert.match(update ?? '', /^SIP\/2\.0 200/, update ?? 'no answer');

    // No refresh and no BYE from the SRC: the server hangs up when the timer runs out.
    const bye = await uac.waitFor(/^BYE /, 10000);
    assert.match(bye, /text="session-timer-expired"/);
    uac.close();
    assert.doesNotMatch(server.output(), /"msg":"SIPREC session answered"[^\n]*2000/);
  });
});
