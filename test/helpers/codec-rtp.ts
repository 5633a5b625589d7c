/**
 * Independent senders of coded RTP for the engine's codec and SRTP tests: the ffmpeg the project
 * ships encodes a test signal and packetizes it (`-f rtp`, `srtp://`), its datagrams are captured on
 * loopback and replayed to the engine at real time (so a test can drop, reorder or re-SSRC them);
 * G.729 frames come from the bcg729 encoder through a tiny C program compiled on first use.
 */
import { execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);

export const FFMPEG = fileURLToPath(
  new URL('../../node_modules/@ffmpeg-installer/linux-x64/ffmpeg', import.meta.url),
);

/**
 * The test signal (ffmpeg aevalsrc expression, amplitude 0.3 = -13.5 dBFS RMS): 600 Hz for
 * 0-1 s, silence 1-1.5 s, 1000 Hz 1.5-2.5 s.
 */
export const SIGNAL = '0.3*sin(2*PI*600*t)*lt(t,1)+0.3*sin(2*PI*1000*t)*gte(t,1.5)*lt(t,2.5)';
export const SIGNAL_MS = 2500;

export interface Captured {
  rtp: Buffer[];
  rtcp: Buffer[];
}

async function freeUdpPair(): Promise<{ port: number; close: () => void; rtp: Buffer[]; rtcp: Buffer[] }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + 2 * Math.floor(Math.random() * 5000);
    const a = createSocket('udp4');
    const b = createSocket('udp4');
    const rtp: Buffer[] = [];
    const rtcp: Buffer[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        a.once('error', reject);
        a.bind(port, '127.0.0.1', () => resolve());
      });
      await new Promise<void>((resolve, reject) => {
        b.once('error', reject);
        b.bind(port + 1, '127.0.0.1', () => resolve());
      });
    } catch {
      a.close();
      try {
        b.close();
      } catch {
        // not bound
      }
      continue;
    }
    a.setRecvBufferSize(4 << 20);
    a.on('message', (m) => rtp.push(m));
    b.on('message', (m) => rtcp.push(m));
    return {
      port,
      rtp,
      rtcp,
      close: () => {
        a.close();
        b.close();
      },
    };
  }
  throw new Error('no free UDP port pair for the capture');
}

/**
 * Runs ffmpeg on SIGNAL (at `inputRate`) with `codecArgs`, sending RTP (or SRTP when `srtp` is
 * given: ffmpeg's own SRTP) to a loopback capture, and returns the datagrams in order.
 */
