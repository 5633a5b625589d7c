import { api, send, session } from '../api.js';
import { auditSentence, type AuditEntry } from '../audit-text.js';
import type { recordingDetailJson } from '../../../src/api/resources/recording-detail.js';
import { fmtDur, fmtTime, h, list, outcome, parties, who, type Participant } from '../dom.js';
import { t, tp } from '../i18n.js';
import { navigate } from '../router.js';
import { describeValues, fieldsSection, loadCustomFields, type FieldValues } from './custom-fields.js';
import { evaluationsCard } from './evaluations.js';
import { eventText, type TimelineEventJson } from './recording-events.js';
import { integrityCard } from './recording-integrity.js';
import { listUrl, stateLabel } from './recordings.js';

/**
 * One recording (/recordings/<id>): playback with its waveform, the duration of the stored audio
 * (from the WAV's samples) beside the call's, events, custom fields (set by admins), categories,
 * notes, metadata and, for admins, its access log in sentences.
 */

/** GET /api/v1/recordings/<id>: the API's own shape (dates as ISO strings), with its annotations. */
type Detail = ReturnType<typeof recordingDetailJson> & {
  /** Pinned notes first (as the API orders them), then the others oldest first. */
  notes: {
    id: string;
    author: string;
    body: string;
    createdAt: string;
    pinned: { by: string; at: string } | null;
  }[];
  categories: string[];
  preserved: { by: string } | null;
  events: TimelineEventJson[];
  auditTrail: AuditEntry[];
  /** Its custom fields' values (only the fields set); absent from a server without them. */
  fields?: FieldValues;
  /** The interaction it is part of: its recordings the viewer may see, oldest first. */
  interaction?: {
    id: string;
    parts: { id: string; startedAt: string; durationMs: number | null; participants: Participant[] }[];
  } | null;
};

/**
 * A translated sentence with an element in it: `text` holds `{name}` where `node` goes (the other
 * placeholders already filled in).
 */
function withNode(text: string, name: string, node: Node): (string | Node)[] {
  const [before = '', ...after] = text.split(`{${name}}`);
  return [before, node, after.join(`{${name}}`)];
}

function drawWave(canvas: HTMLCanvasElement, peaks: number[]): void {
  const g = canvas.getContext('2d');
  if (!g) return;
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = '#1f6feb';
  const w = canvas.width / Math.max(1, peaks.length);
  const mid = canvas.height / 2;
  peaks.forEach((p, i) => {
    const y = Math.max(1, p * mid);
    g.fillRect(i * w, mid - y, Math.max(1, w - 0.5), 2 * y);
  });
  canvas.dataset.points = String(peaks.length);
}

function timeline(d: Detail): HTMLElement {
  const total = Math.max(1, d.durationMs ?? 1);
  const box = h('div', { class: 'timeline', id: 'timeline' });
  for (const e of d.events) {
    const mark = h('div', { class: `ev ${e.type}`, title: `${fmtDur(e.offsetMs)} ${e.text}` });
    mark.style.left = `${Math.max(0, Math.min(100, (100 * e.offsetMs) / total))}%`;
    box.append(mark);
  }
  return box;
}

/** The whole interaction as one file (its stored recordings joined, oldest first), and its download. */
function interactionPlayer(interactionId: string): HTMLElement {
  const base = `/api/v1/interactions/${encodeURIComponent(interactionId)}`;
  const audio = h('audio', { controls: true, id: 'interaction-audio', preload: 'none' });
  audio.src = `${base}/audio?format=mp3`;
  return h(
    'p',
    {},
    `${t('All parts as one file:')} `,
    audio,
    session.me?.can.download
      ? h(
          'a',
          { class: 'button', id: 'interaction-download', href: `${base}/download?format=mp3` },
          t('Download'),
        )
      : '',
  );
}

