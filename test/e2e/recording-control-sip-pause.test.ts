/**
 * Recording control and the SRC's own pause (a=inactive) on the real server: the engine's pause of
 * a leg has two owners, and a leg is recorded only when neither holds it. SIPREC calls from our
 * small SRC (test/helpers/siprec-uac.ts, which re-INVITEs) with RTP tones from our sender, control
 * through the REST API as the call's agent, and the stored audio decrypted by gpg and checked by
 * its sound: an unhold re-INVITE does not resume a call the agent paused, an API resume does not
 * resume a stream the SRC holds, and a stream added while the call is paused starts paused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { rmsDbfs, tone, toneLevelDb } from '../helpers/audio.js';
import { sendRtpStream } from '../helpers/rtp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import {
  eventAt,
  silent,
  sounds,
  startControlWorld,
  type ControlWorld,
  type LiveCall,
} from '../helpers/recording-control-world.js';

/** An SDP offer of the SRC alone (no metadata): one m-line per direction, on the ports of SiprecUac's offers. */
function srcSdp(directions: ('sendonly' | 'inactive')[]): string {
  const sdp = ['v=0', 'o=SRC 1 3 IN IP4 127.0.0.1', 's=SIPREC', 'c=IN IP4 127.0.0.1', 't=0 0'];
  directions.forEach((d, i) =>
    sdp.push(`m=audio ${40000 + 2 * i} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', `a=label:${i + 1}`, `a=${d}`),
  );
  return `${sdp.join('\r\n')}\r\n`;
}

const statusOf = (text: string | null): number => Number(/^SIP\/2\.0 (\d{3})/.exec(text ?? '')?.[1] ?? 0);
const portsOf = (text: string): number[] => [...text.matchAll(/^m=audio (\d+) /gm)].map((m) => Number(m[1]));
/** A tone of `hz` at real time to a leg's port (amplitude low enough for three in one mix). */
const play = (port: number, hz: number, ms: number, ssrc: number) =>
  sendRtpStream({ host: '127.0.0.1', port, pt: 0, codec: 'PCMU', samples: tone(hz, ms, 6000), ssrc });
/** The tone of `hz` is there (alone or mixed with two others), or not at all. */
const heard = (x: Int16Array, from: number, to: number, hz: number) => toneLevelDb(x, from, to, hz, 200) > -8;
const absent = (x: Int16Array, from: number, to: number, hz: number) =>
  toneLevelDb(x, from, to, hz, 200) < -20;

describe(
  'recording control and the SRC pause (a=inactive): two owners of one pause',
  { timeout: 300000 },
  () => {
    let w: ControlWorld;

    before(async () => {
      w = await startControlWorld('siprec-control-sip-pause');
      await w.setMode('agent', 'always-pause');
    });

    after(async () => {
      await w?.close();
    });

    /** A call of alice (the agent) from our SRC with `streams` streams: its SRC, live call and start time. */
    async function callOf(streams: number): Promise<{ uac: SiprecUac; live: LiveCall; t0: number }> {
      const uac = await SiprecUac.open(w.server.sipPort);
      const inv = await uac.invite({ streams });
      assert.equal(inv.status, 200, inv.text);
      const t0 = Date.now();
      let live: LiveCall | undefined;
      for (let i = 0; i < 100 && !live; i++) {
        live = ((await w.ok('GET', '/calls')).items as LiveCall[]).find((c) => c.callId === uac.callId);
        if (!live) await sleep(50);
      }
      assert.ok(live, 'the call is live');
      assert.equal(live.control?.mode, 'always-pause');
      return { uac, live, t0 };
    }
    const at = (t0: number, ms: number) => sleep(Math.max(0, t0 + ms - Date.now()));
    const api = async (id: string, action: 'pause' | 'resume') =>
      assert.equal((await w.call('POST', `/calls/${id}/${action}`, 'agent')).status, 200, action);
    /** A re-INVITE with SDP alone (the directions of the m-lines), answered 200 and ACKed. */
    const reoffer = async (uac: SiprecUac, directions: ('sendonly' | 'inactive')[]) => {
      const t = uac.start('INVITE', srcSdp(directions), 'application/sdp');
      const final = await t.final;
      assert.equal(statusOf(final), 200, final ?? 'no answer to the re-INVITE');
      uac.ack(t.cseq);
    };
    const hangUp = async (uac: SiprecUac) => {
      assert.equal(statusOf(await uac.request('BYE')), 200);
      uac.close();
    };

    it('an unhold re-INVITE does not resume a recording the agent paused: silence after it, state still paused', async () => {
      const { uac, live, t0 } = await callOf(2);
      const [p0, p1] = live.streams.map((s) => s.port) as [number, number];
      const senders = [play(p0, 440, 8500, 0x4100), play(p1, 1000, 8500, 0x4101)];
      await at(t0, 1500);
      await api(live.recordingId, 'pause');
      await at(t0, 3000);
      assert.equal(statusOf(await uac.reinvite({ streams: 2, direction: 'inactive' })), 200, 'hold');
      await at(t0, 4500);
      assert.equal(statusOf(await uac.reinvite({ streams: 2 })), 200, 'unhold');
      await sleep(300);
      const ctl = await w.ok('GET', `/calls/${live.recordingId}/control`, 'agent');
      assert.equal(ctl.state, 'paused', JSON.stringify(ctl));
      await Promise.all(senders);
      await hangUp(uac);
      const d = await w.stored(live.recordingId);
      const p = eventAt(d, 'recording-paused');
      const u = eventAt(d, 'stream-resumed');
      assert.ok(u > p + 2000, `unhold at ${u} ms, pause at ${p} ms`);
      const x = await w.wavOf(d);
      // Nothing recorded after the pause: the file may end there (windows past its end read as zeros).
      const end = Math.max(x.length / 8, u + 3500);
      assert.ok(sounds(x, 300, p - 150), `tones before the pause at ${p}`);
      assert.ok(silent(x, p + 200, u), `silence while paused ${p}..${u}: ${rmsDbfs(x, p + 200, u)}`);
      assert.ok(
        silent(x, u, end - 300),
        `silence after the unhold at ${u} (the agent never resumed; file ${x.length / 8} ms): ` +
          `${rmsDbfs(x, u, end - 300)} dBFS, 440 Hz ${toneLevelDb(x, u, end - 300, 440, 200)} dB`,
      );
      assert.equal(d.events.filter((e) => e.type === 'recording-resumed').length, 0);
    });

    it('an API resume does not resume a stream the SRC holds: it stays unrecorded until the SRC resumes it', async () => {
      const { uac, live, t0 } = await callOf(2);
      const [p0, p1] = live.streams.map((s) => s.port) as [number, number];
      const senders = [play(p0, 440, 9500, 0x4200), play(p1, 1000, 9500, 0x4201)];
      await at(t0, 1500);
      await reoffer(uac, ['sendonly', 'inactive']);
      await at(t0, 3000);
      await api(live.recordingId, 'pause');
      await at(t0, 4500);
      await api(live.recordingId, 'resume');
      await at(t0, 7000);
      await reoffer(uac, ['sendonly', 'sendonly']);
      await Promise.all(senders);
      await hangUp(uac);
      const d = await w.stored(live.recordingId);
      const sp = eventAt(d, 'stream-paused');
      const p = eventAt(d, 'recording-paused');
      const r = eventAt(d, 'recording-resumed');
      const sr = eventAt(d, 'stream-resumed');
      assert.ok(sp < p && p < r && r < sr, `SRC hold ${sp}, pause ${p}, resume ${r}, SRC unhold ${sr}`);
      const x = await w.wavOf(d);
      const end = x.length / 8;
      assert.ok(sounds(x, 300, sp - 150), `both streams before the SRC hold at ${sp}`);
      assert.ok(
        heard(x, sp + 200, p - 150, 440) && absent(x, sp + 200, p - 150, 1000),
        'the held stream is out',
      );
      assert.ok(
        silent(x, p + 200, r - 200),
        `silence while paused ${p}..${r}: ${rmsDbfs(x, p + 200, r - 200)}`,
      );
      assert.ok(heard(x, r + 250, sr - 150, 440), `the other stream is back after the resume at ${r}`);
      assert.ok(
        absent(x, r + 250, sr - 150, 1000),
        `the stream the SRC holds stays out after the API resume (${r}..${sr}): ` +
          `1000 Hz ${toneLevelDb(x, r + 250, sr - 150, 1000, 200)} dB`,
      );
      assert.ok(sounds(x, sr + 250, end - 300), `both streams after the SRC resumes at ${sr}`);
    });

    it('a stream added by re-INVITE while the call is paused is silent until the API resume, then heard', async () => {
      const { uac, live, t0 } = await callOf(2);
      const [p0, p1] = live.streams.map((s) => s.port) as [number, number];
      const senders = [play(p0, 440, 9000, 0x4300), play(p1, 1000, 9000, 0x4301)];
      await at(t0, 1500);
      await api(live.recordingId, 'pause');
      await at(t0, 2500);
      const ok = await uac.reinvite({ streams: 3 });
      assert.equal(statusOf(ok), 200, ok ?? 'no answer to the re-INVITE');
      const p2 = portsOf(ok ?? '')[2];
      assert.ok(p2, `a port for the third stream: ${ok}`);
      senders.push(play(p2, 1800, Math.max(1000, t0 + 9000 - Date.now()), 0x4302));
      await at(t0, 5500);
      await api(live.recordingId, 'resume');
      await Promise.all(senders);
      await hangUp(uac);
      const d = await w.stored(live.recordingId);
      const p = eventAt(d, 'recording-paused');
      const a = eventAt(d, 'stream-added');
      const r = eventAt(d, 'recording-resumed');
      assert.ok(p < a && a + 2000 < r, `pause ${p}, added ${a}, resume ${r}`);
      const x = await w.wavOf(d);
      const end = x.length / 8;
      assert.ok(sounds(x, 300, p - 150), `tones before the pause at ${p}`);
      assert.ok(
        silent(x, a + 200, r - 200),
        `silence from the added stream (${a}) to the resume (${r}): ${rmsDbfs(x, a + 200, r - 200)} dBFS, ` +
          `1800 Hz ${toneLevelDb(x, a + 200, r - 200, 1800, 200)} dB`,
      );
      assert.ok(heard(x, r + 250, end - 300, 1800), `the added stream is heard after the resume at ${r}`);
      assert.ok(
        heard(x, r + 250, end - 300, 440) && heard(x, r + 250, end - 300, 1000),
        `the first two streams too after ${r}`,
      );
    });
  },
);
