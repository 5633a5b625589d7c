import { api, session } from '../api.js';
import { fmtDur, fmtTime, grid, h, parties, type Participant } from '../dom.js';
import { ulawToFloat } from '../ulaw.js';
import { capacityLine } from '../capacity.js';
import { fmtNumber, t } from '../i18n.js';
import { nextAttempt } from './reconnect.js';

/** Live calls from the monitor WebSocket, and listen-in: u-law through Web Audio, a meter per party. */

interface LiveCall {
  recordingId: string;
  callId: string;
  startedAt: string;
  paused?: boolean;
  /** Recording control: mode, what is kept now, what the call's users / admins may do. */
  control?: { mode: string; state: string; segment: number; allowed: string[]; adminAllowed: string[] };
  participants: Participant[];
  streams: { label: string | null }[];
  media?: { legId: string; packetsLost: number; lossPercent: number }[];
}

/** A server code in words (`words` in the current language), the code itself when unknown. */
const say = (code: string, words: Record<string, string>): string => words[code] ?? code;
/** A control action as a button shows it (Pause), and as a message names it (pause); codes stay as sent. */
const actionLabel = (a: string): string =>
  say(a, { pause: t('Pause'), resume: t('Resume'), start: t('Start'), stop: t('Stop') });
const actionWord = (a: string): string =>
  say(a, { pause: t('pause'), resume: t('resume'), start: t('start'), stop: t('stop') });
/** A control state and a record mode in words. */
const stateWord = (s: string): string =>
  say(s, {
    recording: t('recording'),
    paused: t('paused'),
    stopped: t('stopped'),
    'not-started': t('not-started'),
    'not-recorded': t('not-recorded'),
  });
const modeWord = (m: string): string =>
  say(m, {
    always: t('always'),
    'always-pause': t('always-pause'),
    'on-demand': t('on-demand'),
    never: t('never'),
  });

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
const fresh = (recordingId: string | null): ListenStats => ({
  recordingId,
  frames: 0,
  samples: 0,
  peak: 0,
  latencyMs: 0,
});
window.srsListen = fresh(null);

/** Plays the listen-in frames: both parties share one clock, a frame plays at base + offset. */
class Listener {
  readonly ctx = new AudioContext();
  #base = 0;
  readonly levels: number[] = [];

  constructor() {
    void this.ctx.resume();
  }

