/**
 * The process series a Prometheus scrape expects of any long-running server, under the names the
 * Prometheus client libraries use (`process_*`, `nodejs_*`), read at scrape time from Node and
 * /proc/self. Around the clock they are how a leak shows before it ends the process: resident
 * memory that grows with the calls served, file descriptors not given back (each call holds RTP
 * sockets and spool files; near `process_max_fds` new calls are refused), an event loop that lags.
 * The native media engine lives in this process: its memory and sockets are in these figures.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { maxFds, openFds } from '../descriptors.js';
import { unhandledRejections } from '../process-faults.js';
import type { Metrics, Sample } from './metrics.js';

const one = (value: number): Sample[] => [{ value }];
/** The event-loop figures are those of the last complete window of this length. */
export const LAG_WINDOW_MS = 10_000;
const LAG_RESOLUTION_MS = 10;

/**
 * Registers the process series; returns the function that stops the event-loop sampler (at
 * shutdown).
 */
export function registerProcessMetrics(m: Metrics, { lagWindowMs = LAG_WINDOW_MS } = {}): () => void {
  const startSeconds = Math.round(performance.timeOrigin / 1000);
  const cpu: [string, string, (u: NodeJS.CpuUsage) => number][] = [
    ['user', 'User CPU time', (u) => u.user],
    ['system', 'System CPU time', (u) => u.system],
    ['', 'User and system CPU time', (u) => u.user + u.system],
  ];
  for (const [kind, what, pick] of cpu)
    m.collect(
      `process_cpu_${kind ? `${kind}_` : ''}seconds_total`,
      `${what} of the server process, every thread (the media engine and the MP3 encodes included), in seconds.`,
      'counter',
      () => one(pick(process.cpuUsage()) / 1e6),
    );
  m.collect('process_start_time_seconds', 'When the process started, in Unix seconds.', 'gauge', () =>
    one(startSeconds),
  );
  m.collect(
    'process_resident_memory_bytes',
    'Resident memory of the server process (the JavaScript heap, the native engine and its buffers), in bytes.',
    'gauge',
    () => one(process.memoryUsage.rss()),
  );
  m.collect('process_open_fds', 'Open file descriptors (sockets and files).', 'gauge', async () => {
    const n = await openFds();
    return n === undefined ? [] : one(n);
  });
  m.collect(
    'process_max_fds',
    'The limit on open file descriptors (soft limit; absent when unlimited).',
    'gauge',
    async () => {
      const n = await maxFds();
      return n === undefined ? [] : one(n);
    },
  );
  m.collect(
    'srs_unhandled_rejections_total',
    'Promise rejections nobody handled: each failed one task, logged at error level; the server kept running.',
    'counter',
    () => one(unhandledRejections()),
  );
  const heap: [string, string, (u: NodeJS.MemoryUsage) => number][] = [
    ['heap_size_used', 'JavaScript heap in use', (u) => u.heapUsed],
    ['heap_size_total', 'JavaScript heap reserved', (u) => u.heapTotal],
    ['external_memory', 'Memory outside the JavaScript heap that it points to (Buffers)', (u) => u.external],
  ];
  for (const [name, what, pick] of heap)
    m.collect(`nodejs_${name}_bytes`, `${what}, in bytes.`, 'gauge', () => one(pick(process.memoryUsage())));

  // The event loop's delay, sampled by a libuv timer due every 10 ms that does not keep the process
  // up, summed up over windows of LAG_WINDOW_MS (10 s): every scrape reads the last complete window,
  // so two scrapers do not split the figures between them. The histogram holds each interval
  // between two runs of the timer: how late it ran is that less 10 ms.
  const delay = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  delay.enable();
  const late = (ns: number) => Math.max(0, ns / 1e9 - LAG_RESOLUTION_MS / 1000);
  let window = { max: 0, p99: 0, mean: 0 };
  const rotate = setInterval(() => {
    if (delay.count > 0)
      window = { max: late(delay.max), p99: late(delay.percentile(99)), mean: late(delay.mean) };
    delay.reset();
  }, lagWindowMs);
  rotate.unref();
  const lag = (name: string, what: string, pick: () => number) =>
    m.collect(
      name,
      `${what} of the event loop over the last ${lagWindowMs / 1000} s, in seconds (a timer due every 10 ms, how late it ran).`,
      'gauge',
      () => one(pick()),
    );
  lag('nodejs_eventloop_lag_max_seconds', 'Longest delay', () => window.max);
  lag('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile delay', () => window.p99);
  lag('nodejs_eventloop_lag_mean_seconds', 'Mean delay', () => window.mean);
  return () => {
    clearInterval(rotate);
    delay.disable();
  };
}
