/**
 * Startup recovery names an orphan spool's stream codecs from its session.json: legs opened with
 * PayloadSpec objects and legs of older spools with PayloadKind strings only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { codecsOfLeg } from '../../src/recording/recovery.js';

describe('codecsOfLeg (session.json payload types -> catalogue codec)', () => {
  const cases: [string, Record<string, unknown> | undefined, string][] = [
    ['older spool: G.711 kinds only', { 0: 'PCMU', 8: 'PCMA', 13: 'CN', 101: 'telephone-event' }, 'PCMU'],
    [
      'PCMA answered on PT 8 beside the static defaults',
      { 0: 'PCMU', 8: { codec: 'PCMA', clockRate: 8000 }, 13: 'CN', 101: 'telephone-event' },
      'PCMA',
    ],
    [
      'Opus then G.729, events and CN left out',
      {
        0: 'PCMU',
        8: 'PCMA',
        111: { codec: 'opus', clockRate: 48000, channels: 2, fmtp: 'useinbandfec=1' },
        18: { codec: 'G729', clockRate: 8000 },
        110: { codec: 'telephone-event', clockRate: 48000 },
        13: { codec: 'CN', clockRate: 8000 },
      },
      'G729,opus',
    ],
    ['nothing readable', { 5: 7, 6: null }, ''],
    ['no session.json', undefined, ''],
  ];
  for (const [name, pts, want] of cases) it(name, () => assert.equal(codecsOfLeg(pts), want));
});
