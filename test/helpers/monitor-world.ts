import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TapHub } from '../../src/monitor/index.js';

/**
 * What the monitor unit tests run on: a data directory whose spool holds an empty leg for each
 * call (the tap finds the call, no audio yet), a real HTTP server on loopback for the WebSockets,
 * and a tap hub on that spool.
 */
export interface MonitorWorld {
  dataDir: string;
  server: Server;
  taps: TapHub;
  /** The monitor's WebSocket address with `?token=`. */
  url(token: string): string;
}

export async function startMonitorWorld(prefix: string, recordingIds: string[]): Promise<MonitorWorld> {
  const dataDir = await mkdtemp(join(tmpdir(), prefix));
  for (const id of recordingIds) {
    const spool = join(dataDir, 'spool', id);
    await mkdir(spool, { recursive: true });
    const head = Buffer.alloc(16);
    head.write('SRSPOOL1', 0, 'latin1');
    head.writeUInt32LE(8000, 8);
    await writeFile(join(spool, 'leg0.spool'), head);
  }
  const server = createServer((_q, r) => r.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    dataDir,
    server,
    taps: new TapHub({ dataDir, pollMs: 20 }),
    url: (token) => `ws://127.0.0.1:${port}/monitor?token=${token}`,
  };
}
