/**
 * The web console: log in, live calls with listen-in (u-law decoded through Web Audio, a level
 * meter per party), recordings search / detail / playback / notes / categories / exports, the audit
 * trail, and for admins users and groups, API tokens, settings, keys and delivery status.
 * Plain DOM, no framework; bundled by esbuild (scripts/build-web.ts).
 */
import { ulawToFloat } from './ulaw.js';
import { capacityLine } from './capacity.js';

interface Me {
  username: string;
  role: string;
  can: { download: boolean; delete: boolean; listen: boolean; audit: boolean; admin: boolean };
}
interface Participant {
  aor: string | null;
  name: string | null;
  sendsLabels?: string[];
  sends?: string[];
}
interface LiveCall {
  recordingId: string;
  callId: string;
  startedAt: string;
  paused?: boolean;
  participants: Participant[];
  streams: { label: string | null }[];
  media?: { legId: string; packetsLost: number; lossPercent: number }[];
}

/** What the listen-in has received, for the user (meters) and for tests. */
interface ListenStats {
  recordingId: string | null;
  frames: number;
  samples: number;
  peak: number;
  latencyMs: number;
}
declare global {
  interface Window {
    srsListen: ListenStats;
  }
}
window.srsListen = { recordingId: null, frames: 0, samples: 0, peak: 0, latencyMs: 0 };

type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'class') el.className = String(v);
    else if (k in el && k !== 'list') (el as unknown as Record<string, unknown>)[k] = v;
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const app = document.getElementById('app') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const whoami = document.getElementById('whoami') as HTMLElement;
let me: Me | null = null;
let leaveView: (() => void) | null = null;

async function api<T = Record<string, unknown>>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`/api/v1${path}`, {
    ...init,
    headers: init.body ? { 'content-type': 'application/json', ...init.headers } : init.headers,
    credentials: 'same-origin',
  });
  const body = (await res.json().catch(() => ({}))) as T & { error?: string };
  if (res.status === 401 && path !== '/login') {
    me = null;
    showLogin();
  }
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

const fmtDur = (ms: number | null) => {
  if (ms === null || ms === undefined) return '–';
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};
const fmtTime = (iso: string) => new Date(iso).toLocaleString();
const who = (p: Participant) => (p.name ? `${p.name} <${p.aor ?? ''}>` : (p.aor ?? '?'));

function setView(v: () => void | (() => void)): void {
  leaveView?.();
  leaveView = null;
  app.replaceChildren();
  const leave = v();
  if (typeof leave === 'function') leaveView = leave;
}

// --- login -------------------------------------------------------------------------------------
function showLogin(message = ''): void {
  nav.replaceChildren();
  whoami.textContent = '';
  const user = h('input', { id: 'username', placeholder: 'username', autocomplete: 'username' });
  const pass = h('input', {
    id: 'password',
    type: 'password',
    placeholder: 'password',
    autocomplete: 'current-password',
  });
  const err = h('div', { class: 'error', id: 'login-error' }, message);
  const form = h(
    'form',
    {
      class: 'login card',
      onsubmit: (e: Event) => {
        e.preventDefault();
        api('/login', {
          method: 'POST',
          body: JSON.stringify({ username: user.value, password: pass.value }),
        })
          .then(() => start())
          .catch((x: Error) => (err.textContent = x.message));
      },
    },
    h('h2', {}, 'Sign in'),
    user,
    pass,
    h('button', { class: 'primary', type: 'submit', id: 'login' }, 'Sign in'),
    err,
  );
  setView(() => void app.append(form));
}

