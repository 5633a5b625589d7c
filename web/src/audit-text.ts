/** Audit entries as sentences: "admin played this recording (mp3) from 127.0.0.1". */

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  actorRole: string;
  ip: string;
  via?: string;
  action: string;
  resource: string;
  resourceId: string;
  details: Record<string, unknown> | null;
}

/** What each action did, as a verb phrase before its object. */
const VERBS: Record<string, string> = {
  login: 'signed in',
  logout: 'signed out',
  'login-failed': 'failed to sign in',
  'login-throttled': 'was refused sign-in after repeated failures',
  'password-change': 'changed their password',
  playback: 'played',
  waveform: 'viewed the waveform of',
  'listen.start': 'started listening live to',
  'listen.stop': 'stopped listening live to',
  'export.audio': 'exported the audio of',
  delivery: 'decrypted for delivery',
  'admin-token.rotate': 'rotated the server admin token',
  download: 'downloaded',
  export: 'exported',
  delete: 'deleted',
  preserve: 'preserved',
  unpreserve: 'lifted the preservation of',
  'note.add': 'added a note to',
  'note.delete': 'deleted a note on',
  'note.pin': 'pinned a note on',
  'note.unpin': 'unpinned a note on',
  'categories.update': 'changed the categories of',
  'recording.stored': 'stored',
  'recording.chained': 'sealed',
  'user.create': 'created',
  'user.update': 'changed',
  'user.delete': 'deleted',
  'group.create': 'created',
  'token.create': 'created',
  'token.revoke': 'revoked',
  'key.list': 'listed',
  'setting.update': 'changed',
  'delivery.retry': 'asked to retry the failed deliveries',
  'retention.purge': 'purged',
  'recording.pause': 'paused the recording of',
  'recording.resume': 'resumed the recording of',
  'recording.start': 'started the recording of',
  'recording.stop': 'stopped the recording of',
  'recording.pause-refused': 'was refused a pause of',
  'recording.resume-refused': 'was refused a resume of',
  'recording.start-refused': 'was refused a start of',
  'recording.stop-refused': 'was refused a stop of',
  'record-mode.update': 'changed the record mode of',
  'custom-field.create': 'added',
  'custom-field.update': 'changed',
  'custom-field.delete': 'deleted',
  'fields.update': 'changed the custom fields of',
  'evaluation-form.create': 'created',
  'evaluation-form.delete': 'deleted',
  'evaluation.add': 'evaluated',
  'evaluation.delete': 'deleted an evaluation of',
};

const NOUNS: Record<string, string> = {
  recording: 'recording',
  user: 'user',
  group: 'group',
  token: 'API token',
  key: 'the encryption keys',
  setting: 'setting',
  'custom-field': 'the custom field',
  'evaluation-form': 'the evaluation form',
};

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));

/** Who did it: the user (and how), or the server itself. */
function actorOf(e: AuditEntry): string {
  if (e.actor === 'system' || e.actorRole === 'system') return 'The server';
  if (e.actor === 'admin-token') return 'The server admin token';
  return e.actor || 'Someone';
}

/** What it was done to: `here` names the recording the log belongs to ("this recording"). */
function targetOf(e: AuditEntry, here?: string): string {
  const d = e.details ?? {};
  if (e.resource === 'session' || e.resource === 'delivery' || e.action === 'admin-token.rotate') return '';
  if (e.resource === 'key') return NOUNS.key as string;
  if (e.resource === 'custom-field') return `${NOUNS['custom-field']} ${e.resourceId}`;
  if (e.resource === 'evaluation-form')
    return `${NOUNS['evaluation-form']} ${d.name ? shown(d.name) : e.resourceId.slice(0, 8)}`;
  if (e.resource === 'setting')
    return Object.entries(d)
      .filter(([k]) => k !== 'userAgent')
      .map(([k, v]) => {
        const c = v as { from?: unknown; to?: unknown };
        return `${k} from ${str(c.from)} to ${str(c.to)}`;
      })
      .join(', ');
  if (e.resource === 'recording') {
    const ids = Array.isArray(d.ids) ? (d.ids as string[]) : [];
    if (e.action === 'export' && ids.length !== 1)
      return `${ids.length} recordings${here && ids.includes(here) ? ', this one among them,' : ''}`;
    if (here && (e.resourceId === here || ids.includes(here))) return 'this recording';
    return `recording ${e.resourceId.slice(0, 8)}`;
  }
  const name = str(d.username ?? d.name ?? '') || e.resourceId.slice(0, 8);
  return `${NOUNS[e.resource] ?? e.resource} ${name}`.trim();
}

