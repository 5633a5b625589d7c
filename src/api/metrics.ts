/**
 * A minimal Prometheus registry (text exposition format 0.0.4): counters the parts increment, and
 * gauges read from the parts at scrape time. No package needed for this much.
 */

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  values: Map<string, { labels: Labels; value: number }>;
  collect?: () =>
    Promise<Array<{ labels?: Labels; value: number }>> | Array<{ labels?: Labels; value: number }>;
}

const labelKey = (l: Labels) =>
  Object.keys(l)
    .sort()
    .map((k) => `${k}=${l[k]}`)
    .join(',');

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

  /** A gauge or counter whose samples are read at scrape time. */
  collect(name: string, help: string, type: Family['type'], fn: NonNullable<Family['collect']>): void {
    const f = this.#family(name, help, type);
    f.collect = fn;
  }

  async render(): Promise<string> {
    const lines: string[] = [];
    for (const f of this.#families.values()) {
      lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      let samples: Array<{ labels?: Labels; value: number }> = [...f.values.values()];
      if (f.collect) {
        try {
          samples = await f.collect();
        } catch {
          samples = [];
        }
      }
      if (samples.length === 0 && !f.collect) samples = [{ value: 0 }];
      for (const s of samples) {
        const l = Object.entries(s.labels ?? {});
        const ls = l.length ? `{${l.map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}` : '';
        lines.push(`${f.name}${ls} ${Number.isFinite(s.value) ? s.value : 0}`);
      }
    }
    return lines.join('\n') + '\n';
  }
}
