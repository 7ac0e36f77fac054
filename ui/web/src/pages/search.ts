// The search page (/search?…): the form, a scatter plot of duration over time (a click opens the trace) and the
// list of traces found, errors marked.

import { h, count, s, clear, fmtDur, fmtTime, fmtAgo, serviceColor, loading, errorBox, empty } from '../dom';
import { findTraces, optional, type JTrace } from '../api';
import { navigate, query, type Page } from '../router';
import { readState, writeState, searchForm, jaegerParams, weftSearchParams, validate, timeRange, noteTraceAttrs, type SearchState } from './form';
import { ticks } from '../canvasview';
import { summarize, type Summary } from '../analysis';

export const searchPage: Page = (root, _path, params) => {
  const st = readState(params);
  const results = h('div');
  root.appendChild(h('div', { class: 'card' }, searchForm(st, (next) => {
    const p = new URLSearchParams();
    writeState(p, next);
    p.set('run', '1');
    navigate('/search?' + p.toString());
  })));
  root.appendChild(results);
  const ctl = new AbortController();
  // Without parameters the page shows the latest traces (weft's search needs no service; against a Jaeger API it
  // asks for one).
  run(results, st, params.get('sort') || 'recent', ctl.signal);
  return () => ctl.abort();
};

/** WeftSearch is the answer of weft's search API (docs/api.md): times and durations in µs. */
interface WeftSearch {
  traces: { traceID: string; rootService: string; rootName: string; start: number; duration: number; spanCount: number; errorCount: number; services: { service: string; spans: number }[] }[];
  query?: string;
}

async function run(root: HTMLElement, st: SearchState, sort: string, signal: AbortSignal): Promise<void> {
  const problem = validate(st);
  if (problem) return void root.appendChild(errorBox(problem));
  root.appendChild(loading('Searching…'));
  let rows: Summary[];
  let canonical = '';
  const t0 = performance.now();
  try {
    // weft's search API takes the whole query language and answers summaries; a Jaeger server needs a service
    // and answers whole traces.
    const found = await optional<WeftSearch>('/api/weft/v1/search?' + weftSearchParams(st).toString(), signal);
    if (found) {
      rows = (found.traces || []).map((t) => ({
        traceID: t.traceID, rootService: t.rootService, rootName: t.rootName, start: t.start, duration: t.duration,
        spans: t.spanCount, errors: t.errorCount, services: (t.services || []).map((x): [string, number] => [x.service, x.spans]),
      }));
      canonical = found.query || '';
    } else {
      if (!st.service) {
        clear(root);
        root.appendChild(h('div', { class: 'card', style: { marginTop: '12px' } }, empty('Search for traces', 'Choose a service (the server\'s Jaeger query API searches within one), optionally an operation and a query such as http.status_code >= 500, then Search.')));
        return;
      }
      const traces: JTrace[] = await findTraces(jaegerParams(st), signal);
      noteTraceAttrs(traces);
      rows = traces.map(summarize);
    }
  } catch (e) {
    if (signal.aborted) return;
    clear(root);
    root.appendChild(errorBox(e));
    return;
  }
  const took = performance.now() - t0;
  clear(root);
  if (!rows.length) {
    root.appendChild(h('div', { class: 'card', style: { marginTop: '12px' } }, empty('No traces found', 'Widen the time range, remove conditions, or check the service name.')));
    return;
  }
  const sorters: Record<string, (a: Summary, b: Summary) => number> = {
    recent: (a, b) => b.start - a.start,
    longest: (a, b) => b.duration - a.duration,
    shortest: (a, b) => a.duration - b.duration,
    spans: (a, b) => b.spans - a.spans,
    errors: (a, b) => b.errors - a.errors || b.start - a.start,
  };
  const table = h('tbody');
  const maxDur = Math.max(...rows.map((r) => r.duration));
  const fillTable = (key: string) => {
    clear(table);
    for (const r of rows.slice().sort(sorters[key] || sorters.recent)) {
      table.appendChild(h('tr', { class: 'click result' + (r.errors ? ' error' : ''), 'data-trace': r.traceID, onclick: () => navigate('/trace/' + r.traceID) },
        h('td', null,
          h('div', { class: 'trace-title' }, h('span', { class: 'svc' }, r.rootService + ': '), r.rootName, r.errors ? h('span', { class: 'badge-err', style: { marginLeft: '6px' } }, `${r.errors} error${r.errors > 1 ? 's' : ''}`) : null),
          h('div', { class: 'mono faint' }, r.traceID)),
        h('td', null, ...r.services.map(([svc, n]) => h('span', { class: 'chip' }, h('span', { class: 'dot', style: { background: serviceColor(svc) } }), svc, h('span', { class: 'faint' }, String(n))))),
        h('td', { class: 'num' }, r.spans.toLocaleString()),
        h('td', { style: { width: '22%' } }, h('div', { style: { display: 'flex', alignItems: 'center', gap: '8px' } },
          h('div', { class: 'bar-cell' + (r.errors ? ' err' : ''), style: { flex: '1' } }, h('div', { style: { width: (r.duration / maxDur) * 100 + '%' } })),
          h('span', { class: 'num', style: { width: '64px' } }, fmtDur(r.duration)))),
        h('td', { class: 'num' }, h('div', null, fmtTime(r.start).slice(11)), h('div', { class: 'faint' }, fmtAgo(r.start))),
      ));
    }
  };
  const sortSel = h('select', { onchange: () => { fillTable(sortSel.value); const p = new URLSearchParams(location.search); p.set('sort', sortSel.value); history.replaceState(null, '', '/search?' + p); } },
    ...[['recent', 'Most recent'], ['longest', 'Longest first'], ['shortest', 'Shortest first'], ['spans', 'Most spans'], ['errors', 'Errors first']].map(([v, l]) => h('option', { value: v, selected: v === sort }, l)));
  fillTable(sort);
  const errs = rows.filter((r) => r.errors).length;
  const aggLink = '/aggregate?' + (() => { const p = new URLSearchParams(); writeState(p, { ...st, limit: '200' }); return p.toString(); })();
  root.append(
    h('div', { class: 'card', style: { marginTop: '12px' } },
      h('div', { class: 'card-head' }, 'Duration over time', h('span', { class: 'sub' }, `${count(rows.length, 'trace')}${errs ? `, ${errs} with errors` : ''} · ${Math.round(took)} ms`),
        canonical ? h('span', { class: 'sub mono', title: 'the query as the server understood it' }, canonical) : null,
        h('div', { class: 'spacer' }), h('a', { class: 'btn small', href: aggLink }, 'Aggregate these'),
        h('a', { class: 'btn small', href: '/compare' + query({ 'a.service': st.service, 'a.q': st.q, 'b.service': st.service }) }, 'Compare…')),
      h('div', { class: 'card-body' }, scatter(rows, timeRange(st))),
    ),
    h('div', { class: 'card' },
      h('div', { class: 'card-head' }, 'Traces', h('div', { class: 'spacer' }), h('span', { class: 'sub' }, 'Sort'), sortSel),
      h('table', { class: 'grid results' },
        h('thead', null, h('tr', null, h('th', null, 'Trace'), h('th', null, 'Services'), h('th', { class: 'num' }, 'Spans'), h('th', null, 'Duration'), h('th', { class: 'num' }, 'Started'))),
        table),
    ),
  );
}

