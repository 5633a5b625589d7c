/**
 * The details an audit sentence ends with (web/src/audit-text.ts): what changed in a custom field,
 * an evaluation's agent and score, a user's old and new values, the audio format, a failure's reason,
 * a journal message's mailbox, size and failed attempts, the files a key's re-encryption could not
 * move.
 */
import { fmtDate, fmtNumber, t, tp } from './i18n.js';
import type { AuditEntry } from './audit-text.js';

type Details = Record<string, unknown>;

export const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));

const asRecord = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
/** A value in a sentence, quoted: a list as "a", "b", nothing as (none). */
export const shown = (v: unknown): string =>
  v === undefined || v === null || v === ''
    ? t('(none)')
    : Array.isArray(v)
      ? v.map(shown).join(', ')
      : JSON.stringify(typeof v === 'string' ? v : str(v));
const blank = (v: unknown) => v === undefined || v === null || v === '';

/** What changed between two objects ({ before, after }): 'label from "Order" to "Order #", …'. */
function changes(d: Details, render: (k: string, from: unknown, to: unknown) => string): string {
  const before = asRecord(d.before);
  const after = asRecord(d.after);
  // In the order of their names (the stored details do not keep the fields' display order).
  return [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .sort()
    .filter(
      (k) => k !== 'createdAt' && k !== 'createdBy' && JSON.stringify(before[k]) !== JSON.stringify(after[k]),
    )
    .map((k) => render(k, before[k], after[k]))
    .join(', ');
}

/** `sentence`, then a colon and what changed. */
const listed = (sentence: string, c: string) => t('{sentence}: {changes}', { sentence, changes: c });

/** A custom field's definition, its change, or a recording's values changed. */
function customFieldDetails(e: AuditEntry, d: Details, s: string): string {
  if (e.action === 'custom-field.create') {
    const opts = Array.isArray(d.options) && d.options.length ? `: ${shown(d.options)}` : '';
    return `${s} (${shown(d.label)}, ${str(d.type)}${opts})`;
  }
  if (e.action === 'custom-field.update') {
    const c = changes(d, (k, from, to) =>
      t('{name} from {from} to {to}', { name: k, from: shown(from), to: shown(to) }),
    );
    return c ? listed(s, c) : s;
  }
  // Its values removed: said in the sentence.
  if (e.action === 'custom-field.delete' && typeof d.values === 'number') return s;
  const c = changes(d, (k, from, to) =>
    blank(to)
      ? t('{name} cleared (was {from})', { name: k, from: shown(from) })
      : blank(from)
        ? t('{name} set to {to}', { name: k, to: shown(to) })
        : t('{name} from {from} to {to}', { name: k, from: shown(from), to: shown(to) }),
  );
  return c ? listed(s, c) : t('{sentence} (no change)', { sentence: s });
}

/** An evaluation: its form's size, or who was evaluated (on which form, by whom) and the score. */
function evaluationDetails(e: AuditEntry, d: Details, s: string): string {
  if (e.action === 'evaluation-form.create' && typeof d.questions === 'number')
    return `${s} (${tp(d.questions, '{n} question, {points} points', '{n} questions, {points} points', { points: str(d.maxPoints) })})`;
  const p = { agent: str(d.agent), score: str(d.score) };
  if (e.action === 'evaluation.add' && d.agent)
    return `${s} (${d.form ? t('agent {agent}, {form}: {score} %', { ...p, form: shown(d.form) }) : t('agent {agent}: {score} %', p)})`;
  if (e.action === 'evaluation.delete' && d.agent)
    return `${s} (${d.evaluator ? t('agent {agent}, by {evaluator}: {score} %', { ...p, evaluator: str(d.evaluator) }) : t('agent {agent}: {score} %', p)})`;
  return s;
}

/** The checks an integrity check failed: 'file.wav, chain.entry'. */
const recordingFailures = (v: unknown): string => (Array.isArray(v) ? v.map(str).join(', ') : str(v));

/** One field of a user's change: its old and new value; the password only as set or removed. */
function userChange([field, v]: [string, unknown]): string {
  if (field === 'password') return v === 'removed' ? t('password removed') : t('password set');
  const c = (v ?? {}) as { from?: unknown; to?: unknown };
  const val = (x: unknown) =>
    Array.isArray(x) ? x.join(', ') || '-' : x === null || x === undefined || x === '' ? '-' : String(x);
  return t('{field}: {from} → {to}', { field, from: val(c.from), to: val(c.to) });
}

/** `s` with the details worth a word: the audio format, the day in the chain, a failure's reason. */
export function withDetails(e: AuditEntry, d: Details, s: string): string {
  const a = e.action;
  if (a.startsWith('custom-field.') || a === 'fields.update') return customFieldDetails(e, d, s);
  if (a.startsWith('evaluation')) return evaluationDetails(e, d, s);
  if (a === 'recording.chained')
    return d.day ? `${s} (${t('day {day}, entry {seq}', { day: str(d.day), seq: str(d.seq) })})` : s;
  // Why (retention), and how long (listen-in): said in the sentence.
  if (a === 'retention.purge') return s;
  if (a === 'delivery' && d.purpose) return `${s} (${str(d.purpose)})`;
  if (a === 'listen.stop' && typeof d.durationMs === 'number') return s;
  if ((a === 'playback' || a === 'download' || a === 'export') && d.format)
    return `${s} (${str(d.format)}${d.audio ? `, ${str(d.audio)}` : ''}${d.range ? `, ${t('range {range}', { range: str(d.range) })}` : ''})`;
  if ((a === 'login-failed' || a === 'password-change-failed') && d.reason) return `${s} (${str(d.reason)})`;
  if (a.startsWith('recording.') && d.channel)
    return `${s} (${str(d.channel)}${d.reason ? `: ${str(d.reason)}` : ''})`;
  if (a.startsWith('retention-policy.')) return retentionDetails(d, s);
  if (
    (a === 'policy.update' || a === 'policy.reset') &&
    d.from &&
    d.to &&
    typeof d.from === 'object' &&
    typeof d.to === 'object'
  ) {
    const from = d.from as Details;
    const to = d.to as Details;
    const changed = Object.keys(to)
      .filter((k) => JSON.stringify(from[k]) !== JSON.stringify(to[k]))
      .map((k) => userChange([k, { from: from[k], to: to[k] }]));
    return changed.length > 0 ? listed(s, changed.join('; ')) : s;
  }
  if ((a === 'users.import' || a === 'users.sync') && typeof d.created === 'number') {
    const counts = t('{created} created, {updated} changed, {unchanged} unchanged', {
      created: d.created,
      updated: str(d.updated),
      unchanged: str(d.unchanged),
    });
    const off = typeof d.disabled === 'number' ? `, ${t('{n} disabled', { n: d.disabled })}` : '';
    const skipped = typeof d.skipped === 'number' ? `, ${t('{n} skipped', { n: d.skipped })}` : '';
    const all = `${counts}${off}${skipped}`;
    const people =
      typeof d.people === 'number'
        ? listed(tp(d.people, '{n} person in the directory', '{n} people in the directory'), all)
        : all;
    return `${s} (${people})`;
  }
  if (a === 'integrity.check' && typeof d.intact === 'boolean')
    return `${s} (${d.intact ? t('intact') : t('NOT intact: {failed}', { failed: recordingFailures(d.failed) })})`;
  if (a.startsWith('journal.')) return journalDetails(a, d, s);
  if (a === 'key.reencrypt.run' && typeof d.failed === 'number' && d.failed > 0)
    return `${s} (${tp(d.failed, '{n} file failed', '{n} files failed')})`;
  if (a === 'delivery.destination-test' && typeof d.ok === 'boolean')
    return `${s} (${d.ok ? t('access works') : t('failed at {step}', { step: str(d.step) })})`;
  if (
    (a === 'user.update' || a === 'notification-settings.update') &&
    d.changes &&
    typeof d.changes === 'object' &&
    !Array.isArray(d.changes)
  )
    return listed(s, Object.entries(d.changes).map(userChange).join('; '));
  if (a === 'user.update' && Array.isArray(d.fields)) return listed(s, (d.fields as string[]).join(', '));
  return s;
}

/**
 * A journal message (web/src/audit-text.ts): where it went, its size and Message-ID; a failed
 * attempt's number and error, and when the next one is; the files a purge removed.
 */
function journalDetails(a: string, d: Details, s: string): string {
  if (a === 'journal.sent' && d.to) {
    const bytes = typeof d.bytes === 'number' ? d.bytes : Number(d.bytes ?? 0);
    const p = { to: str(d.to), size: fmtNumber(bytes), messageId: str(d.messageId) };
    return `${s} (${tp(bytes, 'to {to}, {size} byte, Message-ID {messageId}', 'to {to}, {size} bytes, Message-ID {messageId}', p)})`;
  }
  if ((a === 'journal.error' || a === 'journal.failed') && d.error !== undefined) {
    const p = { attempt: str(d.attempt), error: str(d.error) };
    const at = typeof d.nextAttemptAt === 'string' ? new Date(d.nextAttemptAt) : undefined;
    return `${s} (${
      a === 'journal.error' && at && !Number.isNaN(at.getTime())
        ? t('attempt {attempt}: {error}; next attempt {at}', { ...p, at: fmtDate(at) })
        : t('attempt {attempt}: {error}', p)
    })`;
  }
  if (a === 'journal.purge' && Array.isArray(d.files))
    return `${s} (${tp(d.files.length, '{n} file removed', '{n} files removed')})`;
  return s;
}

/** A retention policy change: the default's and each group's old and new policy, what it purged. */
function retentionDetails(d: Details, s: string): string {
  const flat = (p: unknown): Record<string, unknown> => {
    const x = (p ?? {}) as { default?: unknown; groups?: Record<string, unknown> };
    const out: Record<string, unknown> = { default: x.default };
    for (const [g, v] of Object.entries(x.groups ?? {})) out[t('group {name}', { name: g })] = v;
    return out;
  };
  const from = flat(d.from);
  const to = flat(d.to);
  const changed = [...new Set([...Object.keys(from), ...Object.keys(to)])]
    .filter((k) => from[k] !== to[k])
    .map((k) => userChange([k, { from: from[k], to: to[k] }]));
  const n = typeof d.purges === 'number' ? d.purges : 0;
  if (n > 0) changed.push(tp(n, 'purges {n} recording', 'purges {n} recordings'));
  return changed.length > 0 ? listed(s, changed.join('; ')) : s;
}
