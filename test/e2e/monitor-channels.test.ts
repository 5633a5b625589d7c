/**
 * Listen-in channels after the SRC changes its streams, on the real server: the channels are the
 * engine's legs (the ids `/api/v1/calls` reports in its media health), not positions in the call's
 * stream list. Before, after a re-INVITE removed the first stream and added a third, `leg2` was
 * refused, `leg1` was labelled as another party, and the added leg's audio came on channel 254.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { openMonitor } from '../helpers/server-client.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { decodeUlaw, toneLevelDb } from '../helpers/audio.js';

describe('listen-in channels after a re-INVITE (real server)', { timeout: 120000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    await server?.stop();
  });

  it('names and carries the legs the engine records, the added one included', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 2 });
    assert.equal(inv.status, 200, inv.text);
    // The first stream removed, a third added: the engine's legs are now leg1 and leg2.
    const change = (await uac.reinvite({ streams: 3, declined: [0] })) ?? '';
    assert.match(change, /^SIP\/2\.0 200/, change);
    const ports = [...change.matchAll(/^m=audio (\d+) /gm)].map((m) => Number(m[1]));
    assert.equal(ports[0], 0);
    const calls = (await (
      await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/calls`, {
        headers: { authorization: `Bearer ${server.token}` },
      })
    ).json()) as { items: { recordingId: string; callId: string }[] };
    const recordingId = calls.items.find((c) => c.callId === uac.callId)!.recordingId;

    const m = openMonitor(server.httpPort, { authorization: `Bearer ${server.token}` });
    assert.equal(await m.opened, 101);
    const audio: Buffer[] = [];
    m.ws.on('message', (d: Buffer, bin: boolean) => {
      if (bin) audio.push(d);
    });
    // The answer to a listen, skipping any other message (a call update may come first).
    const reply = async () => {
      const n = m.msgs.length;
      const answer = () => m.msgs.slice(n).find((x) => x.type === 'listening' || x.type === 'error');
      for (let i = 0; i < 500 && !answer(); i++) await new Promise((r) => setTimeout(r, 20));
      return answer();
    };
    m.ws.send(JSON.stringify({ type: 'listen', recordingId, channel: 'leg2' }));
    const one = await reply();
    assert.equal(one?.type, 'listening', JSON.stringify(one));
    m.ws.send(JSON.stringify({ type: 'listen', recordingId, channel: 'all' }));
    const all = (await reply()) as { type: string; legs?: { legId: string; channel: number }[] };
    assert.deepEqual(
      all.legs?.map((l) => l.legId),
      ['leg1', 'leg2'],
      JSON.stringify(all),
    );
    // 440 Hz on the second m-line (leg1), 1000 Hz on the third (leg2), together.
    audio.length = 0;
    await Promise.all([
      sendLoopbackTone(ports[1]!, 1500, 0x91, 440),
      sendLoopbackTone(ports[2]!, 1500, 0x92, 1000),
    ]);
    await new Promise((r) => setTimeout(r, 300));
    m.ws.close();
    const byChannel = new Map<number, Buffer[]>();
    for (const b of audio) byChannel.set(b[1]!, [...(byChannel.get(b[1]!) ?? []), b.subarray(12)]);
    assert.deepEqual([...byChannel.keys()].sort(), [0, 1], 'only the channels the listening reply names');
    const pcm = (ch: number) => decodeUlaw(Buffer.concat(byChannel.get(ch)!));
    const channelOf = (legId: string) => all.legs!.find((l) => l.legId === legId)!.channel;
    assert.ok(toneLevelDb(pcm(channelOf('leg1')), 200, 1000, 440) > -3, 'leg1 carries the second m-line');
    assert.ok(toneLevelDb(pcm(channelOf('leg2')), 200, 1000, 1000) > -3, 'leg2 carries the third m-line');
    await uac.request('BYE');
    uac.close();
  });
});
