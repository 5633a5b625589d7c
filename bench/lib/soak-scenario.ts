/** The soak's SIPp scenario: siprec-load.xml with the call length and RTP for all of it. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SCENARIOS } from '../../test/helpers/sipp.js';

/** 2 s of PCMU (100 packets of 20 ms) in SIPp's rtp_stream format. */
const RTP_FILE = join(SCENARIOS, 'pcap', 'siprec-2s-pcmu.ulaw');
export const RTP_FILE_SECONDS = 2;
export const PACKETS_PER_SECOND = 50;

/**
 * Writes `<dir>/soak.xml`: INVITE (one PCMU stream + metadata), ACK, RTP from SIPp's rtp_stream
 * looped for the whole call, BYE after `callSeconds`. Returns its path.
 */
export async function writeSoakScenario(dir: string, callSeconds: number): Promise<string> {
  if (!(callSeconds >= RTP_FILE_SECONDS) || callSeconds % RTP_FILE_SECONDS !== 0) {
    throw new Error(`--call-seconds must be a multiple of ${RTP_FILE_SECONDS} (the RTP file's length)`);
  }
  const base = await readFile(join(SCENARIOS, 'siprec-load.xml'), 'utf8');
  const loops = callSeconds / RTP_FILE_SECONDS;
  const xml = base
    .replace(/rtp_stream="[^"]+"/, `rtp_stream="${RTP_FILE},${loops},0"`)
    .replace(/<pause milliseconds="2000" \/>/, `<pause milliseconds="${callSeconds * 1000}" />`)
    .replace(/<CallLengthRepartition value="[^"]*" \/>/, '');
  if (!xml.includes(`${loops},0"`) || !xml.includes(`milliseconds="${callSeconds * 1000}"`)) {
    throw new Error('sip-scenarios/siprec-load.xml changed: the soak cannot set its call length');
  }
  const path = join(dir, 'soak.xml');
  await writeFile(path, xml);
  return path;
}
