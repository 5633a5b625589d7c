/** One SIPREC call with a tone, placed on the real server (`srs serve`) and waited for until stored. */
import assert from 'node:assert/strict';
import { sendLoopbackTone } from './rtp.js';
import type { TestServer } from './server.js';
import { SiprecUac } from './siprec-uac.js';
import { waitForState, type ListedRecording } from './sipp.js';

/** Options of a tone call: `ssrc`, the RTP SSRC of the tone (0x51 unless given). */
export interface ToneCallOptions {
  ssrc?: number;
}

/**
 * Places a one-stream SIPREC call on `server` (SiprecUac over UDP; the INVITE must get 200), sends
 * `ms` of a 440 Hz PCMU tone (SSRC 0x51 unless `ssrc` is given) to its leg and hangs up with BYE
 * (its answer not checked): the call's Call-ID.
 */
export async function toneCall(
  server: TestServer,
  ms: number,
  { ssrc = 0x51 }: ToneCallOptions = {},
): Promise<string> {
  const uac = await SiprecUac.open(server.sipPort);
  const inv = await uac.invite({ streams: 1 });
  assert.equal(inv.status, 200, inv.text);
  await sendLoopbackTone(inv.ports[0] as number, ms, ssrc);
  await uac.request('BYE');
  uac.close();
  return uac.callId;
}

/**
 * {@link toneCall} with the 0x51 tone, then waits until the recording is stored: that recording, as
 * `srs recordings list` shows it.
 */
export async function storedToneCall(server: TestServer, ms: number): Promise<ListedRecording> {
  return waitForState(server, await toneCall(server, ms), 'stored');
}
