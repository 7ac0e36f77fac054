// Small DOM helpers: the UI is plain TypeScript without a framework, so that the trace view can manage its own
// rows for 100,000 spans without a virtual DOM in the way.

export type Child = Node | string | number | null | undefined | false | Child[];
type Props = Record<string, unknown> | null | undefined;

function append(el: Node, c: Child): void {
  if (c === null || c === undefined || c === false) return;
  if (Array.isArray(c)) {
    for (const x of c) append(el, x);
  } else if (c instanceof Node) {
    el.appendChild(c);
  } else {
    el.appendChild(document.createTextNode(String(c)));
  }
}

function setProps(el: Element, props: Props): void {
  if (!props) return;
  for (const k in props) {
    const v = props[k];
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v as EventListener);
    } else if (k === 'class') {
      el.setAttribute('class', String(v));
    } else if (k === 'style' && typeof v === 'object') {
      Object.assign((el as HTMLElement).style, v);
    } else if (k === 'value' || k === 'checked' || k === 'selected') {
      (el as unknown as Record<string, unknown>)[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

/** h creates an HTML element with properties (attributes, on* listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

const SVGNS = 'http://www.w3.org/2000/svg';

/** s creates an SVG element. */
export function s(tag: string, props?: Props, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVGNS, tag) as SVGElement;
  setProps(el, props);
  append(el, children);
  return el;
}

/** clear removes every child of el. */
export function clear(el: Element): void {
  el.textContent = '';
}

/** fmtDur formats a duration in microseconds with three significant digits. */
export function fmtDur(us: number): string {
  if (!isFinite(us)) return '–';
  const a = Math.abs(us);
  const sign = us < 0 ? '-' : '';
  if (a < 1) return sign + (a * 1000).toFixed(0) + 'ns';
  if (a < 1000) return sign + sig(a) + 'µs';
  if (a < 1e6) return sign + sig(a / 1e3) + 'ms';
  if (a < 60e6) return sign + sig(a / 1e6) + 's';
  const m = Math.floor(a / 60e6);
  return sign + m + 'm' + Math.round((a - m * 60e6) / 1e6) + 's';
}

function sig(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** fmtTime formats a Unix time in microseconds as local date and time with milliseconds. */
export function fmtTime(us: number): string {
  const d = new Date(us / 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** fmtAgo says how long ago a Unix time in microseconds was. */
export function fmtAgo(us: number): string {
  const s = (Date.now() * 1000 - us) / 1e6;
  if (s < 60) return Math.max(0, Math.round(s)) + 's ago';
  if (s < 3600) return Math.round(s / 60) + 'm ago';
  if (s < 86400) return Math.round(s / 3600) + 'h ago';
  return Math.round(s / 86400) + 'd ago';
}

/** fmtPct formats a ratio as a percentage. */
export function fmtPct(r: number): string {
  if (!isFinite(r)) return '–';
  const p = r * 100;
  if (p === 0) return '0%';
  if (Math.abs(p) < 0.1) return (p < 0 ? '-' : '') + '<0.1%';
  return (Math.abs(p) < 10 ? p.toFixed(1) : p.toFixed(0)) + '%';
}

/** fmtNum formats a count compactly (1.2K, 3.4M). */
export function fmtNum(n: number): string {
  if (n < 1000) return String(Math.round(n * 100) / 100);
  if (n < 1e6) return (n / 1e3).toFixed(n < 1e4 ? 1 : 0) + 'K';
  return (n / 1e6).toFixed(1) + 'M';
}

/** count writes n with its noun, singular for one: count(1, 'trace') is "1 trace", count(2, 'trace') "2 traces".
 * fmt formats the number (default: with thousands separators); plural is the noun's plural when it is not noun+s. */
export function count(n: number, noun: string, fmt: (n: number) => string = (v) => v.toLocaleString('en-US'), plural = noun + 's'): string {
  return `${fmt(n)} ${n === 1 ? noun : plural}`;
}

/** fmtRate formats a rate per second. */
export function fmtRate(r: number): string {
  if (!isFinite(r) || r === 0) return '0/s';
  if (r < 0.01) return '<0.01/s';
  if (r < 10) return r.toFixed(2) + '/s';
  return fmtNum(r) + '/s';
}

/** parseDur reads "250ms", "1.5s", "20us", "3m" (Go duration syntax, one unit) into microseconds; NaN if bad. */
export function parseDur(text: string): number {
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(ns|us|µs|ms|s|m|h)?\s*$/.exec(text);
  if (!m) return NaN;
  const v = parseFloat(m[1]);
  const unit = m[2] || 'ms';
  const f: Record<string, number> = { ns: 1e-3, us: 1, 'µs': 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 };
  return v * f[unit];
}

const colorCache = new Map<string, string>();
// Distinct hues without red, which marks errors.
const palette = [
  '#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#d4a72c', '#9c755f', '#e377c2',
  '#2f8fbd', '#8cbf4d', '#7f6fd0', '#c9875d', '#3fa7a0', '#a3a04a', '#6b8ad6', '#b8657a',
];

let colorsDone: Promise<void> | null = null;

/** colorsReady resolves once the server's service list has set the colors (or after a short wait). */
export function colorsReady(): Promise<void> {
  if (!colorsDone) {
    colorsDone = Promise.race([
      fetch('/api/services').then((r) => r.json()).then((r: { data?: string[] }) => setServiceOrder(r.data || [])),
      new Promise<void>((r) => setTimeout(r, 1000)),
    ]).catch(() => {});
  }
  return colorsDone;
}

/** setServiceOrder gives the services of the server distinct colors, in sorted order, before any page draws. */
export function setServiceOrder(names: string[]): void {
  names.slice().sort().forEach((n, k) => colorCache.set(n, palette[k % palette.length]));
}

/** serviceColor gives each service a stable color. */
export function serviceColor(service: string): string {
  let c = colorCache.get(service);
  if (c) return c;
  let x = 2166136261;
  for (let i = 0; i < service.length; i++) {
    x ^= service.charCodeAt(i);
    x = Math.imul(x, 16777619);
  }
  c = palette[(x >>> 0) % palette.length];
  colorCache.set(service, c);
  return c;
}

/** quantile of a sorted array (linear interpolation). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** spinner is the loading placeholder. */
export function loading(text = 'Loading…'): HTMLElement {
  return h('div', { class: 'loading' }, h('span', { class: 'spin' }), text);
}

/** errorBox shows a failure in place of a page's content. */
export function errorBox(err: unknown): HTMLElement {
  const msg = err instanceof Error ? err.message : String(err);
  return h('div', { class: 'error-box' }, h('strong', null, 'Error: '), msg);
}

/** empty shows that a query found nothing, and what to try. */
export function empty(title: string, hint?: string): HTMLElement {
  return h('div', { class: 'empty' }, h('div', { class: 'empty-title' }, title), hint ? h('div', { class: 'muted' }, hint) : null);
}