// --- live calls and listen-in ------------------------------------------------------------------
function liveView(): () => void {
  const rows = new Map<string, LiveCall>();
  const tbody = h('tbody');
  const empty = h('p', { class: 'muted', id: 'no-calls' }, 'No active calls you may see.');
  const player = h(
    'div',
    { class: 'card', id: 'player' },
    h('span', { class: 'muted' }, 'Click Listen on a call.'),
  );
  let ws: WebSocket | null = null;
  let ctx: AudioContext | null = null;
  let base = 0;
  let meters: HTMLDivElement[] = [];
  const levels: number[] = [];
  let closed = false;

  const render = (): void => {
    tbody.replaceChildren();
    empty.hidden = rows.size > 0;
    for (const c of rows.values()) {
      const loss = (c.media ?? []).map((m) => m.lossPercent);
      const worst = loss.length ? Math.max(...loss) : 0;
      tbody.append(
        h(
          'tr',
          { 'data-id': c.recordingId, class: 'live-call' },
          h('td', {}, c.participants.map(who).join(' ↔ ') || c.callId),
          h('td', {}, fmtTime(c.startedAt)),
          h(
            'td',
            { class: 'duration', 'data-start': c.startedAt },
            fmtDur(Date.now() - Date.parse(c.startedAt)),
          ),
          h('td', {}, c.paused ? 'paused' : 'recording'),
          h('td', { class: worst > 5 ? 'loss-bad' : '' }, `${worst.toFixed(1)} %`),
          h(
            'td',
            {},
            me?.can.listen
              ? h('button', { class: 'primary listen', onclick: () => listen(c) }, 'Listen')
              : h('span', { class: 'muted' }, '–'),
          ),
        ),
      );
    }
  };
  const ticker = setInterval(() => {
    for (const td of tbody.querySelectorAll<HTMLElement>('td.duration'))
      td.textContent = fmtDur(Date.now() - Date.parse(td.dataset.start ?? ''));
    for (let i = 0; i < meters.length; i++) {
      levels[i] = (levels[i] ?? 0) * 0.7;
      const m = meters[i];
      if (m) m.style.width = `${Math.min(100, Math.round(Math.sqrt(levels[i] ?? 0) * 140))}%`;
    }
  }, 100);

  const stopListening = (): void => {
    ws?.send(JSON.stringify({ type: 'unlisten' }));
    void ctx?.close();
    ctx = null;
    meters = [];
    window.srsListen.recordingId = null;
    player.replaceChildren(h('span', { class: 'muted' }, 'Click Listen on a call.'));
  };

  const listen = (c: LiveCall): void => {
    stopListening();
    ctx = new AudioContext();
    void ctx.resume();
    base = 0;
    window.srsListen = { recordingId: c.recordingId, frames: 0, samples: 0, peak: 0, latencyMs: 0 };
    ws?.send(JSON.stringify({ type: 'listen', recordingId: c.recordingId, channel: 'all' }));
    player.replaceChildren(
      h('strong', {}, `Listening: ${c.participants.map(who).join(' ↔ ')}`),
      ' ',
      h('button', { onclick: stopListening, id: 'stop-listen' }, 'Stop'),
    );
  };

  const onListening = (m: {
    legs: { channel: number; participant: string | null; label: string | null }[];
  }): void => {
    meters = [];
    for (const leg of m.legs) {
      const bar = h('div');
      meters[leg.channel] = bar;
      player.append(
        h(
          'div',
          { class: 'party' },
          h('span', {}, leg.participant ?? `stream ${leg.label ?? leg.channel}`),
          h('div', { class: 'meter' }, bar),
        ),
      );
    }
  };

  const onAudio = (buf: ArrayBuffer): void => {
    if (!ctx) return;
    const v = new DataView(buf);
    const ch = v.getUint8(1);
    const offset = v.getUint32(4, true);
    const latency = v.getUint32(8, true);
    const pcm = ulawToFloat(new Uint8Array(buf, 12));
    const s = window.srsListen;
    s.frames++;
    s.samples += pcm.length;
    s.latencyMs = latency;
    let energy = 0;
    for (const x of pcm) {
      energy += x * x;
      s.peak = Math.max(s.peak, Math.abs(x));
    }
    levels[ch] = Math.max(levels[ch] ?? 0, energy / Math.max(1, pcm.length));
    // Both parties share one clock: a frame plays at base + offset. Start 250 ms behind to absorb jitter.
    const at = offset / 8000;
    if (base === 0 || base + at < ctx.currentTime) base = ctx.currentTime + 0.25 - at;
    const ab = ctx.createBuffer(1, pcm.length, 8000);
    ab.copyToChannel(pcm, 0);
    const src = ctx.createBufferSource();
    src.buffer = ab;
    src.connect(ctx.destination);
    src.start(base + at);
  };

  const connect = (): void => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/monitor`);
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (e: MessageEvent) => {
      if (e.data instanceof ArrayBuffer) return onAudio(e.data);
      const m = JSON.parse(String(e.data)) as { type: string; calls?: LiveCall[]; call?: LiveCall };
      if (m.type === 'snapshot') {
        rows.clear();
        for (const c of m.calls ?? []) rows.set(c.recordingId, c);
      } else if ((m.type === 'call-start' || m.type === 'call-update') && m.call)
        rows.set(m.call.recordingId, m.call);
      else if (m.type === 'call-end' && m.call) {
        rows.delete(m.call.recordingId);
        if (window.srsListen.recordingId === m.call.recordingId) stopListening();
      } else if (m.type === 'listening') onListening(m as unknown as Parameters<typeof onListening>[0]);
      else return;
      render();
    };
    ws.onclose = () => {
      if (!closed) setTimeout(connect, 1000);
    };
  };
  connect();
  const capacity = capacityLine();
  app.append(
    h('h2', {}, 'Live calls'),
    capacity.el,
    h(
      'table',
      { id: 'live-calls' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Participants', 'Started', 'Duration', 'State', 'Loss', ''].map((t) => h('th', {}, t)),
        ),
      ),
      tbody,
    ),
    empty,
    player,
  );
  render();
  return () => {
    capacity.stop();
    closed = true;
    clearInterval(ticker);
    void ctx?.close();
    ws?.close();
  };
}

// --- recordings --------------------------------------------------------------------------------
interface Summary {
  id: string;
  callId: string;
  startedAt: string;
  durationMs: number | null;
  state: string;
  participants: Participant[];
  categories: string[];
  preserved: boolean;
}

function recordingsView(): void {
  const f = {
    from: h('input', { type: 'date', id: 'f-from' }),
    to: h('input', { type: 'date', id: 'f-to' }),
    participant: h('input', { id: 'f-participant', placeholder: 'number or name' }),
    callId: h('input', { id: 'f-callid', placeholder: 'Call-ID' }),
    state: h(
      'select',
      { id: 'f-state' },
      ...['', 'stored', 'processing', 'recording', 'failed'].map((s) =>
        h('option', { value: s }, s || 'any'),
      ),
    ),
    category: h('input', { id: 'f-category', placeholder: 'category' }),
  };
  const tbody = h('tbody');
  const status = h('span', { class: 'muted', id: 'rec-count' });
  let offset = 0;
  const limit = 25;
  // Exports (when downloads are allowed): the search results as CSV, the selected recordings' audio as tar.
  const selected = new Set<string>();
  const exportCsv = h('a', { id: 'export-csv', class: 'button', download: '' }, 'Export CSV');
  const exportAudio = h('a', { id: 'export-audio', class: 'button', download: '' }, 'Export audio');
  const filterQuery = (): URLSearchParams => {
    const q = new URLSearchParams();
    if (f.from.value) q.set('from', new Date(f.from.value).toISOString());
    if (f.to.value) q.set('to', new Date(Date.parse(f.to.value) + 86400_000).toISOString());
    for (const k of ['participant', 'callId', 'state', 'category'] as const)
      if (f[k].value) q.set(k, f[k].value);
    return q;
  };
  const updateExports = (): void => {
    const csv = filterQuery();
    csv.set('format', 'csv');
    exportCsv.href = `/api/v1/recordings/export?${csv}`;
    const tar = new URLSearchParams({ format: 'tar', audio: 'mp3' });
    if (selected.size) tar.set('ids', [...selected].join(','));
    else for (const [k, v] of filterQuery()) tar.set(k, v);
    exportAudio.href = `/api/v1/recordings/export?${tar}`;
    exportAudio.textContent = selected.size
      ? `Export audio (${selected.size} selected)`
      : 'Export audio (all results)';
  };
  const search = async (): Promise<void> => {
    const q = filterQuery();
    q.set('limit', String(limit));
    q.set('offset', String(offset));
    updateExports();
    try {
      const r = await api<{ total: number; items: Summary[] }>(`/recordings?${q}`);
      tbody.replaceChildren(
        ...r.items.map((x) =>
          h(
            'tr',
            {
              class: 'clickable recording-row',
              'data-id': x.id,
              onclick: () => setView(() => detailView(x.id)),
            },
            h(
              'td',
              { onclick: (e: Event) => e.stopPropagation() },
              h('input', {
                type: 'checkbox',
                class: 'select-recording',
                checked: selected.has(x.id),
                onchange: (e: Event) => {
                  if ((e.target as HTMLInputElement).checked) selected.add(x.id);
                  else selected.delete(x.id);
                  updateExports();
                },
              }),
            ),
            h('td', {}, fmtTime(x.startedAt)),
            h('td', {}, fmtDur(x.durationMs)),
            h('td', {}, x.participants.map(who).join(' ↔ ')),
            h('td', {}, x.callId),
            h('td', {}, x.state, x.preserved ? ' · preserved' : ''),
            h('td', {}, ...x.categories.map((c) => h('span', { class: 'tag' }, c))),
          ),
        ),
      );
      status.textContent = `${r.total === 0 ? 0 : offset + 1}–${offset + r.items.length} of ${r.total}`;
    } catch (e) {
      status.textContent = (e as Error).message;
    }
  };
  app.append(
    h('h2', {}, 'Recordings'),
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (e: Event) => {
          e.preventDefault();
          offset = 0;
          void search();
        },
      },
      ...Object.entries({
        From: f.from,
        To: f.to,
        Participant: f.participant,
        'Call-ID': f.callId,
        State: f.state,
        Category: f.category,
      }).map(([label, el]) => h('label', {}, label, el)),
      h('button', { class: 'primary', type: 'submit', id: 'search' }, 'Search'),
    ),
    h(
      'table',
      { id: 'recordings' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['', 'Started', 'Duration', 'Participants', 'Call-ID', 'State', 'Categories'].map((t) =>
            h('th', {}, t),
          ),
        ),
      ),
      tbody,
    ),
    h(
      'p',
      {},
      h('button', { onclick: () => ((offset = Math.max(0, offset - limit)), void search()) }, '‹ Prev'),
      ' ',
      h('button', { onclick: () => ((offset += limit), void search()) }, 'Next ›'),
      ' ',
      status,
    ),
    me?.can.download
      ? h(
          'p',
          { class: 'exports' },
          exportCsv,
          ' ',
          exportAudio,
          ' ',
          h('span', { class: 'muted' }, 'Exports are written to the audit trail.'),
        )
      : '',
  );
  void search();
}

interface Detail {
  id: string;
  callId: string;
  sessionId: string | null;
  srcAddress: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  state: string;
  participants: Participant[];
  files: { kind: string; bytes: number }[];
  metadataXml: string | null;
  notes: { id: string; author: string; body: string; createdAt: string }[];
  categories: string[];
  preserved: { by: string } | null;
  events: { offsetMs: number; type: string; text: string; at: string }[];
  auditTrail: { at: string; actor: string; action: string; ip: string }[];
}

function detailView(id: string): void {
  const box = h('div', { id: 'detail' }, 'Loading…');
  app.append(h('p', {}, h('button', { onclick: () => setView(recordingsView) }, '‹ Recordings')), box);
  const load = async (): Promise<void> => {
    const d = await api<Detail>(`/recordings/${id}`);
    const total = Math.max(1, d.durationMs ?? 1);
    const timeline = h('div', { class: 'timeline', id: 'timeline' });
    for (const e of d.events) {
      const left = Math.max(0, Math.min(100, (100 * e.offsetMs) / total));
      const mark = h('div', { class: `ev ${e.type}`, title: `${fmtDur(e.offsetMs)} ${e.text}` });
      mark.style.left = `${left}%`;
      timeline.append(mark);
    }
    const canvas = h('canvas', { class: 'wave', id: 'waveform', width: 1000, height: 80 });
    const hasMp3 = d.files.some((f) => f.kind === 'mp3');
    const audio = h('audio', { controls: true, id: 'player-audio', preload: 'none' });
    if (d.files.length) audio.src = `/api/v1/recordings/${id}/audio?format=${hasMp3 ? 'mp3' : 'wav'}`;
    const noteText = h('textarea', { id: 'note-text', rows: 2, cols: 50, placeholder: 'Add a note' });
    const cats = h('input', { id: 'categories', value: d.categories.join(', '), size: 40 });
    const msg = h('span', { class: 'error' });
    const act = (p: Promise<unknown>) =>
      p.then(
        () => load(),
        (e: Error) => (msg.textContent = e.message),
      );
    box.replaceChildren(
      h(
        'div',
        { class: 'card' },
        h('h2', {}, d.participants.map(who).join(' ↔ ')),
        h(
          'div',
          { class: 'grid2' },
          h(
            'div',
            {},
            h('div', {}, `Started ${fmtTime(d.startedAt)} · ${fmtDur(d.durationMs)} · ${d.state}`),
            h(
              'div',
              { class: 'muted' },
              `Call-ID ${d.callId} · session ${d.sessionId ?? '–'} · from ${d.srcAddress}`,
            ),
            h(
              'ul',
              {},
              ...d.participants.map((p) =>
                h('li', {}, who(p), p.sends?.length ? ` (streams ${p.sends.join(', ')})` : ''),
              ),
            ),
          ),
          h(
            'div',
            {},
            d.preserved
              ? h(
                  'div',
                  {},
                  `Preserved by ${d.preserved.by} `,
                  h(
                    'button',
                    { onclick: () => act(api(`/recordings/${id}/preserve`, { method: 'DELETE' })) },
                    'Unpreserve',
                  ),
                )
              : h(
                  'button',
                  { onclick: () => act(api(`/recordings/${id}/preserve`, { method: 'PUT' })) },
                  'Preserve',
                ),
            ' ',
            me?.can.download && d.files.length
              ? h(
                  'a',
                  { href: `/api/v1/recordings/${id}/download?format=${hasMp3 ? 'mp3' : 'wav'}` },
                  'Download',
                )
              : '',
            ' ',
            me?.can.delete
              ? h(
                  'button',
                  {
                    class: 'danger',
                    onclick: () =>
                      confirm('Delete this recording for good?') &&
                      api(`/recordings/${id}`, { method: 'DELETE' }).then(
                        () => setView(recordingsView),
                        (e: Error) => (msg.textContent = e.message),
                      ),
                  },
                  'Delete',
                )
              : '',
            ' ',
            msg,
          ),
        ),
        h('h3', {}, 'Playback'),
        canvas,
        audio,
        h('h3', {}, 'Events'),
        timeline,
        h('ul', { id: 'events' }, ...d.events.map((e) => h('li', {}, `${fmtDur(e.offsetMs)} — ${e.text}`))),
      ),
      h(
        'div',
        { class: 'card' },
        h('h3', {}, 'Categories'),
        cats,
        ' ',
        h(
          'button',
          {
            id: 'save-categories',
            onclick: () =>
              act(
                api(`/recordings/${id}/categories`, {
                  method: 'PUT',
                  body: JSON.stringify({
                    categories: cats.value
                      .split(',')
                      .map((s) => s.trim())
                      .filter(Boolean),
                  }),
                }),
              ),
          },
          'Save',
        ),
        h('h3', {}, 'Notes'),
        h(
          'ul',
          { id: 'notes' },
          ...d.notes.map((n) =>
            h(
              'li',
              {},
              h('strong', {}, n.author),
              ` ${fmtTime(n.createdAt)}: ${n.body} `,
              h(
                'button',
                { onclick: () => act(api(`/recordings/${id}/notes/${n.id}`, { method: 'DELETE' })) },
                '×',
              ),
            ),
          ),
        ),
        noteText,
        ' ',
        h(
          'button',
          {
            id: 'add-note',
            onclick: () =>
              noteText.value.trim() &&
              act(
                api(`/recordings/${id}/notes`, {
                  method: 'POST',
                  body: JSON.stringify({ body: noteText.value }),
                }),
              ),
          },
          'Add note',
        ),
      ),
      d.metadataXml
        ? h('details', { class: 'card' }, h('summary', {}, 'SIPREC metadata'), h('pre', {}, d.metadataXml))
        : '',
      d.auditTrail.length
        ? h(
            'div',
            { class: 'card' },
            h('h3', {}, 'Access log'),
            h(
              'ul',
              {},
              ...d.auditTrail.map((a) => h('li', {}, `${fmtTime(a.at)} ${a.actor} ${a.action} from ${a.ip}`)),
            ),
          )
        : '',
    );
    if (d.files.some((f) => f.kind === 'wav')) {
      api<{ peaks: number[] }>(`/recordings/${id}/waveform?points=1000`).then(
        (w) => drawWave(canvas, w.peaks),
        () => undefined,
      );
    }
  };
  load().catch((e: Error) => box.replaceChildren(h('p', { class: 'error' }, e.message)));
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

// --- audit -------------------------------------------------------------------------------------
function auditView(): void {
  const actor = h('input', { id: 'a-actor', placeholder: 'user' });
  const action = h('input', { id: 'a-action', placeholder: 'action (playback, login…)' });
  const q = h('input', { id: 'a-q', placeholder: 'text in details' });
  const tbody = h('tbody');
  const verify = h('span', { id: 'verify-result' });
  const search = async (): Promise<void> => {
    const p = new URLSearchParams({ limit: '100' });
    if (actor.value) p.set('actor', actor.value);
    if (action.value) p.set('action', action.value);
    if (q.value) p.set('q', q.value);
    const r = await api<{
      items: {
        id: number;
        at: string;
        actor: string;
        actorRole: string;
        ip: string;
        action: string;
        resource: string;
        resourceId: string;
        details: unknown;
      }[];
    }>(`/audit?${p}`);
    tbody.replaceChildren(
      ...r.items.map((e) =>
        h(
          'tr',
          { class: 'audit-row' },
          h('td', {}, String(e.id)),
          h('td', {}, fmtTime(e.at)),
          h('td', {}, `${e.actor} (${e.actorRole})`),
          h('td', {}, e.ip),
          h('td', {}, e.action),
          h('td', {}, `${e.resource} ${e.resourceId}`),
          h('td', {}, h('code', {}, JSON.stringify(e.details))),
        ),
      ),
    );
  };
  app.append(
    h('h2', {}, 'Audit trail'),
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (e: Event) => {
          e.preventDefault();
          void search();
        },
      },
      actor,
      action,
      q,
      h('button', { class: 'primary', type: 'submit', id: 'a-search' }, 'Search'),
      h(
        'button',
        {
          type: 'button',
          id: 'verify',
          onclick: () =>
            api<{ ok: boolean; rows: number; firstBadId: number | null }>('/audit/verify').then(
              (v) =>
                (verify.textContent = v.ok
                  ? `chain intact (${v.rows} entries)`
                  : `chain BROKEN at entry ${v.firstBadId}`),
            ),
        },
        'Verify chain',
      ),
      verify,
    ),
    h(
      'table',
      { id: 'audit' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['#', 'When', 'Who', 'From', 'Action', 'Resource', 'Details'].map((t) => h('th', {}, t)),
        ),
      ),
      tbody,
    ),
  );
  void search();
}

// --- administration ----------------------------------------------------------------------------
interface UserJson {
  id: string;
  username: string;
  displayName: string;
  role: string;
  group: string | null;
  extraGroups: string[];
  numbers: string[];
  disabled: boolean;
  createdAt: string;
}
const ROLE_NAMES = ['record-only', 'user', 'supervisor', 'admin'];
const list = (v: string): string[] =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

function grid(id: string, headers: string[], rows: HTMLTableRowElement[]): HTMLTableElement {
  return h(
    'table',
    { id },
    h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', {}, t)))),
    h('tbody', {}, ...rows),
  );
}
const td = (...c: (Node | string)[]) => h('td', {}, ...c);
/** A message line that shows the last action's outcome. */
function outcome(id: string): { el: HTMLElement; ok(m: string): void; fail(e: Error): void } {
  const el = h('div', { id, class: 'outcome' });
  return {
    el,
    ok: (m) => {
      el.className = 'outcome ok';
      el.textContent = m;
    },
    fail: (e) => {
      el.className = 'outcome error';
      el.textContent = e.message;
    },
  };
}

function usersView(): void {
  const box = h('div', {}, 'Loading…');
  const msg = outcome('users-msg');
  const roleSelect = (id: string, value = 'user') =>
    h('select', { id }, ...ROLE_NAMES.map((r) => h('option', { value: r, selected: r === value }, r)));
  const nu = {
    username: h('input', { id: 'nu-username', placeholder: 'username', autocomplete: 'off' }),
    displayName: h('input', { id: 'nu-name', placeholder: 'display name' }),
    password: h('input', {
      id: 'nu-password',
      type: 'password',
      placeholder: 'password (8+)',
      autocomplete: 'new-password',
    }),
    role: roleSelect('nu-role'),
    group: h('input', { id: 'nu-group', placeholder: 'group' }),
    extraGroups: h('input', { id: 'nu-extra', placeholder: 'more groups (a, b)' }),
    numbers: h('input', { id: 'nu-numbers', placeholder: 'numbers (1001, alice)' }),
  };
  const create = h(
    'form',
    {
      class: 'filters card',
      id: 'new-user',
      onsubmit: (e: Event) => {
        e.preventDefault();
        api<UserJson>('/users', {
          method: 'POST',
          body: JSON.stringify({
            username: nu.username.value.trim(),
            displayName: nu.displayName.value.trim() || undefined,
            password: nu.password.value || undefined,
            role: nu.role.value,
            group: nu.group.value.trim() || null,
            extraGroups: list(nu.extraGroups.value),
            numbers: list(nu.numbers.value),
          }),
        }).then(
          (u) => {
            msg.ok(`created ${u.username} (${u.role})`);
            for (const i of [nu.username, nu.displayName, nu.password, nu.group, nu.extraGroups, nu.numbers])
              i.value = '';
            void load();
          },
          (x: Error) => msg.fail(x),
        );
      },
    },
    h('strong', {}, 'New user'),
    ...Object.values(nu),
    h('button', { class: 'primary', type: 'submit', id: 'create-user' }, 'Create'),
  );
  const groupName = h('input', { id: 'ng-name', placeholder: 'group name' });
  const groupDesc = h('input', { id: 'ng-desc', placeholder: 'description' });
  const groupsBox = h('div', {});

  /** The edit form of one user, shown under the table. */
  const edit = (u: UserJson): void => {
    const f = {
      displayName: h('input', { id: 'eu-name', value: u.displayName }),
      role: roleSelect('eu-role', u.role),
      group: h('input', { id: 'eu-group', value: u.group ?? '' }),
      extraGroups: h('input', { id: 'eu-extra', value: u.extraGroups.join(', ') }),
      numbers: h('input', { id: 'eu-numbers', value: u.numbers.join(', ') }),
      disabled: h('input', { id: 'eu-disabled', type: 'checkbox', checked: u.disabled }),
      password: h('input', {
        id: 'eu-password',
        type: 'password',
        placeholder: 'new password (empty: keep)',
        autocomplete: 'new-password',
      }),
    };
    const save = (): void => {
      const body: Record<string, unknown> = {
        displayName: f.displayName.value.trim(),
        role: f.role.value,
        group: f.group.value.trim() || null,
        extraGroups: list(f.extraGroups.value),
        numbers: list(f.numbers.value),
        disabled: f.disabled.checked,
      };
      if (f.password.value) body.password = f.password.value;
      api<UserJson>(`/users/${u.id}`, { method: 'PATCH', body: JSON.stringify(body) }).then(
        (x) => {
          msg.ok(`saved ${x.username}${f.password.value ? ' (password reset)' : ''}`);
          void load();
        },
        (x: Error) => msg.fail(x),
      );
    };
    editBox.replaceChildren(
      h(
        'div',
        { class: 'card', id: 'edit-user' },
        h('h3', {}, `Edit ${u.username}`),
        h(
          'div',
          { class: 'filters' },
          ...Object.entries({
            'Display name': f.displayName,
            Role: f.role,
            Group: f.group,
            'More groups': f.extraGroups,
            Numbers: f.numbers,
            'Reset password': f.password,
          }).map(([label, el]) => h('label', {}, label, el)),
          h('label', {}, 'Disabled', f.disabled),
        ),
        h('button', { class: 'primary', id: 'save-user', onclick: save }, 'Save'),
        ' ',
        h(
          'button',
          {
            class: 'danger',
            id: 'delete-user',
            onclick: () =>
              confirm(`Delete user ${u.username}? Their recordings stay.`) &&
              api(`/users/${u.id}`, { method: 'DELETE' }).then(
                () => {
                  msg.ok(`deleted ${u.username}`);
                  editBox.replaceChildren();
                  void load();
                },
                (x: Error) => msg.fail(x),
              ),
          },
          'Delete user',
        ),
        ' ',
        h('button', { onclick: () => editBox.replaceChildren() }, 'Close'),
      ),
    );
  };
  const editBox = h('div', {});

  const load = async (): Promise<void> => {
    const [users, groups] = await Promise.all([
      api<{ items: UserJson[] }>('/users'),
      api<{ items: { name: string; description: string; members: number }[] }>('/groups'),
    ]);
    box.replaceChildren(
      grid(
        'users',
        ['User', 'Name', 'Role', 'Group', 'More groups', 'Numbers', 'State', ''],
        users.items.map((u) =>
          h(
            'tr',
            { class: 'user-row', 'data-username': u.username },
            td(u.username),
            td(u.displayName),
            td(u.role),
            td(u.group ?? '–'),
            td(u.extraGroups.join(', ')),
            td(u.numbers.join(', ')),
            td(u.disabled ? 'disabled' : 'active'),
            td(h('button', { class: 'edit-user', onclick: () => edit(u) }, 'Edit')),
          ),
        ),
      ),
    );
    groupsBox.replaceChildren(
      grid(
        'groups',
        ['Group', 'Description', 'Members'],
        groups.items.map((g) => h('tr', {}, td(g.name), td(g.description), td(String(g.members)))),
      ),
    );
  };
  app.append(
    h('h2', {}, 'Users'),
    msg.el,
    create,
    box,
    editBox,
    h('h2', {}, 'Groups'),
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (e: Event) => {
          e.preventDefault();
          api('/groups', {
            method: 'POST',
            body: JSON.stringify({ name: groupName.value.trim(), description: groupDesc.value.trim() }),
          }).then(
            () => {
              msg.ok(`created group ${groupName.value.trim()}`);
              groupName.value = groupDesc.value = '';
              void load();
            },
            (x: Error) => msg.fail(x),
          );
        },
      },
      groupName,
      groupDesc,
      h('button', { type: 'submit', id: 'create-group' }, 'Create group'),
    ),
    groupsBox,
  );
  load().catch((e: Error) => msg.fail(e));
}

function tokensView(): void {
  const msg = outcome('tokens-msg');
  const box = h('div', {});
  const name = h('input', { id: 'token-name', placeholder: 'name (e.g. CRM integration)' });
  const shown = h('div', { id: 'new-token' });
  const load = async (): Promise<void> => {
    const r = await api<{
      items: {
        id: string;
        username: string;
        name: string;
        createdAt: string;
        lastUsedAt: string | null;
        revokedAt: string | null;
      }[];
    }>(me?.role === 'admin' ? '/tokens?all=true' : '/tokens');
    box.replaceChildren(
      grid(
        'tokens',
        ['Name', 'Owner', 'Created', 'Last used', 'State', ''],
        r.items.map((t) =>
          h(
            'tr',
            { class: 'token-row' },
            td(t.name),
            td(t.username),
            td(fmtTime(t.createdAt)),
            td(t.lastUsedAt ? fmtTime(t.lastUsedAt) : 'never'),
            td(t.revokedAt ? `revoked ${fmtTime(t.revokedAt)}` : 'active'),
            td(
              t.revokedAt
                ? ''
                : h(
                    'button',
                    {
                      class: 'danger',
                      onclick: () =>
                        api(`/tokens/${t.id}`, { method: 'DELETE' }).then(
                          () => (msg.ok(`revoked ${t.name}`), void load()),
                          (x: Error) => msg.fail(x),
                        ),
                    },
                    'Revoke',
                  ),
            ),
          ),
        ),
      ),
    );
  };
  app.append(
    h('h2', {}, 'API tokens'),
    h(
      'p',
      { class: 'muted' },
      'For integrations: send Authorization: Bearer <token>. A token acts with its owner’s role.',
    ),
    msg.el,
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (e: Event) => {
          e.preventDefault();
          api<{ token: string; name: string }>('/tokens', {
            method: 'POST',
            body: JSON.stringify({ name: name.value }),
          }).then(
            (t) => {
              shown.replaceChildren(
                h(
                  'div',
                  { class: 'card' },
                  `Token “${t.name}” (shown once, copy it now): `,
                  h('code', { id: 'token-value' }, t.token),
                ),
              );
              name.value = '';
              void load();
            },
            (x: Error) => msg.fail(x),
          );
        },
      },
      name,
      h('button', { class: 'primary', type: 'submit', id: 'create-token' }, 'Create token'),
    ),
    shown,
    box,
  );
  load().catch((e: Error) => msg.fail(e));
}

function settingsView(): void {
  const msg = outcome('settings-msg');
  const form = h('div', { class: 'card' }, 'Loading…');
  const labels: Record<string, string> = {
    'permissions.download': 'Who may download and export recordings',
    'permissions.delete': 'Who may delete recordings ("nobody" cannot be undone)',
  };
  const load = async (): Promise<void> => {
    const r = await api<{ settings: Record<string, string>; levels: string[] }>('/settings');
    const selects = Object.entries(r.settings).map(([k, v]) => {
      const sel = h(
        'select',
        { id: `setting-${k.replace('.', '-')}`, 'data-key': k },
        ...r.levels.map((l) =>
          h('option', { value: l, selected: l === v }, l === 'nobody' ? l : `${l} and above`),
        ),
      );
      return [k, sel] as const;
    });
    form.replaceChildren(
      ...selects.map(([k, sel]) => h('p', {}, h('label', {}, `${labels[k] ?? k}: `, sel))),
      h(
        'button',
        {
          class: 'primary',
          id: 'save-settings',
          onclick: () =>
            api<{ settings: Record<string, string> }>('/settings', {
              method: 'PUT',
              body: JSON.stringify(Object.fromEntries(selects.map(([k, sel]) => [k, sel.value]))),
            }).then(
              (x) =>
                msg.ok(
                  `saved: ${Object.entries(x.settings)
                    .map(([k, v]) => `${k} = ${v}`)
                    .join(', ')}`,
                ),
              (x: Error) => msg.fail(x),
            ),
        },
        'Save',
      ),
    );
  };
  app.append(
    h('h2', {}, 'Settings'),
    h('p', { class: 'muted' }, 'Every change is written to the audit trail.'),
    msg.el,
    form,
  );
  load().catch((e: Error) => msg.fail(e));
}

function keysView(): void {
  const msg = outcome('keys-msg');
  const box = h('div', {}, 'Loading…');
  app.append(
    h('h2', {}, 'Encryption keys'),
    h(
      'p',
      { class: 'muted' },
      'Recordings are encrypted with OpenPGP to the active key. Rotate and retire keys with `srs keys`.',
    ),
    msg.el,
    box,
  );
  api<{
    items: {
      fingerprint: string;
      algorithm: string;
      createdAt: string;
      active: boolean;
      retiredAt: string | null;
      files?: number;
    }[];
  }>('/keys').then(
    (r) =>
      box.replaceChildren(
        grid(
          'keys',
          ['Fingerprint', 'Algorithm', 'Created', 'State', 'Files'],
          r.items.map((k) =>
            h(
              'tr',
              { class: 'key-row' },
              td(h('code', {}, k.fingerprint)),
              td(k.algorithm),
              td(fmtTime(k.createdAt)),
              td(k.active ? 'active' : k.retiredAt ? `retired ${fmtTime(k.retiredAt)}` : 'inactive'),
              td(String(k.files ?? '')),
            ),
          ),
        ),
      ),
    (e: Error) => msg.fail(e),
  );
}

interface DeliveryJson {
  enabled: boolean;
  targets?: {
    name: string;
    ok: boolean;
    lastOkAt: string | null;
    lastError: string | null;
    lastErrorAt: string | null;
    failures?: number;
    nextAttemptAt?: string | null;
  }[];
  offload?: {
    queued: number;
    failed?: number;
    batches: {
      seq: number;
      csv: string;
      count: number;
      state: string;
      attempts: number;
      lastError: string | null;
      cutAt: string | null;
      finishedAt: string | null;
      nextAttemptAt: string | null;
    }[];
  };
  export?: {
    done: number;
    pending: number;
    failed: number;
    recentFailures: {
      recordingId: string;
      destination: string;
      lastError: string | null;
      attempts: number;
      nextAttemptAt?: string | null;
    }[];
  };
  notifications?: {
    sent: number;
    pending: number;
    failed: number;
    recentFailures?: {
      recordingId: string;
      email: string;
      state: string;
      attempts: number;
      lastError: string;
      nextAttemptAt: string | null;
    }[];
  };
}

function deliveryView(): () => void {
  const msg = outcome('delivery-msg');
  const box = h('div', { id: 'delivery-status' }, 'Loading…');
  const t = (iso: string | null | undefined) => (iso ? fmtTime(iso) : '–');
  const next = (iso: string | null | undefined) => (iso ? t(iso) : 'gave up (retry above)');
  const load = async (): Promise<void> => {
    const d = await api<DeliveryJson>('/delivery');
    const exp = d.export;
    const notes = d.notifications;
    box.dataset.enabled = String(d.enabled);
    box.replaceChildren(
      h(
        'p',
        { id: 'delivery-state' },
        d.enabled
          ? 'Delivery is on.'
          : 'Delivery is off on this server (no offload, export or notifications configured).',
      ),
      h('h3', {}, 'Destinations'),
      d.targets?.length
        ? grid(
            'delivery-targets',
            ['Destination', 'Health', 'Last success', 'Last error', 'Next try'],
            d.targets.map((x) =>
              h(
                'tr',
                { class: 'target-row' },
                td(x.name),
                h(
                  'td',
                  { class: x.ok ? 'ok' : 'loss-bad' },
                  x.ok ? 'ok' : `failing${x.failures ? ` (${x.failures}×)` : ''}`,
                ),
                td(t(x.lastOkAt)),
                td(x.lastError ? `${t(x.lastErrorAt)}: ${x.lastError}` : '–'),
                td(x.ok ? '–' : t(x.nextAttemptAt)),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No destination has been contacted yet.'),
      h(
        'h3',
        {},
        `SFTP offload batches (${d.offload?.queued ?? 0} queued, ${d.offload?.failed ?? 0} failed)`,
      ),
      d.offload?.batches.length
        ? grid(
            'delivery-batches',
            ['#', 'CSV', 'Recordings', 'State', 'Attempts', 'Cut', 'Finished / next try', 'Error'],
            d.offload.batches.map((b) =>
              h(
                'tr',
                { class: `batch-row ${b.state}` },
                td(String(b.seq)),
                td(b.csv),
                td(String(b.count)),
                td(b.state),
                td(String(b.attempts)),
                td(t(b.cutAt)),
                td(b.state === 'done' ? t(b.finishedAt) : next(b.nextAttemptAt)),
                h('td', { class: b.lastError ? 'error' : '' }, b.lastError ?? ''),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No offload batch yet.'),
      h('h3', {}, 'MP3 export'),
      h(
        'p',
        { id: 'delivery-export' },
        `${exp?.done ?? 0} exported · ${exp?.pending ?? 0} pending · ${exp?.failed ?? 0} failed`,
      ),
      exp?.recentFailures.length
        ? grid(
            'delivery-export-failures',
            ['Recording', 'Destination', 'Attempts', 'Error', 'Next try'],
            exp.recentFailures.map((x) =>
              h(
                'tr',
                {},
                td(x.recordingId),
                td(x.destination),
                td(String(x.attempts)),
                td(x.lastError ?? ''),
                td(next(x.nextAttemptAt)),
              ),
            ),
          )
        : '',
      h('h3', {}, 'Email notifications'),
      h(
        'p',
        { id: 'delivery-notifications' },
        `${notes?.sent ?? 0} sent · ${notes?.pending ?? 0} pending · ${notes?.failed ?? 0} failed`,
      ),
      notes?.recentFailures?.length
        ? grid(
            'delivery-notification-failures',
            ['Recording', 'To', 'State', 'Attempts', 'Error', 'Next try'],
            notes.recentFailures.map((x) =>
              h(
                'tr',
                {},
                td(x.recordingId),
                td(x.email),
                td(x.state),
                td(String(x.attempts)),
                td(x.lastError),
                td(next(x.nextAttemptAt)),
              ),
            ),
          )
        : '',
    );
  };
  const retry = h(
    'button',
    {
      id: 'delivery-retry',
      onclick: () =>
        api<{ retried: Record<string, number> | number }>('/delivery/retry', { method: 'POST' }).then(
          (r) => {
            msg.ok(
              typeof r.retried === 'object'
                ? `re-queued now: ${Object.entries(r.retried)
                    .map(([k, n]) => `${n} ${k}`)
                    .join(', ')}`
                : `re-queued now: ${String(r.retried)}`,
            );
            void load();
          },
          (e: Error) => msg.fail(e),
        ),
    },
    'Retry failed deliveries now',
  );
  app.append(h('h2', {}, 'Delivery'), h('p', {}, retry), msg.el, box);
  load().catch((e: Error) => msg.fail(e));
  const timer = setInterval(() => void load().catch(() => undefined), 5000);
  return () => clearInterval(timer);
}

// --- shell -------------------------------------------------------------------------------------
async function start(): Promise<void> {
  try {
    me = await api<Me>('/me');
  } catch {
    return showLogin();
  }
  whoami.replaceChildren(
    `${me.username} (${me.role}) `,
    h(
      'button',
      { id: 'logout', onclick: () => api('/logout', { method: 'POST' }).finally(() => showLogin()) },
      'Log out',
    ),
  );
  const tabs: [string, () => void | (() => void)][] = [['Live', liveView]];
  if (me.role !== 'record-only') tabs.push(['Recordings', recordingsView]);
  if (me.can.audit) tabs.push(['Audit', auditView]);
  if (me.role !== 'record-only') tabs.push(['Tokens', tokensView]);
  if (me.can.admin)
    tabs.push(
      ['Users', usersView],
      ['Settings', settingsView],
      ['Keys', keysView],
      ['Delivery', deliveryView],
    );
  const buttons = tabs.map(([name, view]) =>
    h(
      'button',
      {
        id: `tab-${name.toLowerCase()}`,
        onclick: () => {
          for (const b of buttons) b.classList.toggle('active', b.textContent === name);
          setView(view);
        },
      },
      name,
    ),
  );
  nav.replaceChildren(...buttons);
  buttons[0]?.click();
}

void start();
