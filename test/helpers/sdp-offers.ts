import { DECODABLE } from '../../src/media/types.js';
import type { CodecName } from '../../src/recording/types.js';
import type { AnswerRules, SrtpMode } from '../../src/sip/app/sdp.js';

/** SDP offers for the SDES and codec tests: keys, the codec list, answer rules and an offer builder. */

/** Random key||salt values of each length (base64), made once for these tests. */
export const K30 = 'jvH9tvUwJ6KIZNfOkvib3W0KGoYEgBrd1BchPIBf';
export const K30B = 'PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR';
export const K46 = 'kRN/HSxFnL0OpK3mvw4lVUwBvT9fBLUoZDXsSAnKc2rA2lg5EJNzRKohP+CN2w==';
export const K28 = 'jGoSaFaG9hTOu68RlaJzeY5M3bakUhfOEkdzJQ==';
export const K44 = 'm1saR99wvWyslcjcTnzZl3f+tvMLyLERbZfkLHGOYt3hfIiCqDIGQY25tGk=';
/** Every codec the engine decodes (the answer rules' default). */
export const ALL: readonly CodecName[] = DECODABLE;
export const rules = (srtp: SrtpMode = 'accept', decodable: readonly CodecName[] = ALL): AnswerRules => ({
  srtp,
  decodable,
});

export function offer(m: string, attrs: string[]): string {
  return [
    'v=0',
    'o=SRC 7 1 IN IP4 10.0.0.1',
    's=-',
    'c=IN IP4 10.0.0.1',
    't=0 0',
    m,
    ...attrs,
    'a=label:1',
    'a=sendonly',
    '',
  ].join('\r\n');
}
