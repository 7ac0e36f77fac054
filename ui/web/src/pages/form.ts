// The search form that the search, aggregate and compare pages share: service, operation, a query in weft's
// query language with autocompletion of attribute keys and values, duration bounds and a time range. Its state
// lives in the URL's query string (optionally under a prefix such as "a." and "b." on the compare page).

import { h, clear, parseDur } from '../dom';
import { services, operations, optional, type SearchParams } from '../api';

export interface SearchState {
  service: string;
  operation: string;
  q: string;
  minDuration: string;
  maxDuration: string;
  lookback: string; // 15m, 1h, ... or "custom"
  start: string; // datetime-local text when lookback is custom
  end: string;
  limit: string;
}

const fields: (keyof SearchState)[] = ['service', 'operation', 'q', 'minDuration', 'maxDuration', 'lookback', 'start', 'end', 'limit'];

export const lookbacks: [string, string][] = [
  ['5m', 'Last 5 minutes'], ['15m', 'Last 15 minutes'], ['1h', 'Last hour'], ['3h', 'Last 3 hours'], ['6h', 'Last 6 hours'],
  ['12h', 'Last 12 hours'], ['24h', 'Last 24 hours'], ['2d', 'Last 2 days'], ['7d', 'Last 7 days'], ['custom', 'Custom range'],
];

/** readState reads a search from the URL, under prefix. */
export function readState(p: URLSearchParams, prefix = '', defaults: Partial<SearchState> = {}): SearchState {
  const st = { service: '', operation: '', q: '', minDuration: '', maxDuration: '', lookback: '1h', start: '', end: '', limit: '20', ...defaults };
  for (const f of fields) {
    const v = p.get(prefix + f);
    if (v !== null) st[f] = v;
  }
  return st;
}

/** writeState writes a search into URL parameters, leaving out empty values and defaults. */
export function writeState(p: URLSearchParams, st: SearchState, prefix = ''): void {
  for (const f of fields) {
    const v = st[f];
    if (v && !(f === 'lookback' && v === '1h') && !((f === 'start' || f === 'end') && st.lookback !== 'custom')) p.set(prefix + f, v);
    else p.delete(prefix + f);
  }
}

function lookbackUS(lb: string): number {
  const m = /^(\d+)([mhd])$/.exec(lb);
  if (!m) return 3600e6;
  return Number(m[1]) * { m: 60e6, h: 3600e6, d: 86400e6 }[m[2] as 'm' | 'h' | 'd'];
}

/** timeRange gives the search's [start, end] in Unix microseconds. */
export function timeRange(st: SearchState): [number, number] {
  if (st.lookback === 'custom') {
    const s = st.start ? new Date(st.start).getTime() * 1000 : Date.now() * 1000 - 3600e6;
    const e = st.end ? new Date(st.end).getTime() * 1000 : Date.now() * 1000;
    return [s, e];
  }
  const end = Date.now() * 1000;
  return [end - lookbackUS(st.lookback), end];
}

/** weftParams are the analysis and search API's parameters for a search (docs/analysis.md). */
export function weftParams(st: SearchState, prefix = ''): URLSearchParams {
  const p = new URLSearchParams();
  const [start, end] = timeRange(st);
  const set = (k: string, v: string) => v && p.set(prefix + k, v);
  set('service', st.service);
  set('operation', st.operation);
  set('q', st.q.trim());
  set('minDuration', st.minDuration);
  set('maxDuration', st.maxDuration);
  set('start', String(Math.floor(start)));
  set('end', String(Math.floor(end)));
  set('limit', st.limit);
  return p;
}

/** weftSearchParams are the parameters of weft's search API, with times in RFC 3339, which it reads whatever
 * unit it takes integers in. */
export function weftSearchParams(st: SearchState): URLSearchParams {
  const p = weftParams(st);
  for (const k of ['start', 'end']) {
    const v = p.get(k);
    if (v) p.set(k, new Date(Number(v) / 1000).toISOString());
  }
  return p;
}

