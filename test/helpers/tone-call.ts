/** One SIPREC call with a tone, placed on the real server (`srs serve`) and waited for until stored. */
import assert from 'node:assert/strict';
import { sendLoopbackTone } from './rtp.js';
import type { TestServer } from './server.js';
import { SiprecUac } from './siprec-uac.js';
import { waitForState, type ListedRecording } from './sipp.js';

/**
 * Places a one-stream SIPREC call on `server` (SiprecUac over UDP; the INVITE must get 200), sends
 * `ms` of a 440 Hz PCMU tone (SSRC 0x51) to its leg, hangs up with BYE and waits until the
 * recording is stored: that recording, as `srs recordings list` shows it.
 */
export async function storedToneCall(server: TestServer, ms: number): Promise<ListedRecording> {
  const uac = await SiprecUac.open(server.sipPort);
  const inv = await uac.invite({ streams: 1 });
  assert.equal(inv.status, 200, inv.text);
  await sendLoopbackTone(inv.ports[0] as number, ms, 0x51);
  await uac.request('BYE');
  uac.close();
  return waitForState(server, uac.callId, 'stored');
}
