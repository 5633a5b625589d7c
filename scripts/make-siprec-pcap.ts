/**
 * Writes sip-scenarios/pcap/siprec-2tone.pcap: two RTP flows for SIPp's play_pcap_audio.
 *
 * SIPp sends every flow of a pcap to the first port the SRS answered plus that flow's destination
 * port offset within the pcap, so the flows go to ports 6000 and 6002: the SRS answers a session's
 * m-lines on ports P and P+2.
 *   flow 1 (m-line 1, label 1, alice): PCMU, 440 Hz, 0.0-2.0 s
 *   flow 2 (m-line 2, label 2, bob):   PCMA, 1000 Hz, 1.0-3.0 s
 *
 * Usage: node --import tsx scripts/make-siprec-pcap.ts [out.pcap]
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildRtp } from '../test/helpers/rtp.js';
import { linearToAlaw, linearToUlaw, tone } from '../test/helpers/audio.js';

interface Flow {
  srcPort: number;
  dstPort: number;
  pt: number;
  encode: (s: number) => number;
  freq: number;
  startMs: number;
  durationMs: number;
  ssrc: number;
}

export const PCAP_FLOWS: readonly Flow[] = [
  {
    srcPort: 4000,
    dstPort: 6000,
    pt: 0,
    encode: linearToUlaw,
    freq: 440,
    startMs: 0,
    durationMs: 2000,
    ssrc: 0x11111111,
  },
  {
    srcPort: 4002,
    dstPort: 6002,
    pt: 8,
    encode: linearToAlaw,
    freq: 1000,
    startMs: 1000,
    durationMs: 2000,
    ssrc: 0x22222222,
  },
];

function ipChecksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Ethernet + IPv4 + UDP around one RTP packet, 127.0.0.1 to 127.0.0.1. */
function frame(srcPort: number, dstPort: number, rtp: Buffer): Buffer {
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + rtp.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  ip.set([127, 0, 0, 1], 12);
  ip.set([127, 0, 0, 1], 16);
  ip.writeUInt16BE(ipChecksum(ip), 10);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(srcPort, 0);
  udp.writeUInt16BE(dstPort, 2);
  udp.writeUInt16BE(8 + rtp.length, 4);
  return Buffer.concat([eth, ip, udp, rtp]);
}

export function makePcap(flows: readonly Flow[] = PCAP_FLOWS): Buffer {
  const packets: { t: number; data: Buffer }[] = [];
  for (const f of flows) {
    const samples = tone(f.freq, f.durationMs, 8000);
    for (let i = 0, seq = 1000; i * 160 < samples.length; i++, seq++) {
      const payload = Buffer.alloc(160);
      for (let j = 0; j < 160; j++) payload[j] = f.encode(samples[i * 160 + j] ?? 0);
      const rtp = buildRtp({ pt: f.pt, seq, ts: 8000 + i * 160, ssrc: f.ssrc, marker: i === 0, payload });
      packets.push({ t: (f.startMs + i * 20) * 1000, data: frame(f.srcPort, f.dstPort, rtp) });
    }
  }
  packets.sort((a, b) => a.t - b.t);
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  const base = 1_700_000_000;
  const records = packets.map(({ t, data }) => {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(base + Math.floor(t / 1e6), 0);
    rec.writeUInt32LE(t % 1e6, 4);
    rec.writeUInt32LE(data.length, 8);
    rec.writeUInt32LE(data.length, 12);
    return Buffer.concat([rec, data]);
  });
  return Buffer.concat([header, ...records]);
}

/** One 2 s 440 Hz PCMU flow: the load scenario's media (2 s of RTP on the first stream). */
export const LOAD_FLOWS: readonly Flow[] = [{ ...(PCAP_FLOWS[0] as Flow), durationMs: 2000 }];

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = (name: string) => fileURLToPath(new URL(`../sip-scenarios/pcap/${name}`, import.meta.url));
  const out = process.argv[2] ?? dir('siprec-2tone.pcap');
  writeFileSync(out, makePcap());
  process.stdout.write(`wrote ${out}\n`);
  if (process.argv[2] === undefined) {
    writeFileSync(dir('siprec-2s-pcmu.pcap'), makePcap(LOAD_FLOWS));
    process.stdout.write(`wrote ${dir('siprec-2s-pcmu.pcap')}\n`);
  }
}
