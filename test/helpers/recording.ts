/** A recording's events (REST API) and its decrypted mono WAV, for end-to-end tests. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TestServer } from './server.js';
import type { ListedRecording } from './sipp.js';
import { gpgDecrypt } from './gpg.js';
import { decodeUlawWav } from './audio.js';

export async function recordingEvents(
  server: TestServer,
  id: string,
): Promise<{ type: string; text: string }[]> {
  const r = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/recordings/${id}`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  assert.equal(r.status, 200, await r.clone().text());
  return ((await r.json()) as { events: { type: string; text: string }[] }).events;
}

export async function wavOf(server: TestServer, rec: ListedRecording): Promise<Int16Array> {
  const f = rec.files.find((x) => x.kind === 'wav');
  assert.ok(f, 'wav catalogued');
  return decodeUlawWav(
    await gpgDecrypt(
      join(server.dataDir, 'keys', 'private.asc'),
      server.passphrase,
      join(server.dataDir, f.path),
    ),
  );
}
