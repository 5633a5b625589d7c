/**
 * The media state of a SIPREC dialog across offers (src/sip/app/session.ts): streams added in a new
 * m-line or a port-0 slot reused, removed by port 0, paused and resumed by a=inactive, and an
 * identical re-INVITE (OpenSIPS' pause) changing nothing. Real SDP text through the real parser.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseOffer, buildAnswer } from '../../src/sip/app/sdp.js';
import { answerOf, applyPlan, planOffer, type Slot } from '../../src/sip/app/session.js';

type M = { port: number; pt?: number; label: string; dir?: string };
function sdp(ms: M[]): string {
  const lines = ['v=0', 'o=SRC 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0'];
  for (const m of ms) {
    const pt = m.pt ?? 0;
    lines.push(`m=audio ${m.port} RTP/AVP ${pt}`, `a=label:${m.label}`, `a=${m.dir ?? 'sendonly'}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Applies offers in turn, with fake ports 30000, 30002, ... for added streams. */
function run(offers: M[][]): { slots: Slot[]; plans: ReturnType<typeof planOffer>[] } {
  let slots: Slot[] = [];
  let next = 30000;
  const plans = [];
  for (const o of offers) {
    const offer = parseOffer(sdp(o));
    const plan = planOffer(slots, offer);
    const ports = plan.add.map(() => ((next += 2), next - 2));
    slots = applyPlan(slots, offer, plan, ports);
    plans.push(plan);
  }
  return { slots, plans };
}

const two: M[] = [
  { port: 4000, label: '1' },
  { port: 4002, pt: 8, label: '2' },
];

describe('SIPREC dialog media state across offers', () => {
  it('starts every recordable stream and declines the rest', () => {
    const { slots, plans } = run([[...two, { port: 4004, pt: 4, label: '3' }]]);
    assert.deepEqual(
      plans[0]?.add.map((a) => [a.index, a.codec]),
      [
        [0, 'PCMU'],
        [1, 'PCMA'],
      ],
    );
    assert.deepEqual(
      slots.map((s) => s.port),
      [30000, 30002, 0],
    );
  });

  it('treats an identical re-INVITE as no change (same ports, no events)', () => {
    const { slots, plans } = run([two, two, two]);
    assert.equal(plans[1]?.unchanged, true);
    assert.equal(plans[2]?.unchanged, true);
    assert.deepEqual(
      slots.map((s) => s.port),
      [30000, 30002],
    );
  });

  it('adds a third stream in a new m-line and keeps the others on their ports', () => {
    const { slots, plans } = run([two, [...two, { port: 4004, label: '3' }]]);
    assert.deepEqual(
      plans[1]?.add.map((a) => [a.index, a.label]),
      [[2, '3']],
    );
    assert.deepEqual(plans[1]?.remove, []);
    assert.deepEqual(
      slots.map((s) => s.port),
      [30000, 30002, 30004],
    );
  });

  it('removes a stream offered with port 0 and reuses the slot later on a new port', () => {
    const removed: M[] = [two[0] as M, { port: 0, pt: 8, label: '2' }];
    const reused: M[] = [two[0] as M, { port: 4010, label: '9' }];
    const { slots, plans } = run([two, removed, reused]);
    assert.deepEqual(plans[1]?.remove, [1]);
    assert.deepEqual(
      plans[2]?.add.map((a) => [a.index, a.label, a.codec]),
      [[1, '9', 'PCMU']],
    );
    assert.deepEqual(
      slots.map((s) => [s.port, s.label]),
      [
        [30000, '1'],
        [30004, '9'],
      ],
    );
  });

  it('reports pause and resume per stream from a=inactive', () => {
    const paused: M[] = two.map((m) => ({ ...m, dir: 'inactive' }));
    const { plans, slots } = run([two, paused, paused, two]);
    assert.deepEqual(
      plans[1]?.pauseChanges.map((c) => [c.index, c.paused]),
      [
        [0, true],
        [1, true],
      ],
    );
    assert.equal(plans[2]?.unchanged, true);
    assert.deepEqual(
      plans[3]?.pauseChanges.map((c) => c.paused),
      [false, false],
    );
    assert.deepEqual(
      slots.map((s) => s.paused),
      [false, false],
    );
  });

  it('answers with the same m-line count, labels, recvonly/inactive and port 0 for declined', () => {
    const offerText = sdp([{ ...two[0], dir: 'inactive' } as M, two[1] as M, { port: 0, label: '3' }]);
    const offer = parseOffer(offerText);
    const slots = applyPlan([], offer, planOffer([], offer), [30000, 30002]);
    const answer = buildAnswer(offerText, answerOf(slots), '127.0.0.1', 2);
    const m = answer.split(/\r?\n/).filter((l) => l.startsWith('m='));
    assert.deepEqual(m, ['m=audio 30000 RTP/AVP 0', 'm=audio 30002 RTP/AVP 8', 'm=audio 0 RTP/AVP 0']);
    assert.match(answer, /a=inactive\r?\na=label:1/);
    assert.match(answer, /a=recvonly\r?\na=label:2/);
    assert.match(answer, /a=label:3/);
  });

  it('drops a stream whose m-line vanished from the offer', () => {
    const { plans } = run([two, [two[0] as M]]);
    assert.deepEqual(plans[1]?.remove, [1]);
  });
});