export async function ffmpegRtp(
  codecArgs: readonly string[],
  opts: { inputRate?: number; srtp?: { suite: string; keySalt: Buffer }; signal?: string; ms?: number } = {},
): Promise<Captured> {
  const cap = await freeUdpPair();
  const url = opts.srtp ? `srtp://127.0.0.1:${cap.port}` : `rtp://127.0.0.1:${cap.port}`;
  const srtpArgs = opts.srtp
    ? ['-srtp_out_suite', opts.srtp.suite, '-srtp_out_params', opts.srtp.keySalt.toString('base64')]
    : [];
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    `aevalsrc='${opts.signal ?? SIGNAL}':s=${opts.inputRate ?? 48000}:d=${(opts.ms ?? SIGNAL_MS) / 1000}`,
    ...codecArgs,
    ...srtpArgs,
    '-f',
    'rtp',
    url,
  ];
  try {
    await new Promise<void>((resolve, reject) => {
      const p = spawn(FFMPEG, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', reject);
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${err}`))));
    });
    await sleep(200);
    return { rtp: [...cap.rtp], rtcp: [...cap.rtcp] };
  } finally {
    cap.close();
  }
}

/** RTP header fields of a captured datagram (not for SRTP payloads, whose headers are clear anyway). */
export function rtpFields(p: Buffer): {
  pt: number;
  seq: number;
  ts: number;
  ssrc: number;
  headerLength: number;
} {
  let hl = 12 + 4 * (p[0]! & 0x0f);
  if (p[0]! & 0x10) hl += 4 + 4 * p.readUInt16BE(hl + 2);
  return {
    pt: p[1]! & 0x7f,
    seq: p.readUInt16BE(2),
    ts: p.readUInt32BE(4),
    ssrc: p.readUInt32BE(8),
    headerLength: hl,
  };
}

/** Send times (ms from the first) of captured datagrams, from their RTP timestamps. */
export function timesOf(packets: readonly Buffer[], clockRate: number): number[] {
  const ts0 = rtpFields(packets[0]!).ts;
  return packets.map((p) => (((rtpFields(p).ts - ts0) >>> 0) * 1000) / clockRate);
}

/**
 * Sends datagrams at real time: datagram i leaves at start + at[i] ms (absolute schedule, so timer
 * lateness does not accumulate). `at` defaults to i * ptimeMs.
 */
export async function sendPaced(
  port: number,
  datagrams: readonly Buffer[],
  ptimeMs: number,
  at?: readonly number[],
): Promise<void> {
  const socket = createSocket('udp4');
  const start = performance.now();
  try {
    for (let i = 0; i < datagrams.length; i++) {
      const wait = start + (at?.[i] ?? i * ptimeMs) - performance.now();
      if (wait > 1) await sleep(wait);
      await new Promise<void>((resolve, reject) =>
        socket.send(datagrams[i]!, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
      );
    }
  } finally {
    socket.close();
  }
}

const G729_ENCODER_C = String.raw`
#include <bcg729/encoder.h>
#include <stdio.h>
#include <stdint.h>
/* Reads 16-bit little-endian 8 kHz PCM on stdin; writes per 10 ms frame one length byte (10: speech,
   2: Annex B SID, 0: nothing sent) and the frame's bytes. argv[1] = "vad" enables Annex B. */
int main(int argc, char** argv) {
  bcg729EncoderChannelContextStruct* enc = initBcg729EncoderChannel(argc > 1);
  int16_t pcm[80];
  uint8_t out[10];
  uint8_t len;
  (void)argv;
  while (fread(pcm, sizeof pcm, 1, stdin) == 1) {
    len = 0;
    bcg729Encoder(enc, pcm, out, &len);
    fputc(len, stdout);
    fwrite(out, 1, len, stdout);
  }
  closeBcg729EncoderChannel(enc);
  return 0;
}
`;

let g729Binary: Promise<string> | undefined;

/** Compiles (once per process) the bcg729 encoder driver with the system compiler. */
function g729Encoder(): Promise<string> {
  g729Binary ??= (async () => {
    const dir = join(tmpdir(), `srs-g729-${process.pid}`);
    await mkdir(dir, { recursive: true });
    const bin = join(dir, 'g729enc');
    try {
      await access(bin);
      return bin;
    } catch {
      // build it
    }
    await writeFile(join(dir, 'g729enc.c'), G729_ENCODER_C);
    await run('cc', ['-O1', '-o', bin, join(dir, 'g729enc.c'), '-lbcg729']);
    return bin;
  })();
  return g729Binary;
}

/** SIGNAL at 8 kHz as s16le, rendered by ffmpeg. */
export async function signalPcm8k(signal = SIGNAL, ms = SIGNAL_MS): Promise<Buffer> {
  const { stdout } = await run(
    FFMPEG,
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      `aevalsrc='${signal}':s=8000:d=${ms / 1000}`,
      '-f',
      's16le',
      '-',
    ],
    { encoding: 'buffer', maxBuffer: 64 << 20 },
  );
  return stdout;
}

/** G.729 frames (10 bytes speech, 2 bytes SID, empty: not transmitted) of 8 kHz s16le PCM, by bcg729. */
export async function g729Frames(pcm: Buffer, vad: boolean): Promise<Buffer[]> {
  const bin = await g729Encoder();
  const out = await new Promise<Buffer>((resolve, reject) => {
    const p = spawn(bin, vad ? ['vad'] : [], { stdio: ['pipe', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => chunks.push(d));
    p.on('error', reject);
    p.on('exit', (code) =>
      code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`g729enc exit ${code}`)),
    );
    p.stdin.on('error', () => undefined); // an early exit is reported by its exit code
    p.stdin.end(pcm);
  });
  const frames: Buffer[] = [];
  for (let pos = 0; pos < out.length;) {
    const len = out[pos]!;
    frames.push(out.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return frames;
}

/**
 * RFC 3551 section 4.5.6 packetizing: `perPacket` 10 ms frames per packet; a SID frame ends its
 * packet; untransmitted frames leave a gap (the timestamp still advances). Returns the RTP payloads
 * with their send times (ms) and timestamps (relative, 8 kHz).
 */
export function g729Packets(
  frames: readonly Buffer[],
  perPacket: number,
): { payload: Buffer; ms: number; ts: number }[] {
  const out: { payload: Buffer; ms: number; ts: number }[] = [];
  let cur: Buffer[] = [];
  let curStart = 0;
  const flush = (): void => {
    if (cur.length > 0)
      out.push({ payload: Buffer.concat(cur), ms: (curStart + cur.length) * 10, ts: curStart * 80 });
    cur = [];
  };
  frames.forEach((f, i) => {
    if (f.length === 0) {
      flush();
      return;
    }
    if (cur.length === 0) curStart = i;
    cur.push(f);
    if (f.length === 2 || cur.length === perPacket) flush();
  });
  flush();
  return out;
}

/**
 * Rewrites an RFC 4867 octet-aligned AMR payload (one channel, no interleaving) in the
 * bandwidth-efficient format, for the depacketizer tests. `wideband` picks the AMR-WB frame sizes.
 */
export function amrOctetToBandwidthEfficient(payload: Buffer, wideband: boolean): Buffer {
  const NB = [95, 103, 118, 134, 148, 159, 204, 244, 39, 43, 38, 37, -1, -1, -1, 0];
  const WB = [132, 177, 253, 285, 317, 365, 397, 461, 477, 40, -1, -1, -1, -1, 0, 0];
  const sizes = wideband ? WB : NB;
  const bits: number[] = [];
  const put = (v: number, n: number): void => {
    for (let i = n - 1; i >= 0; i--) bits.push((v >> i) & 1);
  };
  put(payload[0]! >> 4, 4); // CMR
  const toc: { ft: number; q: number }[] = [];
  let pos = 1;
  for (;;) {
    const b = payload[pos++]!;
    toc.push({ ft: (b >> 3) & 15, q: (b >> 2) & 1 });
    put(b >> 7, 1);
    put((b >> 3) & 15, 4);
    put((b >> 2) & 1, 1);
    if ((b & 0x80) === 0) break;
  }
  for (const t of toc) {
    const n = sizes[t.ft]!;
    for (let i = 0; i < n; i++) bits.push((payload[pos + (i >> 3)]! >> (7 - (i & 7))) & 1);
    pos += Math.ceil(n / 8);
  }
  const out = Buffer.alloc(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => {
    if (b) out[i >> 3]! |= 0x80 >> (i & 7);
  });
  return out;
}