/**
 * jaegerParams turns a search into the Jaeger API's terms. The Jaeger API knows only "key=value" conditions
 * joined by AND; a richer query needs weft's search API, and this says so.
 */
export function jaegerParams(st: SearchState, limit?: number): SearchParams {
  const [start, end] = timeRange(st);
  const tags: Record<string, string> = {};
  const q = st.q.trim();
  if (q) {
    for (const part of q.split(/\s+(?:AND|and|&&)\s+|\s*&&\s*/)) {
      const m = /^\s*([^\s=!<>~]+)\s*==?\s*("(?:[^"\\]|\\.)*"|\S+)\s*$/.exec(part);
      if (!m) throw new Error(`"${part}": without weft's search API only conditions like key = "value" joined by AND work`);
      const key = m[1].replace(/^(span|resource)\./, '');
      tags[key] = m[2].startsWith('"') ? JSON.parse(m[2]) : m[2];
    }
  }
  return {
    service: st.service, operation: st.operation, tags, minDuration: st.minDuration, maxDuration: st.maxDuration,
    start, end, limit: limit ?? (Number(st.limit) || 20),
  };
}

/** validate names the first problem with a search, or returns "". */
export function validate(st: SearchState): string {
  for (const [k, v] of [['min duration', st.minDuration], ['max duration', st.maxDuration]]) {
    if (v && isNaN(parseDur(v))) return `${k} "${v}" is not a duration like 150ms or 2s`;
  }
  return '';
}

// --- autocompletion ---

interface KeysAnswer { keys?: string[]; intrinsics?: string[] }
interface ValuesAnswer { values?: string[] }

const intrinsics = ['service', 'name', 'duration', 'status', 'kind'];
let keysPromise: Promise<string[]> | null = null;

/** localKeys collects attribute keys and values from traces already loaded, for servers without the key API. */
export const localAttrs = new Map<string, Set<string>>();

export function noteTraceAttrs(traces: { spans: { tags?: { key: string; value: unknown }[] }[]; processes: Record<string, { tags?: { key: string; value: unknown }[] }> }[]): void {
  const add = (k: string, v: unknown) => {
    if (k.startsWith('weft.')) return;
    let s = localAttrs.get(k);
    if (!s) localAttrs.set(k, (s = new Set()));
    if (s.size < 200) s.add(String(v));
  };
  for (const t of traces.slice(0, 50)) {
    for (const sp of t.spans.slice(0, 300)) for (const tg of sp.tags || []) add(tg.key, tg.value);
    for (const p of Object.values(t.processes)) for (const tg of p.tags || []) add(tg.key, tg.value);
  }
}

async function attrKeys(): Promise<string[]> {
  if (!keysPromise) {
    keysPromise = optional<KeysAnswer>('/api/weft/v1/attributes/keys')
      .then((r) => [...(r?.intrinsics || []), ...(r?.keys || [])])
      .catch(() => []);
  }
  const server = await keysPromise;
  return [...new Set([...intrinsics, ...server, ...localAttrs.keys()])].sort();
}

async function attrValues(key: string, prefix: string): Promise<string[]> {
  if (key === 'status') return ['unset', 'ok', 'error'];
  if (key === 'kind') return ['server', 'client', 'producer', 'consumer', 'internal'];
  const bare = key.replace(/^(span|resource)\./, '');
  if (key === 'service') return (await services()).filter((v) => v.startsWith(prefix));
  const r = await optional<ValuesAnswer>(
    `/api/weft/v1/attributes/values?key=${encodeURIComponent(key)}&prefix=${encodeURIComponent(prefix)}&limit=50`,
  ).catch(() => null);
  const server = r?.values || [];
  return [...new Set([...server, ...(localAttrs.get(bare) || [])])].filter((v) => v.startsWith(prefix)).sort().slice(0, 50);
}

