/**
 * A re-INVITE right behind the ACK, on the real server over real UDP. SRCs send one as soon as the
 * call is answered: Oracle SBCs put the metadata there, and a conference adds a stream. drachtio-srf
 * answers a re-INVITE itself, with the old SDP, when the dialog has no `modify` listener yet; the
 * application must own the dialog before srf can read the next message, or such a re-INVITE is
 * answered unseen: the new stream gets no port and the metadata is lost.
 */
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';

describe('a re-INVITE sent right behind the ACK', { timeout: 180000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });

  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('is handled by the recorder: the added stream gets a port and the metadata is kept, every time', async () => {
    const group = (n: number) =>
      `  <group group_id="${Buffer.from(`race-${n}`).toString('base64')}"><associate-time>2026-12-04T12:00:00Z</associate-time></group>`;
    // A busy server, as in the field: another process keeps its event loop full of HTTP requests,
    // so that srf often reads the 200's confirmation, the ACK and the re-INVITE at one go.
    const load = spawn(
      process.execPath,
      [
        '-e',
        `const u = 'http://127.0.0.1:${server.httpPort}/healthz';
         for (let i = 0; i < 3; i++) (async () => { for (;;) await fetch(u).then((r) => r.arrayBuffer()).catch(() => {}); })();`,
      ],
      { stdio: 'ignore' },
    );
    const calls: { callId: string; ports: number[] }[] = [];
    // Back to back, each call's BYE starting the previous one's post-call work: a server busy
    // enough that srf reads several messages at once, as in the field.
    for (let n = 0; n < 20; n++) {
      const uac = await SiprecUac.open(server.sipPort);
      const inv = await uac.invite({ streams: 1 });
      assert.equal(inv.status, 200, inv.text);
      // invite() has just sent the ACK: the re-INVITE follows at once.
      const answer = (await uac.reinvite({ streams: 2, metadataExtra: group(n) })) ?? '';
      assert.match(answer, /^SIP\/2\.0 200/);
      calls.push({
        callId: uac.callId,
        ports: [...answer.matchAll(/^m=audio (\d+) /gm)].map((m) => Number(m[1])),
      });
      await uac.request('BYE');
      uac.close();
    }
    load.kill();
    const missed: string[] = [];
    for (const [n, c] of calls.entries()) {
      const rec = await waitForState(server, c.callId, 'stored');
      const r = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/recordings/${rec.id}`, {
        headers: { authorization: `Bearer ${server.token}` },
      });
      const detail = (await r.json()) as { interactionId: string | null; streams: unknown[] };
      if (c.ports.length !== 2 || !c.ports[1] || detail.interactionId === null || detail.streams.length !== 2)
        missed.push(
          `call ${n}: answer ports [${c.ports.join(', ')}], streams ${detail.streams.length}, interaction ${detail.interactionId}`,
        );
    }
    assert.deepEqual(missed, [], 're-INVITEs answered without the recorder');
  });
});