  frame(buf: ArrayBuffer): void {
    const v = new DataView(buf);
    const ch = v.getUint8(1);
    const offset = v.getUint32(4, true);
    const pcm = ulawToFloat(new Uint8Array(buf, 12));
    const s = window.srsListen;
    s.frames++;
    s.samples += pcm.length;
    s.latencyMs = v.getUint32(8, true);
    let energy = 0;
    for (const x of pcm) {
      energy += x * x;
      s.peak = Math.max(s.peak, Math.abs(x));
    }
    this.levels[ch] = Math.max(this.levels[ch] ?? 0, energy / Math.max(1, pcm.length));
    // Start 250 ms behind to absorb jitter.
    const at = offset / 8000;
    if (this.#base === 0 || this.#base + at < this.ctx.currentTime)
      this.#base = this.ctx.currentTime + 0.25 - at;
    const ab = this.ctx.createBuffer(1, pcm.length, 8000);
    ab.copyToChannel(pcm, 0);
    const src = this.ctx.createBufferSource();
    src.buffer = ab;
    src.connect(this.ctx.destination);
    src.start(this.#base + at);
  }
}

export function liveView(app: HTMLElement): () => void {
  const rows = new Map<string, LiveCall>();
  const tbody = h('tbody');
  const empty = h('p', { class: 'muted', id: 'no-calls' }, t('No active calls you may see.'));
  const idle = () => h('span', { class: 'muted' }, t('Click Listen on a call.'));
  const player = h('div', { class: 'card', id: 'player' }, idle());
  let ws: WebSocket | null = null;
  let listener: Listener | null = null;
  let meters: HTMLDivElement[] = [];
  let closed = false;

  const render = (): void => {
    empty.hidden = rows.size > 0;
    tbody.replaceChildren(
      ...[...rows.values()].map((c) => {
        const worst = Math.max(0, ...(c.media ?? []).map((m) => m.lossPercent));
        return h(
          'tr',
          { 'data-id': c.recordingId, class: 'live-call' },
          h('td', {}, parties(c.participants) || c.callId),
          h('td', {}, fmtTime(c.startedAt)),
          h(
            'td',
            { class: 'duration', 'data-start': c.startedAt },
            fmtDur(Date.now() - Date.parse(c.startedAt)),
          ),
          h(
            'td',
            { class: 'control-state' },
            c.control
              ? t('{state} ({mode})', { state: stateWord(c.control.state), mode: modeWord(c.control.mode) })
              : stateWord(c.paused ? 'paused' : 'recording'),
          ),
          h('td', { class: 'controls' }, ...controls(c)),
          h(
            'td',
            { class: worst > 5 ? 'loss-bad' : '' },
            `${fmtNumber(worst, { minimumFractionDigits: 1, maximumFractionDigits: 1, useGrouping: false })} %`,
          ),
          h(
            'td',
            {},
            session.me?.can.listen
              ? h('button', { class: 'primary listen', onclick: () => listen(c) }, t('Listen'))
              : h('span', { class: 'muted' }, '–'),
          ),
        );
      }),
    );
  };
  // Only the actions this user may take now are shown (the server checks them again).
  const controlMsg = h('p', { class: 'muted', id: 'control-msg' });
  const controls = (c: LiveCall): HTMLButtonElement[] => {
    const actions = (session.me?.role === 'admin' ? c.control?.adminAllowed : c.control?.allowed) ?? [];
    return actions.map((a) =>
      h(
        'button',
        {
          class: `control control-${a}`,
          onclick: () => {
            controlMsg.textContent = `${actionWord(a)}…`;
            ws?.send(JSON.stringify({ type: a, recordingId: c.recordingId }));
          },
        },
        actionLabel(a),
      ),
    );
  };
  const ticker = setInterval(() => {
    for (const cell of tbody.querySelectorAll<HTMLElement>('td.duration'))
      cell.textContent = fmtDur(Date.now() - Date.parse(cell.dataset.start ?? ''));
    const levels = listener?.levels ?? [];
    meters.forEach((m, i) => {
      levels[i] = (levels[i] ?? 0) * 0.7;
      m.style.width = `${Math.min(100, Math.round(Math.sqrt(levels[i] ?? 0) * 140))}%`;
    });
  }, 100);

  const stopListening = (): void => {
    ws?.send(JSON.stringify({ type: 'unlisten' }));
    void listener?.ctx.close();
    listener = null;
    meters = [];
    window.srsListen.recordingId = null;
    player.replaceChildren(idle());
  };

  const listen = (c: LiveCall): void => {
    stopListening();
    listener = new Listener();
    window.srsListen = fresh(c.recordingId);
    ws?.send(JSON.stringify({ type: 'listen', recordingId: c.recordingId, channel: 'all' }));
    player.replaceChildren(
      h('strong', {}, t('Listening: {parties}', { parties: parties(c.participants) })),
      ' ',
      h('button', { onclick: stopListening, id: 'stop-listen' }, t('Stop')),
    );
  };

  const onListening = (legs: { channel: number; participant: string | null; label: string | null }[]) => {
    meters = [];
    for (const leg of legs) {
      const bar = h('div');
      meters[leg.channel] = bar;
      const name = leg.participant ?? t('stream {name}', { name: leg.label ?? leg.channel });
      player.append(h('div', { class: 'party' }, h('span', {}, name), h('div', { class: 'meter' }, bar)));
    }
  };

  // Why the monitor is not connected, shown above the calls (empty while connected).
  const status = h('p', { class: 'muted', id: 'live-status', role: 'status' });
  let retries = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;
  /**
   * After the socket closed: the next attempt, backed off (reconnect.ts), with the reason shown;
   * none after an authentication close (sign in again: a new login opens this view anew).
   */
  const reconnect = (code: number, opened: boolean): void => {
    if (closed) return;
    // Refused or revoked: if the session itself has ended, the API's 401 brings the sign-in form.
    if (!opened || code === 4401 || code === 4403) void api('/me').catch(() => undefined);
    const next = nextAttempt(code, retries);
    if (next === null) {
      status.textContent = t(
        'Your session has ended or your access changed: sign in again to see live calls.',
      );
      return;
    }
    retries++;
    const seconds = Math.max(1, Math.round(next.delayMs / 1000));
    status.textContent =
      next.reason === 'too-many-sockets'
        ? t('Too many open monitor windows for your account: close some. Reconnecting in {seconds} s.', {
            seconds,
          })
        : next.reason === 'policy'
          ? t('Too many requests from this window. Reconnecting in {seconds} s.', { seconds })
          : t('Connection to the server lost. Reconnecting in {seconds} s.', { seconds });
    retry = setTimeout(connect, next.delayMs);
  };

  const connect = (): void => {
    retry = undefined;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/monitor`);
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (e: MessageEvent) => {
      if (e.data instanceof ArrayBuffer) return listener?.frame(e.data);
      const m = JSON.parse(String(e.data)) as {
        type: string;
        calls?: LiveCall[];
        call?: LiveCall;
        legs?: Parameters<typeof onListening>[0];
        action?: string;
        error?: string;
        recordingId?: string;
        reason?: string;
        result?: { state: string };
      };
      if (m.type === 'control') {
        controlMsg.textContent = t('{action}: the call is {state}', {
          action: actionWord(m.action ?? ''),
          state: stateWord(m.result?.state ?? ''),
        });
        return;
      }
      if (m.type === 'error' && m.action) {
        controlMsg.textContent = t('{action} refused: {error}', {
          action: actionWord(m.action),
          error: m.error ?? '',
        });
        return;
      }
      if (m.type === 'error' && m.recordingId) {
        // A listen-in refused, here or by the node holding the call (which may refuse once it is
        // already under way): said, and the player stops rather than play silence.
        if (window.srsListen.recordingId === m.recordingId) stopListening();
        controlMsg.textContent = t('Listening refused: {error}', { error: m.error ?? '' });
        return;
      }
      if (m.type === 'unlistened' && m.reason) {
        // The server stopped the listen-in: this user may no longer listen to the call.
        stopListening();
        controlMsg.textContent = t('Listening stopped: you may no longer listen to this call');
        return;
      }
      if (m.type === 'snapshot') {
        // Connected for real (a socket over the cap is opened, then closed at once): backoff over.
        retries = 0;
        status.textContent = '';
        rows.clear();
        for (const c of m.calls ?? []) rows.set(c.recordingId, c);
        const heard = window.srsListen.recordingId;
        if (heard && !rows.has(heard)) stopListening();
      } else if ((m.type === 'call-start' || m.type === 'call-update') && m.call)
        rows.set(m.call.recordingId, m.call);
      else if (m.type === 'call-end' && m.call) {
        rows.delete(m.call.recordingId);
        if (window.srsListen.recordingId === m.call.recordingId) stopListening();
      } else if (m.type === 'listening') onListening(m.legs ?? []);
      else return;
      render();
    };
    let opened = false;
    ws.onopen = () => (opened = true);
    ws.onclose = (e: CloseEvent) => reconnect(e.code, opened);
  };
  connect();
  const headers = [t('Participants'), t('Started'), t('Duration'), t('State'), t('Recording'), t('Loss'), ''];
  const capacity = capacityLine();
  app.append(
    h('h2', {}, t('Live calls')),
    capacity.el,
    grid('live-calls', headers, tbody),
    status,
    empty,
    controlMsg,
    player,
  );
  render();
  return () => {
    capacity.stop();
    closed = true;
    clearTimeout(retry);
    clearInterval(ticker);
    void listener?.ctx.close();
    ws?.close();
  };
}
