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
  el.textContent = 'Capacity: …';
  const show = async (): Promise<void> => {
    try {
      const r = await fetch('/healthz');
      const j = (await r.json()) as { details?: { activeCalls?: number; pipeline?: PipelineHealth } };
      const p = j.details?.pipeline;
      if (!p) return;
      const pct = p.maxBacklogSeconds > 0 ? `${Math.round(100 * p.inUse)} % in use` : 'backlog unbounded';
      el.textContent =
        `Capacity: ${pct} — ${j.details?.activeCalls ?? 0} live calls; post-call backlog ${p.backlogJobs} ` +
        `recordings (${p.backlogAudioMinutes.toFixed(1)} audio-minutes, about ${Math.round(p.backlogSeconds)} s ` +
        `to process${p.maxBacklogSeconds > 0 ? ` of ${p.maxBacklogSeconds} s allowed` : ''}), ${p.concurrency} at once; ` +
        (p.admitting ? 'taking new calls.' : 'refusing new calls (503) until it drains.');
      el.className = p.admitting ? 'muted' : 'error';
    } catch {
      // the next poll tries again
    }
  };
  void show();
  const timer = setInterval(() => void show(), 5000);
  return { el, stop: () => clearInterval(timer) };
}
