/**
 * Catalogue rows and users for console tests that need many recordings without the calls: the
 * running server's own catalogue (its embedded Postgres, attached to, not started again) and its
 * users API.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import type { ConsoleWorld } from './console-world.js';

/** The server's catalogue, attached to (the server keeps owning its Postgres). */
export async function attachCatalogue(w: ConsoleWorld): Promise<Database> {
  const db = await openDatabase({ dataDir: w.server.dataDir, log: createLogger('silent') });
  assert.equal(db.ownsEmbedded, false);
  return db;
}

/** Users made by the admin token through the API, each with the password `<username>-password`. */
export async function createUsers(w: ConsoleWorld, users: readonly Record<string, unknown>[]): Promise<void> {
  for (const u of users) {
    const r = await fetch(`${w.base}/api/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${w.server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...u, password: `${String(u.username)}-password` }),
    });
    assert.equal(r.status, 201, await r.text());
  }
}

/**
 * A stored recording of a call between two numbers (`sip:<n>@pbx.example`), without audio: Call-ID
 * `<name>@<suite>`, session `sess-<name>`. Returns its id.
 */
export async function storedCall(
  db: Database,
  c: {
    name: string;
    suite: string;
    from: string;
    to: string;
    at: Date;
    seconds: number;
    interaction?: string;
  },
): Promise<string> {
  const id = randomUUID();
  await db.recordings.create({
    id,
    sessionId: `sess-${c.name}`,
    callId: `${c.name}@${c.suite}`,
    srcAddress: '127.0.0.1:5070',
    startedAt: c.at,
    participants: [
      { participantId: 'p1', aor: `sip:${c.from}@pbx.example`, name: null, sendsLabels: ['1'] },
      { participantId: 'p2', aor: `sip:${c.to}@pbx.example`, name: null, sendsLabels: ['2'] },
    ],
    streams: [],
    metadataXml: null,
    interactionId: c.interaction ?? null,
  });
  await db.recordings.markEnded(id, new Date(c.at.getTime() + c.seconds * 1000), c.seconds * 1000, null);
  await db.recordings.markStored(id);
  return id;
}
