/**
 * The recordings search's filters an operator (or an offload) needs besides the call's start, over
 * the real HTTP API and a real embedded Postgres: when the recording was stored (storedFrom,
 * storedTo) and that order (sort=stored, paged without a repeat or a gap, so a call stored late
 * is not missed); the caller's and callee's numbers (the catalogue's, else the first two
 * participants', matched as the participant filter matches); the direction. Each within the
 * caller's scope; bad values are a 400 naming the parameter.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createApiUsers, startApiHarness, type ApiHarness } from '../helpers/api-harness.js';

interface Item {
  id: string;
  startedAt: string;
  storedAt: string | null;
}

const at = (hhmm: string) => new Date(`2026-04-01T${hhmm}:00Z`);

describe(
  'recordings search: stored time, caller, callee, direction (real HTTP, real Postgres)',
  { timeout: 120000 },
  () => {
    let h: ApiHarness;
    /** By name: r1..r4, `late` (its call started first, stored last), `live` (still recording). */
    const ids: Record<string, string> = {};
    const name = new Map<string, string>();

    /**
     * A recording between `caller` and `callee` (the first two participants' numbers), started at
     * `start`; stored at `stored` with the catalogue's columns as the store sets them (or `columns`
     * given), else left recording.
     */
    const record = async (
      key: string,
      o: {
        start: string;
        caller: string;
        callee: string;
        stored?: string;
        direction?: string;
        columns?: { caller: string; callee: string };
      },
    ) => {
      const id = randomUUID();
      ids[key] = id;
      name.set(id, key);
      await h.db.recordings.create({
        id,
        sessionId: `sess-${key}`,
        callId: `${key}@pbx`,
        srcAddress: '127.0.0.1:5070',
        startedAt: at(o.start),
        participants: [
          {
            participantId: 'p1',
            aor: `sip:${o.caller}@pbx.example`,
            name: `${key} caller`,
            sendsLabels: ['1'],
          },
          {
            participantId: 'p2',
            aor: `sip:${o.callee}@pbx.example`,
            name: `${key} callee`,
            sendsLabels: ['2'],
          },
        ],
        streams: [],
        metadataXml: null,
      });
      if (!o.stored) return;
      await h.db.recordings.markEnded(id, new Date(at(o.start).getTime() + 60_000), 60_000, null);
      await h.db.recordings.markStored(id);
      // What srs_store_recording sets (markStored does not): stored_at, ANI/DNIS, direction.
      await h.db.pool.query(
        `UPDATE recordings SET stored_at = $2, caller_number = $3, callee_number = $4, direction = $5 WHERE id = $1`,
        [
          id,
          at(o.stored),
          o.columns?.caller ?? o.caller.toLowerCase(),
          o.columns?.callee ?? o.callee.toLowerCase(),
          o.direction ?? 'unknown',
        ],
      );
    };

    const search = async (query: string, as = 'admin') => {
      const r = await h.call('GET', `/api/v1/recordings?${query}`, { as });
      assert.equal(r.status, 200, `${query}: ${JSON.stringify(r.json)}`);
      return r.json as { total: number; limit: number; offset: number; items: Item[] };
    };
    /** The names of the recordings found, sorted (the set). */
    const found = async (query: string, as = 'admin') =>
      (await search(query, as)).items.map((x) => name.get(x.id) ?? x.id).sort();
    /** The names in the order the search gave them. */
    const ordered = async (query: string, as = 'admin') =>
      (await search(query, as)).items.map((x) => name.get(x.id) ?? x.id);
    const bad = async (query: string, message: RegExp) => {
      const r = await h.call('GET', `/api/v1/recordings?${query}`, { as: 'admin' });
      assert.equal(r.status, 400, `${query}: ${r.status} ${JSON.stringify(r.json)}`);
      assert.match(r.json.error as string, message, query);
    };
    const q = encodeURIComponent;

    before(async () => {
      h = await startApiHarness();
      // alice (user, sales) has the number alice, bob (user, support) Bob; sup supervises sales.
      await createApiUsers(h);
      await record('r1', {
        start: '10:00',
        stored: '10:25',
        caller: 'alice',
        callee: '+4930111222',
        direction: 'outbound',
      });
      // Stored in the same instant as r1: the order between them is by id.
      await record('r2', {
        start: '10:20',
        stored: '10:25',
        caller: '+4940555666',
        callee: 'alice',
        direction: 'inbound',
      });
      await record('r3', {
        start: '10:40',
        stored: '10:45',
        caller: 'Bob',
        callee: '2001',
        direction: 'internal',
      });
      // A gateway in the metadata, the real ANI in the catalogue (set before storing): the catalogue's wins.
      await record('r4', {
        start: '11:00',
        stored: '11:05',
        caller: 'gateway',
        callee: 'Bob',
        direction: 'inbound',
        columns: { caller: '+4930999000', callee: 'bob' },
      });
      // A long call (or a backlog): it started before all the others and was stored after them.
      await record('late', {
        start: '09:00',
        stored: '12:00',
        caller: '+4930777888',
        callee: 'alice',
        direction: 'inbound',
      });
      // Not stored yet: no stored time, no direction, caller/callee from its participants.
      await record('live', { start: '11:30', caller: 'alice', callee: '3001' });
    });

    after(async () => {
      await h?.close();
    });

    it('storedFrom / storedTo select by when the recording was stored, not when the call started', async () => {
      assert.deepEqual(await found(`storedFrom=${at('10:30').toISOString()}`), ['late', 'r3', 'r4']);
      assert.deepEqual(await found(`storedTo=${at('10:30').toISOString()}`), ['r1', 'r2']);
      // At or after the start, before the end.
      assert.deepEqual(
        await found(`storedFrom=${at('10:45').toISOString()}&storedTo=${at('11:05').toISOString()}`),
        ['r3'],
      );
      assert.deepEqual(await found(`storedFrom=${at('12:00').toISOString()}`), ['late'], 'at or after');
      // A recording not stored yet has no stored time: no stored-time filter finds it.
      assert.deepEqual(await found(`storedFrom=${at('00:00').toISOString()}`), [
        'late',
        'r1',
        'r2',
        'r3',
        'r4',
      ]);
      // With the other filters, and the stored time in the results.
      assert.deepEqual(
        await found(`storedFrom=${at('10:30').toISOString()}&from=${at('10:30').toISOString()}`),
        ['r3', 'r4'],
      );
      const late = (await search(`callId=late@pbx`)).items[0];
      assert.equal(late?.storedAt, at('12:00').toISOString());
      assert.equal((await search(`callId=live@pbx`)).items[0]?.storedAt, null);
    });

    it('sort=stored pages in stored order without a repeat or a gap; a call stored late is not missed', async () => {
      // The default order is unchanged: newest call first.
      assert.deepEqual(await ordered(''), ['live', 'r4', 'r3', 'r2', 'r1', 'late']);
      const tied = [ids.r1 as string, ids.r2 as string].sort().map((id) => name.get(id) as string);
      // Oldest stored first, a tie by id, the recording not stored yet last.
      assert.deepEqual(await ordered('sort=stored'), [...tied, 'r3', 'r4', 'late', 'live']);
      // One at a time across the tie: every recording once, in that order.
      const paged: string[] = [];
      for (let offset = 0; offset < 8; offset++)
        paged.push(...(await ordered(`sort=stored&limit=1&offset=${offset}`)));
      assert.deepEqual(paged, [...tied, 'r3', 'r4', 'late', 'live']);

      // An offload's first pull, at 10:50: what was stored by then, in two pages of two.
      const first = `sort=stored&storedTo=${at('10:50').toISOString()}&limit=2`;
      const p1 = await search(`${first}&offset=0`);
      const p2 = await search(`${first}&offset=2`);
      assert.equal(p1.total, 3);
      assert.deepEqual(
        p1.items.map((x) => name.get(x.id)),
        tied,
      );
      assert.deepEqual(
        p2.items.map((x) => name.get(x.id)),
        ['r3'],
      );
      // The next pull resumes where the first stopped: by stored time it finds the late call (two pages of one)...
      const next = `sort=stored&storedFrom=${at('10:50').toISOString()}&limit=1`;
      const n1 = await search(`${next}&offset=0`);
      const n2 = await search(`${next}&offset=1`);
      assert.equal(n1.total, 2);
      assert.deepEqual(
        [...n1.items, ...n2.items].map((x) => name.get(x.id)),
        ['r4', 'late'],
      );
      // ... which "calls started after the last one pulled" misses: it started before all of them.
      const lastStart = [...p1.items, ...p2.items]
        .map((x) => x.startedAt)
        .sort()
        .at(-1) as string;
      const byStart = await found(`from=${q(new Date(Date.parse(lastStart) + 1).toISOString())}`);
      assert.deepEqual(byStart, ['live', 'r4']);
      assert.ok(!byStart.includes('late'));
    });

    it('caller and callee: the catalogue numbers, as a substring, a whole * ? pattern or a /regex/', async () => {
      // The catalogue's number, else (not stored yet) the first participant's.
      assert.deepEqual(await found('caller=alice'), ['live', 'r1']);
      assert.deepEqual(await found('caller=ALI'), ['live', 'r1'], 'a substring, in any case');
      assert.deepEqual(await found(`caller=${q('+4930')}`), ['late', 'r4']);
      // r4's metadata names a gateway, but its ANI is +4930999000.
      assert.deepEqual(await found('caller=gateway'), []);
      assert.deepEqual(await found('participant=gateway'), ['r4'], 'the participant filter still sees it');
      assert.deepEqual(await found(`caller=${q('*000')}`), ['r4'], 'ends with');
      assert.deepEqual(await found(`caller=${q('4930*')}`), [], 'a pattern is matched whole');
      assert.deepEqual(await found(`caller=${q('+4930*')}`), ['late', 'r4'], 'starts with');
      assert.deepEqual(
        await found(`caller=${q('/^\\+49(30|40)/')}`),
        ['late', 'r2', 'r4'],
        'a regular expression',
      );
      assert.deepEqual(await found(`caller=${q('%')}`), [], '% is a character');
      // The callee: the catalogue's number, else the second participant's (live's 3001).
      assert.deepEqual(await found('callee=alice'), ['late', 'r2']);
      assert.deepEqual(await found('callee=bob'), ['r4']);
      assert.deepEqual(await found(`callee=${q('?001')}`), ['live', 'r3'], 'one character');
      // Caller and callee together: a call from one number to another.
      assert.deepEqual(await found(`caller=${q('+49')}&callee=alice`), ['late', 'r2']);
      assert.deepEqual(await found('caller=alice&callee=alice'), []);
    });

    it('direction: one of the catalogue values; unknown also finds a recording not stored yet', async () => {
      assert.deepEqual(await found('direction=inbound'), ['late', 'r2', 'r4']);
      assert.deepEqual(await found('direction=outbound'), ['r1']);
      assert.deepEqual(await found('direction=internal'), ['r3']);
      assert.deepEqual(await found('direction=unknown'), ['live']);
      assert.deepEqual(
        await found(`direction=inbound&caller=${q('+4930')}&storedFrom=${at('11:30').toISOString()}`),
        ['late'],
      );
    });

    it('every new filter stays within the caller’s scope', async () => {
      // alice's: r1, r2, late, live; bob's: r3, r4; sup sees sales (alice's).
      assert.deepEqual(await found('', 'alice'), ['late', 'live', 'r1', 'r2']);
      assert.deepEqual(await found(`storedFrom=${at('10:30').toISOString()}`, 'alice'), ['late']);
      assert.deepEqual(await found(`storedFrom=${at('10:30').toISOString()}`, 'bob'), ['r3', 'r4']);
      assert.deepEqual(await ordered('sort=stored', 'bob'), ['r3', 'r4']);
      assert.deepEqual(await found(`caller=${q('+4930')}`, 'alice'), ['late']);
      assert.deepEqual(await found(`caller=${q('+4930')}`, 'bob'), ['r4']);
      assert.deepEqual(await found('callee=alice', 'bob'), []);
      assert.deepEqual(await found('direction=inbound', 'alice'), ['late', 'r2']);
      assert.deepEqual(await found('direction=inbound', 'bob'), ['r4']);
      assert.deepEqual(await found('direction=internal', 'alice'), []);
      assert.deepEqual(await found('direction=inbound', 'sup'), ['late', 'r2']);
      assert.deepEqual(await found(`callee=${q('?001')}`, 'sup'), ['live']);
    });

    it('the new filters are search filters: saved searches keep them, exports apply them', async () => {
      const saved = await h.call('POST', '/api/v1/me/searches', {
        as: 'alice',
        body: {
          name: 'inbound from Berlin',
          query: `direction=inbound&caller=${q('+4930*')}&storedFrom=2026-04-01T00:00:00Z`,
        },
      });
      assert.equal(saved.status, 201, JSON.stringify(saved.json));
      const refused = await h.call('POST', '/api/v1/me/searches', {
        as: 'alice',
        body: { name: 'sideways', query: 'direction=sideways' },
      });
      assert.equal(refused.status, 400, JSON.stringify(refused.json));
      assert.match(refused.json.error as string, /direction: one of inbound, outbound, internal, unknown/);
      const csv = await h.call('GET', `/api/v1/recordings/export?format=csv&direction=inbound&callee=alice`, {
        as: 'admin',
      });
      assert.equal(csv.status, 200, csv.buf.toString());
      assert.equal(csv.headers.get('x-export-count'), '2');
    });

    it('bad values are a 400 naming the parameter and what it takes', async () => {
      await bad('storedFrom=yesterday', /^storedFrom: not a date \(use ISO 8601\)/);
      await bad('storedTo=2026-13-45T00:00:00Z', /^storedTo: not a date/);
      await bad('direction=sideways', /^direction: one of inbound, outbound, internal, unknown$/);
      await bad('direction=INBOUND', /^direction: one of inbound, outbound, internal, unknown$/);
      await bad('sort=newest', /^sort: started or stored$/);
      await bad(`caller=${q('/(unclosed/')}`, /^caller: not a valid regular expression/);
      await bad(`callee=${q('/[/')}`, /^callee: not a valid regular expression/);
      // The participant's own message is unchanged.
      await bad(`participant=${q('/(unclosed/')}`, /^participant: not a valid regular expression/);
    });
  },
);