const asRecord = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
/** A value in a sentence, quoted: a list as "a", "b", nothing as (none). */
const shown = (v: unknown): string =>
  v === undefined || v === null || v === ''
    ? '(none)'
    : Array.isArray(v)
      ? v.map(shown).join(', ')
      : JSON.stringify(typeof v === 'string' ? v : str(v));

/** What changed between two objects ({ before, after }): 'label from "Order" to "Order #", …'. */
function changes(
  d: Record<string, unknown>,
  render: (k: string, from: unknown, to: unknown) => string,
): string {
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

/** A custom field's definition, its change, its values removed, or a recording's values changed. */
function customFieldExtra(e: AuditEntry, d: Record<string, unknown>): string {
  if (e.action === 'custom-field.create') {
    const opts = Array.isArray(d.options) && d.options.length ? `: ${shown(d.options)}` : '';
    return ` (${shown(d.label)}, ${str(d.type)}${opts})`;
  }
  if (e.action === 'custom-field.update') {
    const c = changes(d, (k, from, to) => `${k} from ${shown(from)} to ${shown(to)}`);
    return c ? `: ${c}` : '';
  }
  if (e.action === 'custom-field.delete' && typeof d.values === 'number')
    return ` and its ${d.values} recording value${d.values === 1 ? '' : 's'}`;
  const c = changes(d, (k, from, to) =>
    to === undefined || to === null || to === ''
      ? `${k} cleared (was ${shown(from)})`
      : from === undefined || from === null || from === ''
        ? `${k} set to ${shown(to)}`
        : `${k} from ${shown(from)} to ${shown(to)}`,
  );
  return c ? `: ${c}` : ' (no change)';
}

/** An evaluation: its form's size, or who was evaluated (on which form, by whom) and the score. */
function evaluationExtra(e: AuditEntry, d: Record<string, unknown>): string {
  if (e.action === 'evaluation-form.create' && typeof d.questions === 'number')
    return ` (${d.questions} question${d.questions === 1 ? '' : 's'}, ${str(d.maxPoints)} points)`;
  if (e.action === 'evaluation.add' && d.agent)
    return ` (agent ${str(d.agent)}${d.form ? `, ${shown(d.form)}` : ''}: ${str(d.score)} %)`;
  if (e.action === 'evaluation.delete' && d.agent)
    return ` (agent ${str(d.agent)}${d.evaluator ? `, by ${str(d.evaluator)}` : ''}: ${str(d.score)} %)`;
  return '';
}

/** Extras worth a word: the audio format, the day and place in the chain, a failure's reason. */
function extraOf(e: AuditEntry): string {
  const d = e.details ?? {};
  if (e.action.startsWith('custom-field.') || e.action === 'fields.update') return customFieldExtra(e, d);
  if (e.action.startsWith('evaluation')) return evaluationExtra(e, d);
  if (e.action === 'recording.chained')
    return ` in the tamper-evident recording chain${d.day ? ` (day ${str(d.day)}, entry ${str(d.seq)})` : ''}`;
  if (e.action === 'retention.purge') return ' (its retention period was over)';
  if (e.action === 'delivery' && d.purpose) return ` (${str(d.purpose)})`;
  if (e.action === 'listen.stop' && typeof d.durationMs === 'number')
    return ` after ${(d.durationMs / 1000).toFixed(1)} s (${str(d.reason ?? 'stopped')})`;
  if ((e.action === 'playback' || e.action === 'download' || e.action === 'export') && d.format)
    return ` (${str(d.format)}${d.audio ? `, ${str(d.audio)}` : ''}${d.range ? `, range ${str(d.range)}` : ''})`;
  if (e.action === 'login-failed' && d.reason) return ` (${str(d.reason)})`;
  if (e.action.startsWith('recording.') && d.channel)
    return ` (${str(d.channel)}${d.reason ? `: ${str(d.reason)}` : ''})`;
  if (e.action === 'user.update' && Array.isArray(d.fields)) return `: ${(d.fields as string[]).join(', ')}`;
  return '';
}

/** One sentence for an audit entry; `here` is the recording whose access log it is in. */
export function auditSentence(e: AuditEntry, here?: string): string {
  const verb = VERBS[e.action] ?? e.action.replace(/[.-]/g, ' ');
  const target = targetOf(e, here);
  const via = e.via === 'api-token' ? ' with an API token' : '';
  const from = e.ip ? ` from ${e.ip}` : '';
  return `${actorOf(e)} ${verb}${target ? ` ${target}` : ''}${extraOf(e)}${via}${from}`;
}
