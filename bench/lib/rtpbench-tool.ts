import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** bench:media's tools: the rtpbench sender/sink, and the Opus payloads it cycles. */

const HOST = '127.0.0.1';

/** Compiles native/bench/rtpbench.cc (under `root`) to `out`, with the engine's native flags. */
export function buildRtpbench(root: string, out: string): void {
  mkdirSync(dirname(out), { recursive: true });
  const deps = (flag: string): string[] =>
    execFileSync('sh', [join(root, 'scripts', 'native-deps.sh'), flag], { encoding: 'utf8' })
      .trim()
      .split(/\s+/)
      .filter(Boolean);
  execFileSync(
    'g++',
    [
      '-O2',
      '-std=c++17',
      ...deps('--cflags'),
      '-o',
      out,
      join(root, 'native', 'bench', 'rtpbench.cc'),
      '-lsrtp2',
    ],
    { stdio: 'inherit' },
  );
}

/**
 * 20 ms Opus payloads of a 2 s tone from `ffmpeg`'s RTP output, written to `file` as
 * (16-bit little-endian length, payload) records for rtpbench to cycle.
 */
export async function writeOpusPayloads(ffmpeg: string, file: string): Promise<void> {
  const sock = createSocket('udp4');
  const payloads: Buffer[] = [];
  sock.on('message', (m) => payloads.push(m.subarray(12)));
  await new Promise<void>((r) => sock.bind(0, HOST, () => r()));
  const port = sock.address().port;
  execFileSync(ffmpeg, [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000:duration=2',
    '-ac',
    '2',
    '-c:a',
    'libopus',
    '-b:a',
    '32k',
    '-payload_type',
    '111',
    '-f',
    'rtp',
    `rtp://${HOST}:${port}?rtcpport=${port}`,
  ]);
  await sleep(200);
  sock.close();
  const parts: Buffer[] = [];
  for (const p of payloads.filter((x) => x.length > 2 && x.length <= 160)) {
    const len = Buffer.alloc(2);
    len.writeUInt16LE(p.length);
    parts.push(len, p);
  }
  writeFileSync(file, Buffer.concat(parts));
}