/** queryInput is the query box with autocompletion: keys where a key is typed, values after an operator. */
export function queryInput(value: string, onEnter: () => void): HTMLInputElement {
  const input = h('input', {
    value, placeholder: 'http.status_code >= 500 AND deploy.version = "v2"', spellcheck: 'false', autocomplete: 'off', class: 'q-input',
    title: 'One span must satisfy the whole condition. Examples:\n  status = error AND http.route = "/pair"\n  duration > 150ms AND NOT kind = client\n  db.statement =~ "(?i)^insert"\n  exists(peer.service) OR resource.host.name =~ "^web-"\nAND, OR, NOT, ( ), = != < <= > >= =~ !~; Tab completes keys and values.',
  });
  const list = h('div', { class: 'ac-list', style: { display: 'none' } });
  let items: { text: string; insert: string; kind: string }[] = [];
  let on = -1;
  let tokenStart = 0;
  let seq = 0;
  const close = () => {
    list.style.display = 'none';
    items = [];
    on = -1;
  };
  const show = () => {
    clear(list);
    if (!items.length) return close();
    items.forEach((it, k) => {
      list.appendChild(h('div', {
        class: 'ac-item' + (k === on ? ' on' : ''),
        onmousedown: (e: Event) => {
          e.preventDefault();
          pick(k);
        },
      }, h('span', null, it.text), h('span', { class: 'kind' }, it.kind)));
    });
    list.style.display = '';
  };
  const pick = (k: number) => {
    const it = items[k];
    if (!it) return;
    const v = input.value;
    const caret = input.selectionStart ?? v.length;
    input.value = v.slice(0, tokenStart) + it.insert + v.slice(caret);
    const pos = tokenStart + it.insert.length;
    input.setSelectionRange(pos, pos);
    close();
    update();
  };
  const update = async () => {
    const my = ++seq;
    const v = input.value;
    const caret = input.selectionStart ?? v.length;
    const before = v.slice(0, caret);
    // After "key op " (possibly with an opening quote): complete a value.
    const val = /([A-Za-z_.][\w.\-/]*)\s*(=|==|!=)\s*("?)([^"\s]*)$/.exec(before);
    if (val) {
      const [, key, , quote, prefix] = val;
      tokenStart = caret - prefix.length - quote.length;
      const vals = await attrValues(key, prefix);
      if (my !== seq) return;
      const intrinsic = key === 'status' || key === 'kind';
      items = vals.slice(0, 30).map((x) => ({ text: x, insert: intrinsic || /^-?\d+(\.\d+)?$/.test(x) ? x : JSON.stringify(x), kind: 'value' }));
      on = items.length ? 0 : -1;
      return show();
    }
    const key = /(^|[\s(!])([A-Za-z_.][\w.\-/]*)$/.exec(before);
    if (key && !/^(AND|OR|NOT|and|or|not)$/.test(key[2])) {
      const prefix = key[2];
      tokenStart = caret - prefix.length;
      const keys = await attrKeys();
      if (my !== seq) return;
      items = keys.filter((k) => k.startsWith(prefix) && k !== prefix).slice(0, 30).map((k) => ({ text: k, insert: k + ' ', kind: intrinsics.includes(k) ? 'intrinsic' : 'attribute' }));
      on = items.length ? 0 : -1;
      return show();
    }
    close();
  };
  input.addEventListener('input', () => void update());
  input.addEventListener('focus', () => void update());
  input.addEventListener('blur', () => setTimeout(close, 100));
  input.addEventListener('keydown', (e) => {
    if (items.length && list.style.display !== 'none') {
      if (e.key === 'ArrowDown') { on = (on + 1) % items.length; show(); e.preventDefault(); return; }
      if (e.key === 'ArrowUp') { on = (on - 1 + items.length) % items.length; show(); e.preventDefault(); return; }
      if ((e.key === 'Tab' || e.key === 'Enter') && on >= 0) { pick(on); e.preventDefault(); return; }
      if (e.key === 'Escape') { close(); return; }
    }
    if (e.key === 'Enter') {
      close();
      onEnter();
    }
  });
  const wrap = h('div', { class: 'ac' }, input, list);
  (input as HTMLInputElement & { wrap: HTMLElement }).wrap = wrap;
  return input;
}

