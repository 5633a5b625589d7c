import { fmtNumber, t, tp } from '../i18n.js';

/** A recording's timeline event as the API gives it: English text, and its code and arguments. */
export interface TimelineEventJson {
  offsetMs: number;
  type: string;
  text: string;
  code?: string;
  args?: Record<string, string | number>;
  at: string;
}

/** The event in the console's language; an event this console does not know, in the API's words. */
export function eventText(e: TimelineEventJson): string {
  const a = e.args ?? {};
  const s = (k: string) => String(a[k] ?? '');
  const n = Number(a.n ?? 0);
  switch (e.code) {
    case 'recording-started':
      return t('recording started (Call-ID {callId})', { callId: s('callId') });
    case 'first-packet':
      return t('first RTP packet on {leg}', { leg: s('leg') });
    case 'packets-lost':
      return tp(n, '{n} packet lost on {leg}', '{n} packets lost on {leg}', { leg: s('leg') });
    case 'srtp-auth-failed':
      return tp(
        n,
        '{n} SRTP packet failed authentication on {leg} (wrong key?)',
        '{n} SRTP packets failed authentication on {leg} (wrong key?)',
        { leg: s('leg') },
      );
    case 'foreign-dropped':
      return tp(
        n,
        '{n} datagram from other sources dropped on {leg}',
        '{n} datagrams from other sources dropped on {leg}',
        { leg: s('leg') },
      );
    case 'spool-damaged':
      return t('{leg}: {ms} ms of audio lost (spool write failed)', { leg: s('leg'), ms: s('ms') });
    case 'spool-errors':
      return tp(n, '{n} spool write failure on {leg}', '{n} spool write failures on {leg}', {
        leg: s('leg'),
      });
    case 'call-ended':
      return t('call ended after {seconds} s', {
        seconds: fmtNumber(Number(a.seconds ?? 0), {
          minimumFractionDigits: 1,
          maximumFractionDigits: 1,
          useGrouping: false,
        }),
      });
    case 'preserved':
      return t('preserved by {who}', { who: s('by') });
    case 'note':
      return t('note by {who}', { who: s('author') });
    default:
      // SIP session events (pause, resume, metadata...) keep the SRC's own words.
      return e.text;
  }
}