export function recordingView(app: HTMLElement, [rawId]: string[]): void {
  const id = decodeURIComponent(rawId ?? '');
  const box = h('div', { id: 'detail' }, t('Loading…'));
  app.append(
    h('p', {}, h('a', { class: 'button', href: listUrl(), id: 'back-to-list' }, t('‹ Recordings'))),
    box,
  );
  // Kept across reloads: a save reloads the details, then says what was saved.
  const fieldsMsg = outcome('fields-msg');
  const evaluations = evaluationsCard(id);
  const integrity = integrityCard(id);
  const load = async (): Promise<void> => {
    const [d, defs] = await Promise.all([
      api<Detail>(`/recordings/${encodeURIComponent(id)}`),
      loadCustomFields(),
    ]);
    const base = `/api/v1/recordings/${encodeURIComponent(id)}`;
    const format = d.files.some((f) => f.kind === 'mp3') ? 'mp3' : 'wav';
    const canvas = h('canvas', { class: 'wave', id: 'waveform', width: 1000, height: 80 });
    const audio = h('audio', { controls: true, id: 'player-audio', preload: 'none' });
    if (d.files.length) audio.src = `${base}/audio?format=${format}`;
    const audioLength = h('span', { id: 'audio-duration' }, d.files.length ? '…' : t('none yet'));
    const noteText = h('textarea', { id: 'note-text', rows: 2, cols: 50, placeholder: t('Add a note') });
    const cats = h('input', { id: 'categories', value: d.categories.join(', '), size: 40 });
    const msg = h('span', { class: 'error' });
    const act = (p: Promise<unknown>) =>
      p.then(
        () => load(),
        (e: Error) => (msg.textContent = e.message),
      );
    const path = `/recordings/${encodeURIComponent(id)}`;
    const button = (label: string, onclick: () => unknown, attrs: Record<string, string> = {}) =>
      h('button', { ...attrs, onclick }, label);
    const actions = [
      d.preserved
        ? h(
            'span',
            {},
            `${t('Preserved by {user}', { user: d.preserved.by })} `,
            button(t('Unpreserve'), () => act(send('DELETE', `${path}/preserve`))),
          )
        : button(t('Preserve'), () => act(send('PUT', `${path}/preserve`))),
      session.me?.can.download && d.files.length
        ? h(
            'a',
            { class: 'button', id: 'download', href: `${base}/download?format=${format}` },
            t('Download'),
          )
        : '',
      session.me?.can.delete
        ? button(
            t('Delete'),
            () =>
              confirm(t('Delete this recording for good?')) &&
              send('DELETE', path).then(
                () => navigate(listUrl()),
                (e: Error) => (msg.textContent = e.message),
              ),
            { class: 'danger' },
          )
        : '',
    ].flatMap((a) => (a ? [a, ' '] : []));
    const saveFields = (fields: Record<string, string | null>) =>
      send<{ fields: FieldValues }>('PUT', `${path}/fields`, { fields }).then(async (r) => {
        await load();
        fieldsMsg.ok(t('saved: {values}', { values: describeValues(defs, r.fields) }));
      });
    box.replaceChildren(
      h(
        'div',
        { class: 'card' },
        h('h2', {}, parties(d.participants)),
        h(
          'div',
          { class: 'grid2' },
          h(
            'div',
            {},
            h(
              'div',
              {},
              ...withNode(
                t('Started {time} · audio {audio} · call {call} · {state}', {
                  time: fmtTime(d.startedAt),
                  call: fmtDur(d.durationMs),
                  state: stateLabel(d.state),
                }),
                'audio',
                audioLength,
              ),
            ),
            h(
              'div',
              { class: 'muted' },
              t('Call-ID {callId} · session {session} · from {address}', {
                callId: d.callId,
                session: d.sessionId ?? '–',
                address: d.srcAddress,
              }),
            ),
            h(
              'ul',
              {},
              ...d.participants.map((p) =>
                h(
                  'li',
                  {},
                  who(p),
                  p.sends?.length ? ` ${t('(streams {streams})', { streams: p.sends.join(', ') })}` : '',
                ),
              ),
            ),
          ),
          h('div', { class: 'actions' }, ...actions, msg),
        ),
        h('h3', {}, t('Playback')),
        canvas,
        audio,
        h('h3', {}, t('Events')),
        timeline(d),
        h(
          'ul',
          { id: 'events' },
          ...d.events.map((e) => h('li', {}, `${fmtDur(e.offsetMs)} — ${eventText(e)}`)),
        ),
      ),
      d.interaction
        ? h(
            'div',
            { class: 'card', id: 'interaction' },
            h(
              'h3',
              {},
              tp(d.interaction.parts.length, 'Interaction: {n} recordings', 'Interaction: {n} recordings'),
            ),
            interactionPlayer(d.interaction.id),
            h(
              'ol',
              {},
              ...d.interaction.parts.map((p) =>
                h(
                  'li',
                  { class: 'interaction-part', 'data-id': p.id },
                  p.id === d.id
                    ? h('strong', {}, t('{time} (this recording)', { time: fmtTime(p.startedAt) }))
                    : h('a', { href: `/recordings/${encodeURIComponent(p.id)}` }, fmtTime(p.startedAt)),
                  ` ${fmtDur(p.durationMs)} — ${parties(p.participants)}`,
                ),
              ),
            ),
          )
        : '',
      fieldsSection(defs, d.fields ?? {}, {
        editable: session.me?.can.admin === true,
        msg: fieldsMsg,
        save: saveFields,
      }),
      evaluations,
      d.state === 'stored' ? integrity : '',
      h(
        'div',
        { class: 'card' },
        h('h3', {}, t('Categories')),
        cats,
        ' ',
        button(t('Save'), () => act(send('PUT', `${path}/categories`, { categories: list(cats.value) })), {
          id: 'save-categories',
        }),
        h('h3', {}, t('Notes')),
        h(
          'ul',
          { id: 'notes' },
          ...d.notes.map((n) =>
            h(
              'li',
              { class: n.pinned ? 'note pinned' : 'note', 'data-id': n.id },
              n.pinned
                ? h(
                    'span',
                    { class: 'tag pin', title: t('pinned by {user}', { user: n.pinned.by }) },
                    t('pinned'),
                  )
                : '',
              n.pinned ? ' ' : '',
              h('strong', {}, n.author),
              ` ${fmtTime(n.createdAt)}: ${n.body} `,
              n.pinned
                ? button(t('Unpin'), () => act(send('DELETE', `${path}/notes/${n.id}/pin`)), {
                    class: 'unpin',
                  })
                : button(t('Pin'), () => act(send('PUT', `${path}/notes/${n.id}/pin`)), {
                    class: 'pin-note',
                  }),
              ' ',
              button('×', () => act(send('DELETE', `${path}/notes/${n.id}`)), {
                title: t('Delete the note'),
              }),
            ),
          ),
        ),
        noteText,
        ' ',
        button(
          t('Add note'),
          () => noteText.value.trim() && act(send('POST', `${path}/notes`, { body: noteText.value })),
          { id: 'add-note' },
        ),
      ),
      d.metadataXml
        ? h('details', { class: 'card' }, h('summary', {}, t('SIPREC metadata')), h('pre', {}, d.metadataXml))
        : '',
      d.auditTrail.length
        ? h(
            'div',
            { class: 'card' },
            h('h3', {}, t('Access log')),
            h(
              'ul',
              { id: 'access-log' },
              ...d.auditTrail.map((a) =>
                h('li', { class: 'audit-line' }, `${fmtTime(a.at)} — ${auditSentence(a, d.id)}`),
              ),
            ),
          )
        : '',
    );
    if (d.files.some((f) => f.kind === 'wav')) {
      api<{ peaks: number[]; durationMs: number }>(
        `/recordings/${encodeURIComponent(id)}/waveform?points=1000`,
      ).then(
        (w) => {
          drawWave(canvas, w.peaks);
          audioLength.textContent = fmtDur(w.durationMs);
          audioLength.dataset.ms = String(w.durationMs);
        },
        () => (audioLength.textContent = '–'),
      );
    }
  };
  load().catch((e: Error) => box.replaceChildren(h('p', { class: 'error' }, e.message)));
}