/** searchForm draws the form; onSubmit gets the new state. */
export function searchForm(st: SearchState, onSubmit: (st: SearchState) => void, opts: { limits?: string[]; title?: string; button?: string; compact?: boolean } = {}): HTMLElement {
  const svc = h('select', { 'aria-label': 'Service' }, h('option', { value: '' }, 'Any service'));
  const op = h('select', { 'aria-label': 'Operation' }, h('option', { value: '' }, 'All operations'));
  const submit = () => onSubmit(collect());
  const q = queryInput(st.q, submit);
  const minD = h('input', { value: st.minDuration, placeholder: 'e.g. 100ms', size: 8 });
  const maxD = h('input', { value: st.maxDuration, placeholder: 'e.g. 2s', size: 8 });
  const lb = h('select', null, ...lookbacks.map(([v, label]) => h('option', { value: v, selected: v === st.lookback }, label)));
  const start = h('input', { type: 'datetime-local', value: st.start, step: '1' });
  const end = h('input', { type: 'datetime-local', value: st.end, step: '1' });
  const custom = h('div', { class: 'field', style: { display: st.lookback === 'custom' ? '' : 'none' } }, h('label', null, 'From – to'), h('div', { style: { display: 'flex', gap: '4px' } }, start, end));
  lb.addEventListener('change', () => (custom.style.display = lb.value === 'custom' ? '' : 'none'));
  const limits = opts.limits || ['20', '50', '100', '200', '500'];
  const limit = h('select', null, ...limits.map((v) => h('option', { value: v, selected: v === st.limit }, v)));
  const collect = (): SearchState => ({
    service: svc.value, operation: op.value, q: q.value, minDuration: minD.value.trim(), maxDuration: maxD.value.trim(),
    lookback: lb.value, start: start.value, end: end.value, limit: limit.value,
  });
  const loadOps = async (service: string, selected: string) => {
    clear(op);
    op.appendChild(h('option', { value: '' }, 'All operations'));
    if (!service) return;
    try {
      for (const o of await operations(service)) op.appendChild(h('option', { value: o, selected: o === selected }, o));
    } catch {
      // the list stays at "All operations"
    }
  };
  services().then((list) => {
    for (const s of list) svc.appendChild(h('option', { value: s, selected: s === st.service }, s));
    if (st.service && !list.includes(st.service)) svc.appendChild(h('option', { value: st.service, selected: true }, st.service));
  }).catch(() => {});
  loadOps(st.service, st.operation);
  svc.addEventListener('change', () => loadOps(svc.value, ''));
  const form = h('form', { class: 'form', onsubmit: (e: Event) => { e.preventDefault(); submit(); } },
    opts.title ? h('div', { class: 'field', style: { alignSelf: 'center', minWidth: '20px' } }, h('b', null, opts.title)) : null,
    h('div', { class: 'field' }, h('label', null, 'Service'), svc),
    h('div', { class: 'field' }, h('label', null, 'Operation'), op),
    h('div', { class: 'field grow query' }, h('label', null, 'Query'), (q as HTMLInputElement & { wrap: HTMLElement }).wrap),
    h('div', { class: 'field' }, h('label', null, 'Min duration'), minD),
    h('div', { class: 'field' }, h('label', null, 'Max duration'), maxD),
    h('div', { class: 'field' }, h('label', null, 'Time'), lb),
    custom,
    h('div', { class: 'field' }, h('label', null, 'Limit'), limit),
    opts.button === '' ? null : h('button', { class: 'btn primary', type: 'submit' }, opts.button || 'Search'),
  );
  (form as HTMLFormElement & { collect: () => SearchState }).collect = collect;
  return form;
}
