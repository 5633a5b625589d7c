/**
 * A minimal Prometheus registry (text exposition format 0.0.4): counters the parts increment,
 * gauges read from the parts at scrape time, and histograms (`_bucket`, `_sum`, `_count`). No
 * package needed for this much.
 */

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: Map<string, { labels: Labels; value: number }>;
  collect?: () => Promise<Sample[]> | Sample[];
}

/** One sample line; `suffix` names a histogram's series (`_bucket`, `_sum`, `_count`). */
export interface Sample {
  labels?: Labels;
  value: number;
  suffix?: string;
}

const labelKey = (l: Labels) =>
  Object.keys(l)
    .sort()
    .map((k) => `${k}=${l[k]}`)
    .join(',');

/** How long a scrape waits for the collectors (each left out when later). */
const COLLECT_MS = 2000;

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export class Metrics {
  readonly #families = new Map<string, Family>();

  #family(name: string, help: string, type: Family['type']): Family {
    let f = this.#families.get(name);
    if (!f) {
      f = { name, help, type, values: new Map() };
      this.#families.set(name, f);
    }
    return f;
  }

  /** Declares a counter (so it shows as 0 before the first increment). */
  counter(name: string, help: string): (by?: number, labels?: Labels) => void {
    const f = this.#family(name, help, 'counter');
    return (by = 1, labels = {}) => {
      const k = labelKey(labels);
      const v = f.values.get(k);
      if (v) v.value += by;
      else f.values.set(k, { labels, value: by });
    };
  }

  /**
   * Declares a histogram: `observe(v)` counts `v` in every bucket whose upper bound (`le`) it does
   * not exceed; rendered as `<name>_bucket{le=...}` (cumulative, with `+Inf`), `<name>_sum` and
   * `<name>_count` under one `# TYPE <name> histogram`.
   */
  histogram(name: string, help: string, bounds: readonly number[]): (v: number) => void {
    const les = [...bounds].sort((a, b) => a - b);
    const counts = new Array<number>(les.length).fill(0);
    let count = 0;
    let sum = 0;
    this.collect(name, help, 'histogram', () => [
      ...les.map((le, i) => ({ suffix: '_bucket', labels: { le: String(le) }, value: counts[i] ?? 0 })),
      { suffix: '_bucket', labels: { le: '+Inf' }, value: count },
      { suffix: '_sum', value: sum },
      { suffix: '_count', value: count },
    ]);
    return (v) => {
      count++;
      sum += v;
      for (let i = 0; i < les.length; i++) if (v <= (les[i] as number)) counts[i] = (counts[i] ?? 0) + 1;
    };
  }

  /** A gauge or counter whose samples are read at scrape time. */
  collect(name: string, help: string, type: Family['type'], fn: NonNullable<Family['collect']>): void {
    const f = this.#family(name, help, type);
    f.collect = fn;
  }

  /**
   * The exposition. The collectors run side by side and get COLLECT_MS together: one that waits on
   * something not answering (a stalled database) is left out of this scrape, so that the others
   * (live calls, the edge's counters) still reach the scraper when they matter most.
   */
  async render(): Promise<string> {
    const families = [...this.#families.values()];
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Sample[]>((resolve) => {
      timer = setTimeout(() => resolve([]), COLLECT_MS);
    });
    const collected = await Promise.all(
      families.map((f) => {
        const collect = f.collect;
        if (!collect) return undefined;
        const samples = Promise.resolve()
          .then(collect)
          .catch((): Sample[] => []);
        return Promise.race([samples, late]);
      }),
    ).finally(() => clearTimeout(timer));
    const lines: string[] = [];
    for (const [i, f] of families.entries()) {
      lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      let samples: Sample[] = collected[i] ?? [...f.values.values()];
      if (samples.length === 0 && !f.collect) samples = [{ value: 0 }];
      for (const s of samples) {
        const l = Object.entries(s.labels ?? {});
        const ls = l.length ? `{${l.map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}` : '';
        lines.push(`${f.name}${s.suffix ?? ''}${ls} ${Number.isFinite(s.value) ? s.value : 0}`);
      }
    }
    return lines.join('\n') + '\n';
  }
}
