import { fmtNumber, t, tp } from './i18n.js';

/**
 * The Live page's capacity line: how much of the post-call backlog bound is in use (from /healthz,
 * every 5 s). At 100 % the server answers new calls 503 until the backlog drains.
 */
interface PipelineHealth {
  backlogJobs: number;
  backlogAudioMinutes: number;
  backlogSeconds: number;
  maxBacklogSeconds: number;
  inUse: number;
  admitting: boolean;
  concurrency: number;
}

export function capacityLine(): { el: HTMLElement; stop: () => void } {
  const el = document.createElement('p');
  el.id = 'capacity';
  el.className = 'muted';
  el.textContent = t('Capacity: …');
  const show = async (): Promise<void> => {
    try {
      const r = await fetch('/healthz');
      const j = (await r.json()) as { details?: { activeCalls?: number; pipeline?: PipelineHealth } };
      const p = j.details?.pipeline;
      if (!p) return;
      // English says "1 live calls" and "1 recordings" (the wording tests and scripts read): both forms alike.
      const params = {
        calls: tp(j.details?.activeCalls ?? 0, '{n} live calls', '{n} live calls'),
        minutes: fmtNumber(p.backlogAudioMinutes, {
          minimumFractionDigits: 1,
          maximumFractionDigits: 1,
          useGrouping: false,
        }),
        seconds: Math.round(p.backlogSeconds),
        concurrency: p.concurrency,
        admission: p.admitting ? t('taking new calls.') : t('refusing new calls (503) until it drains.'),
      };
      el.textContent =
        p.maxBacklogSeconds > 0
          ? tp(
              p.backlogJobs,
              'Capacity: {pct} % in use — {calls}; post-call backlog {n} recordings ({minutes} audio-minutes, about {seconds} s to process of {max} s allowed), {concurrency} at once; {admission}',
              'Capacity: {pct} % in use — {calls}; post-call backlog {n} recordings ({minutes} audio-minutes, about {seconds} s to process of {max} s allowed), {concurrency} at once; {admission}',
              { ...params, pct: Math.round(100 * p.inUse), max: p.maxBacklogSeconds },
            )
          : tp(
              p.backlogJobs,
              'Capacity: backlog unbounded — {calls}; post-call backlog {n} recordings ({minutes} audio-minutes, about {seconds} s to process), {concurrency} at once; {admission}',
              'Capacity: backlog unbounded — {calls}; post-call backlog {n} recordings ({minutes} audio-minutes, about {seconds} s to process), {concurrency} at once; {admission}',
              params,
            );
      el.className = p.admitting ? 'muted' : 'error';
    } catch {
      // the next poll tries again
    }
  };
  void show();
  const timer = setInterval(() => void show(), 5000);
  return { el, stop: () => clearInterval(timer) };
}