function scatter(rows: Summary[], range: [number, number]): Element {
  const W = Math.max(600, (document.querySelector('.page')?.clientWidth || 1000) - 60);
  const H = 190, L = 56, R = 12, T = 10, B = 24;
  let t0 = Math.min(...rows.map((r) => r.start));
  let t1 = Math.max(...rows.map((r) => r.start));
  if (t1 - t0 < (range[1] - range[0]) * 0.05) {
    const pad = Math.max((range[1] - range[0]) * 0.02, 1e6);
    t0 -= pad;
    t1 += pad;
  }
  const maxD = Math.max(...rows.map((r) => r.duration)) * 1.08;
  const x = (t: number) => L + ((t - t0) / (t1 - t0 || 1)) * (W - L - R);
  const y = (d: number) => H - B - (d / maxD) * (H - T - B);
  const maxSpans = Math.max(...rows.map((r) => r.spans));
  const svg = s('svg', { class: 'scatter', viewBox: `0 0 ${W} ${H}`, width: W, height: H });
  const axis = s('g', { class: 'axis' });
  for (const d of ticks(0, maxD, 4)) {
    axis.appendChild(s('line', { class: 'gridline', x1: L, x2: W - R, y1: y(d), y2: y(d) }));
    axis.appendChild(s('text', { x: L - 6, y: y(d) + 3, 'text-anchor': 'end' }, fmtDur(d)));
  }
  for (const t of ticks(t0, t1, Math.floor(W / 130))) {
    axis.appendChild(s('text', { x: x(t), y: H - 6, 'text-anchor': 'middle' }, fmtTime(t).slice(11, 19)));
  }
  axis.appendChild(s('line', { x1: L, x2: W - R, y1: H - B, y2: H - B }));
  svg.appendChild(axis);
  for (const r of rows.slice().sort((a, b) => a.errors - b.errors)) {
    const rad = 3 + 5 * Math.sqrt(r.spans / maxSpans);
    svg.appendChild(s('circle', {
      class: 'dotc', cx: x(r.start), cy: y(r.duration), r: rad, 'data-trace': r.traceID,
      fill: r.errors ? 'rgba(217,56,67,.75)' : 'rgba(61,99,221,.55)', stroke: r.errors ? '#a3202a' : '#2f4fb5', 'stroke-width': 1,
      onclick: () => navigate('/trace/' + r.traceID),
    }, s('title', null, `${r.rootService}: ${r.rootName}\n${fmtDur(r.duration)}, ${count(r.spans, 'span')}${r.errors ? `, ${count(r.errors, 'error')}` : ''}\n${fmtTime(r.start)}`)));
  }
  return svg;
}
