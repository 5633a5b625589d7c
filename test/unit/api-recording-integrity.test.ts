/**
 * "Is this recording intact?" (GET /api/v1/recordings/{id}/integrity) over real HTTP, a real
 * embedded Postgres and recordings stored by the real pipeline (mixed, MP3-encoded, encrypted to
 * the harness's key, catalogued and chained): an intact recording passes every check; a byte
 * flipped in its encrypted file on disk, a catalogue row changed behind the chain's back, and a
 * chain entry rewritten with its hash recomputed (an attacker with the database superuser) are each
 * caught by the check that covers them; a recording out of reach is 404; each check is audited.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPipeline, type Pipeline } from '../../src/pipeline/index.js';
import { createApiUsers, log, startApiHarness, type ApiHarness } from '../helpers/api-harness.js';
import { ToneMixer, tamperAs } from '../helpers/integrity-world.js';

interface Check {
  name: string;
  kind?: string;
  ok: boolean | null;
  detail: string;
}

describe(
  'recording integrity check (real HTTP, real Postgres, real encrypted files)',
  { timeout: 300000 },
  () => {
    let h: ApiHarness;
    let pipeline: Pipeline;
    const ids: string[] = [];

    /** A call of alice's run through the real pipeline: stored, with an encrypted WAV and MP3. */
    const newStored = async (hz: number, minute: number): Promise<string> => {
      const id = randomUUID();
      await h.db.recordings.create({
        id,
        sessionId: `s-${id.slice(0, 6)}`,
        callId: `c-${id}@pbx`,
        srcAddress: '192.0.2.9:5060',
        startedAt: new Date(Date.UTC(2026, 0, 15, 10, minute)), // one day's chain, entries 1, 2, 3
        participants: [
          { participantId: 'a', aor: 'sip:alice@example.com', name: 'Alice', sendsLabels: ['1'] },
          { participantId: 'b', aor: 'tel:+4930123', name: 'Customer', sendsLabels: ['2'] },
        ],
        streams: [{ label: '1', streamId: 's1', legId: 'leg0', codec: 'PCMU', port: 20000 }],
        metadataXml: null,
      });
      await h.db.recordings.markEnded(id, new Date(), 4000, null);
      const spool = join(h.dataDir, 'spool', id);
      await mkdir(spool, { recursive: true });
      await writeFile(join(spool, 'hz'), String(hz));
      await pipeline.enqueueFinalize(id);
      await pipeline.idle();
      assert.equal((await h.db.recordings.get(id))?.state, 'stored');
      return id;
    };

    const check = async (id: string, as = 'alice') => {
      const r = await h.call('GET', `/api/v1/recordings/${id}/integrity`, { as });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const checks = r.json.checks as Check[];
      const of = (name: string, kind?: string) => {
        const c = checks.find((x) => x.name === name && x.kind === kind);
        assert.ok(c, `${name} ${kind ?? ''} checked: ${JSON.stringify(checks)}`);
        return c;
      };
      return { json: r.json, checks, of };
    };

    /** What an attacker with the database superuser can do: bypass the append-only triggers. */
    const tamper = (sql: string, params: unknown[]) => tamperAs(h.db, sql, params);

    before(async () => {
      h = await startApiHarness();
      await createApiUsers(h);
      pipeline = await startPipeline({
        db: h.db,
        mixer: new ToneMixer(),
        dataDir: h.dataDir,
        log,
        concurrency: 2,
        mp3: { bitrateKbps: 32, sampleRate: 8000 },
        key: { fingerprint: h.key.fingerprint, publicKeyArmored: h.key.publicKeyArmored },
        retryDelaySeconds: 1,
        pollingIntervalSeconds: 0.5,
      });
      for (const [i, hz] of [500, 700, 900].entries()) ids.push(await newStored(hz, i));
    });

    after(async () => {
      await pipeline?.stop();
      await h?.close();
    });

    it('an intact recording passes every check, for whoever may see it; others get 404', async () => {
      const [r1] = ids as [string];
      const { json, checks, of } = await check(r1);
      assert.equal(json.intact, true, JSON.stringify(checks, null, 1));
      assert.equal(json.recordingId, r1);
      assert.ok(Math.abs(Date.parse(json.checkedAt as string) - Date.now()) < 60_000);
      assert.deepEqual(
        checks.map((c) => `${c.name}${c.kind ? `:${c.kind}` : ''}=${c.ok}`),
        [
          'chain.entry=true',
          'chain.link=true',
          'chain.anchor=true',
          'chain.day=true',
          'file:mp3=true',
          'file:wav=true',
        ],
      );
      assert.match(of('chain.entry').detail, /^entry 1 of 2026-01-15 holds what the catalogue says now/);
      assert.match(of('chain.anchor').detail, /anchored in audit row \d+/);
      const rec = await h.db.recordings.get(r1);
      const wav = rec!.files.find((f) => f.kind === 'wav')!;
      assert.equal(
        of('file', 'wav').detail,
        `the wav file: ${wav.bytes} bytes read back from the artifact store, SHA-256 ${wav.sha256Cipher} as catalogued`,
      );
      assert.doesNotMatch(
        JSON.stringify(json),
        new RegExp(h.dataDir),
        'the server’s directories are not shown',
      );
      assert.deepEqual(
        (json.notChecked as { name: string }[]).map((n) => n.name),
        ['plaintext', 'audit-trail'],
      );
      // A supervisor of alice's group and the admin see it too; bob (another group) does not, nor
      // does record-only; an unknown id is 404 as well.
      assert.equal((await check(r1, 'sup')).json.intact, true);
      assert.equal((await check(r1, 'admin')).json.intact, true);
      const bob = await h.call('GET', `/api/v1/recordings/${r1}/integrity`, { as: 'bob' });
      assert.equal(bob.status, 404, JSON.stringify(bob.json));
      assert.notEqual((await h.call('GET', `/api/v1/recordings/${r1}/integrity`, { as: 'rec' })).status, 200);
      assert.equal(
        (await h.call('GET', `/api/v1/recordings/${randomUUID()}/integrity`, { as: 'admin' })).status,
        404,
      );
      // A recording not stored yet is 409.
      const open = randomUUID();
      await h.db.recordings.create({
        id: open,
        sessionId: 'open',
        callId: 'open@pbx',
        srcAddress: '192.0.2.9:5060',
        startedAt: new Date(),
        participants: [{ participantId: 'a', aor: 'sip:alice@example.com', name: 'Alice', sendsLabels: [] }],
        streams: [],
        metadataXml: null,
      });
      assert.equal(
        (await h.call('GET', `/api/v1/recordings/${open}/integrity`, { as: 'alice' })).status,
        409,
      );
    });

    it('a byte flipped in the encrypted file on disk fails that file’s check', async () => {
      const [r1] = ids as [string];
      const wav = (await h.db.recordings.get(r1))!.files.find((f) => f.kind === 'wav')!;
      const path = join(h.dataDir, wav.path);
      const original = await readFile(path);
      const flipped = Buffer.from(original);
      flipped.writeUInt8(flipped.readUInt8(flipped.length >> 1) ^ 0x01, flipped.length >> 1);
      await writeFile(path, flipped);
      try {
        const { json, checks, of } = await check(r1);
        assert.equal(json.intact, false);
        assert.equal(of('file', 'wav').ok, false);
        assert.match(
          of('file', 'wav').detail,
          /^CHANGED: the wav file's SHA-256 [0-9a-f]{64} does not match/,
        );
        assert.deepEqual(
          checks.filter((c) => !c.ok).map((c) => `${c.name}:${c.kind}`),
          ['file:wav'],
          'only the file: the catalogue and the chain are untouched',
        );
      } finally {
        await writeFile(path, original);
      }
      assert.equal((await check(r1)).json.intact, true, 'the original bytes back: intact again');

      // Another recording's (valid, decryptable) file copied over it: named as such, not by its id.
      const r2wav = (await h.db.recordings.get(ids[1]!))!.files.find((f) => f.kind === 'wav')!;
      await copyFile(join(h.dataDir, r2wav.path), path);
      const swapped = await check(r1);
      assert.equal(swapped.of('file', 'wav').ok, false);
      assert.match(
        swapped.of('file', 'wav').detail,
        /^SUBSTITUTED: the wav file is another recording's catalogued wav/,
      );
      assert.doesNotMatch(
        JSON.stringify(swapped.json),
        new RegExp(ids[1]!),
        'the other recording is not named',
      );
      // Gone from the disk.
      await unlink(path);
      const gone = await check(r1);
      assert.equal(gone.json.intact, false);
      assert.equal(gone.of('file', 'wav').detail, 'MISSING: the wav file is missing from the artifact store');
      assert.equal(gone.of('file', 'mp3').ok, true);
      await writeFile(path, original);
      assert.equal((await check(r1)).json.intact, true);

      // The audit trail has each check, its outcome and who asked.
      const audit = await h.call('GET', `/api/v1/audit?resourceId=${r1}&action=integrity.check`, {
        as: 'admin',
      });
      assert.equal(audit.status, 200, JSON.stringify(audit.json));
      const entries = (
        audit.json.items as {
          action: string;
          actor: string;
          resource: string;
          details: { intact: boolean; failed: string[]; callId: string };
        }[]
      ).filter((e) => e.action === 'integrity.check');
      const seen = entries
        .map((e) => `${e.actor}:${e.details.intact}:${e.details.failed.join('+')}`)
        .reverse();
      assert.deepEqual(seen, [
        'alice:true:',
        'sup:true:',
        'admin:true:',
        'alice:false:file.wav',
        'alice:true:',
        'alice:false:file.wav',
        'alice:false:file.wav',
        'alice:true:',
      ]);
      assert.equal(entries[0]?.resource, 'recording');
      assert.equal(entries[0]?.details.callId, `c-${r1}@pbx`);
    });

    it('a catalogue row changed behind the chain’s back fails the chain entry check', async () => {
      const [r1, r2] = ids as [string, string];
      // As an attacker with database access: no trigger protects the catalogue row itself.
      await h.db.pool.query('UPDATE recordings SET duration_ms = duration_ms + 60000 WHERE id = $1', [r2]);
      const { json, checks, of } = await check(r2);
      assert.equal(json.intact, false);
      assert.equal(of('chain.entry').ok, false);
      assert.match(
        of('chain.entry').detail,
        /^catalogue row altered since it was stored \(duration changed\): entry 2 of 2026-01-15/,
      );
      assert.deepEqual(
        checks.filter((c) => !c.ok).map((c) => c.name),
        ['chain.entry'],
        'the files, the links and the anchors are as stored',
      );
      // The same day's other recordings: their own checks pass, the day's chain names the entry.
      const other = await check(r1);
      assert.equal(other.of('chain.entry').ok, true);
      assert.equal(other.of('chain.day').ok, false);
      assert.match(other.of('chain.day').detail, /entry 2: catalogue row altered since it was stored/);
      assert.doesNotMatch(other.of('chain.day').detail, new RegExp(r2), 'no other recording named');

      // A plaintext hash changed in the files table: caught the same way.
      await h.db.pool.query('UPDATE recordings SET duration_ms = duration_ms - 60000 WHERE id = $1', [r2]);
      assert.equal((await check(r2)).json.intact, true, 'put back: intact again');
      await h.db.pool.query(
        `UPDATE files SET sha256_plain = repeat('0', 64) WHERE recording_id = $1 AND kind = 'mp3'`,
        [r2],
      );
      const plain = await check(r2);
      assert.equal(plain.of('chain.entry').ok, false);
      assert.match(plain.of('chain.entry').detail, /\(plaintext hashes changed\)/);
    });

    it('a chain entry rewritten with its hash recomputed is caught by its anchor', async () => {
      const [, , r3] = ids as [string, string, string];
      // The attacker alters the catalogue row and rewrites the chain entry to match, hash and all.
      await h.db.pool.query('UPDATE recordings SET duration_ms = 1000 WHERE id = $1', [r3]);
      await tamper(
        `UPDATE recording_chain SET content = srs_chain_content(recording_id),
         hash = encode(sha256(convert_to(prev_hash || E'\\n' || srs_chain_content(recording_id), 'UTF8')), 'hex')
       WHERE recording_id = $1`,
        [r3],
      );
      const { json, of } = await check(r3);
      assert.equal(json.intact, false);
      assert.equal(of('chain.entry').ok, true, 'the entry now holds the altered row');
      assert.equal(of('chain.link').ok, true, 'its hash was recomputed');
      assert.equal(of('chain.anchor').ok, false);
      assert.match(
        of('chain.anchor').detail,
        /audit row \d+ anchored it as entry 3 .* another hash: the entry was replaced/,
      );
    });
  },
);
