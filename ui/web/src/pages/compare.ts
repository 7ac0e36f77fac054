// The compare page (/compare?…): two populations of traces (two searches, e.g. before and after a deploy) or two
// single traces, and what changed between them, by how much.

import { h, count, clear, fmtDur, fmtPct, fmtNum, serviceColor, loading, errorBox, empty } from '../dom';
import { getTrace, optional } from '../api';
import { navigate, query, type Page } from '../router';
import { readState, writeState, searchForm, weftParams, validate, type SearchState } from './form';
import { comparePopulations, compareTraces, type PopulationCompare, type TraceCompare, type CompareNode, type Side } from '../analysis';
import { loadAggregate } from './aggregate';

export const comparePage: Page = (root, _path, params) => {
  const traceMode = params.has('a') || params.has('b') || params.get('mode') === 'traces';
  const ctl = new AbortController();
  const modeSeg = h('span', { class: 'seg' },
    h('button', { class: traceMode ? '' : 'on', onclick: () => navigate('/compare') }, 'Two populations'),
    h('button', { class: traceMode ? 'on' : '', onclick: () => navigate('/compare?mode=traces') }, 'Two traces'));
  root.appendChild(h('div', { class: 'card' }, h('div', { class: 'card-head' }, 'Compare', modeSeg,
    h('span', { class: 'sub' }, traceMode ? 'span by span, matched by path from the root' : 'path by path: calls per trace, latency and errors'))));
  const out = h('div', { style: { marginTop: '12px' } });
  if (traceMode) tracesForm(root, out, params, ctl.signal);
  else populationsForm(root, out, params, ctl.signal);
  root.appendChild(out);
  return () => ctl.abort();
};

function populationsForm(root: HTMLElement, out: HTMLElement, params: URLSearchParams, signal: AbortSignal): void {
  const a = readState(params, 'a.', { limit: '200' });
  const b = readState(params, 'b.', { limit: '200' });
  type F = HTMLFormElement & { collect: () => SearchState };
  const limits = ['50', '100', '200', '500', '1000'];
  const fa = searchForm(a, () => go(), { title: 'A', button: '', limits }) as F;
  const fb = searchForm(b, () => go(), { title: 'B', button: '', limits }) as F;
  const go = () => {
    const p = new URLSearchParams();
    writeState(p, fa.collect(), 'a.');
    writeState(p, fb.collect(), 'b.');
    navigate('/compare?' + p.toString());
  };
  root.appendChild(h('div', { class: 'card' }, fa, h('div', { style: { borderTop: '1px solid var(--line)' } }, fb),
    h('div', { class: 'form', style: { borderTop: '1px solid var(--line)', paddingTop: '8px' } },
      h('span', { class: 'hint' }, 'For example A: deploy.version = "v1", B: deploy.version = "v2"; or the same search over two time ranges.'),
      h('div', { class: 'spacer' }), h('button', { class: 'btn primary', onclick: go }, 'Compare'))));
  if (!(a.service || a.q) || !(b.service || b.q)) {
    out.appendChild(h('div', { class: 'card' }, empty('Compare two populations of traces', 'Describe population A and population B, then Compare.')));
    return;
  }
  const problem = validate(a) || validate(b);
  if (problem) return void out.appendChild(errorBox(problem));
  out.appendChild(loading('Comparing…'));
  (async () => {
    const p = weftParams(a, 'a.');
    for (const [k, v] of weftParams(b, 'b.')) p.set(k, v);
    let cmp = await optional<PopulationCompare>('/api/weft/v1/compare?' + p.toString(), signal);
    let source = 'server';
    if (!cmp) {
      const [ra, rb] = await Promise.all([loadAggregate(a, signal), loadAggregate(b, signal)]);
      cmp = comparePopulations(ra.agg, rb.agg);
      source = 'browser';
    }
    clear(out);
    out.appendChild(populationsView(cmp, source));
  })().catch((e) => {
    if (signal.aborted) return;
    clear(out);
    out.appendChild(errorBox(e));
  });
}

function ratioCell(r: number | undefined, significant: boolean): HTMLElement {
  if (r === undefined || !isFinite(r)) return h('td', { class: 'num faint' }, '–');
  const pct = (r - 1) * 100;
  const cls = !significant ? 'muted' : pct > 0 ? 'delta-up' : 'delta-down';
  return h('td', { class: 'num ' + cls }, (pct >= 0 ? '+' : '') + pct.toFixed(Math.abs(pct) < 10 ? 1 : 0) + '%');
}

function populationsView(cmp: PopulationCompare, source: string): HTMLElement {
  const sideCells = (s?: Side) => s
    ? [h('td', { class: 'num' }, s.perTrace.toFixed(s.perTrace < 10 ? 2 : 0)), h('td', { class: 'num' }, fmtDur(s.p50)), h('td', { class: 'num' + (s.errorRate ? ' err' : '') }, s.errorRate ? fmtPct(s.errorRate) : '–')]
    : [h('td', { class: 'num faint' }, '–'), h('td', { class: 'num faint' }, '–'), h('td', { class: 'num faint' }, '–')];
  const rows: HTMLElement[] = [];
  const add = (n: CompareNode, depth: number) => {
    rows.push(h('tr', { class: 'cmp-row' + (n.latency?.significant ? ' sig' : '') },
      h('td', { style: { paddingLeft: 10 + depth * 16 + 'px', whiteSpace: 'nowrap' } },
        h('span', { class: 'dot', style: { background: serviceColor(n.service), marginRight: '6px' } }), h('b', null, n.service), ' ', n.name, ' ',
        n.status === 'appeared' ? h('span', { class: 'pill add' }, 'new in B') : n.status === 'disappeared' ? h('span', { class: 'pill del' }, 'gone in B') : null),
      ...sideCells(n.a), ...sideCells(n.b),
      h('td', { class: 'num' }, n.latency ? (n.latency.delta >= 0 ? '+' : '') + fmtDur(n.latency.delta) : '–'),
      ratioCell(n.latency?.ratio, !!n.latency?.significant),
      h('td', { class: 'num ' + (n.calls?.significant ? (n.calls.delta > 0 ? 'delta-up' : 'delta-down') : 'muted') }, n.calls && n.calls.delta ? (n.calls.delta > 0 ? '+' : '') + n.calls.delta.toFixed(2) : '–'),
    ));
    if (depth < 12) for (const c of n.children) add(c, depth + 1);
  };
  for (const n of cmp.tree) add(n, 0);
  const changes = cmp.changes.slice(0, 25);
  const byPath = new Map<string, [CompareNode, CompareNode | null]>();
  const index = (ns: CompareNode[], parent: CompareNode | null) => ns.forEach((n) => { byPath.set(n.path, [n, parent]); index(n.children, n); });
  index(cmp.tree, null);
  const where = (path: string) => {
    const [n, parent] = byPath.get(path) || [null, null];
    if (!n) return h('span', { class: 'mono' }, path);
    return h('span', null, h('span', { class: 'dot', style: { background: serviceColor(n.service), marginRight: '6px' } }), h('b', null, n.service), ' ', n.name,
      parent ? h('span', { class: 'faint' }, `  under ${parent.service} ${parent.name}`) : null);
  };
  return h('div', null,
    h('div', { class: 'card' },
      h('div', { class: 'card-head' }, 'What changed', h('span', { class: 'sub' }, `A: ${count(cmp.a.traces, 'trace', fmtNum)}, B: ${count(cmp.b.traces, 'trace', fmtNum)} · ${count(cmp.changes.length, 'significant change')} · computed ${source === 'server' ? 'by the server (Mann–Whitney U, p < 0.01)' : 'in the browser (median moved ≥ 10%)'}`)),
      changes.length ? h('table', { class: 'grid changes' },
        h('thead', null, h('tr', null, h('th', null, 'Path'), h('th', null, 'What'), h('th', { class: 'num' }, 'Change'), h('th', { class: 'num' }, 'Ratio (B/A)'), h('th', { class: 'num' }, 'p-value'))),
        h('tbody', null, ...changes.map((c) => h('tr', null,
          h('td', null, where(c.path)),
          h('td', null, c.what === 'appeared' ? h('span', { class: 'pill add' }, 'appeared') : c.what === 'disappeared' ? h('span', { class: 'pill del' }, 'disappeared') : c.what),
          h('td', { class: 'num ' + ((c.delta || 0) > 0 ? 'delta-up' : 'delta-down') }, c.delta === undefined ? '–' : c.what === 'latency' ? (c.delta > 0 ? '+' : '') + fmtDur(c.delta) : (c.delta > 0 ? '+' : '') + c.delta.toFixed(2) + ' calls/trace'),
          h('td', { class: 'num' }, c.ratio ? '×' + c.ratio.toFixed(2) : '–'),
          h('td', { class: 'num muted' }, c.pValue !== undefined ? c.pValue.toExponential(1) : '–'),
        )))) : h('div', { class: 'note' }, 'No significant change between A and B.')),
    h('div', { class: 'card' },
      h('div', { class: 'card-head' }, 'Calling-context tree, A against B'),
      h('table', { class: 'grid cmp' },
        h('thead', null,
          h('tr', null, h('th', null, 'Path'), h('th', { class: 'num' }, 'A calls/trace'), h('th', { class: 'num' }, 'A p50'), h('th', { class: 'num' }, 'A errors'),
            h('th', { class: 'num' }, 'B calls/trace'), h('th', { class: 'num' }, 'B p50'), h('th', { class: 'num' }, 'B errors'), h('th', { class: 'num' }, 'Δ p50'), h('th', { class: 'num' }, 'Δ%'), h('th', { class: 'num' }, 'Δ calls'))),
        h('tbody', null, ...rows))),
  );
}

function tracesForm(root: HTMLElement, out: HTMLElement, params: URLSearchParams, signal: AbortSignal): void {
  const ia = h('input', { value: params.get('a') || '', placeholder: 'trace ID', size: 36, class: 'mono', name: 'a' });
  const ib = h('input', { value: params.get('b') || '', placeholder: 'trace ID', size: 36, class: 'mono', name: 'b' });
  const go = (e?: Event) => {
    e?.preventDefault();
    navigate('/compare' + query({ a: ia.value.trim(), b: ib.value.trim(), mode: 'traces' }));
  };
  root.appendChild(h('div', { class: 'card' }, h('form', { class: 'form', onsubmit: go },
    h('div', { class: 'field' }, h('label', null, 'Trace A'), ia),
    h('div', { class: 'field' }, h('label', null, 'Trace B'), ib),
    h('button', { class: 'btn primary', type: 'submit' }, 'Compare'))));
  const a = params.get('a'), b = params.get('b');
  if (!a || !b) {
    out.appendChild(h('div', { class: 'card' }, empty('Compare two traces', 'Enter two trace IDs (the trace page has a Compare button that fills in the first).')));
    return;
  }
  out.appendChild(loading('Comparing traces…'));
  (async () => {
    let cmp = await optional<TraceCompare>('/api/weft/v1/compare' + query({ a, b }), signal);
    if (!cmp) {
      const [ja, jb] = await Promise.all([getTrace(a, signal), getTrace(b, signal)]);
      cmp = compareTraces(ja, jb);
    }
    clear(out);
    out.appendChild(tracesView(cmp));
  })().catch((e) => {
    if (signal.aborted) return;
    clear(out);
    out.appendChild(errorBox(e));
  });
}

function tracesView(cmp: TraceCompare): HTMLElement {
  const maxD = Math.max(cmp.a.duration, cmp.b.duration, 1);
  const dd = cmp.b.duration - cmp.a.duration;
  const nodes = cmp.nodes.slice(0, 3000);
  return h('div', { class: 'card' },
    h('div', { class: 'card-head' }, 'Span by span',
      h('span', { class: 'sub' }, `A: ${count(cmp.a.spans, 'span')}, ${fmtDur(cmp.a.duration)} · B: ${count(cmp.b.spans, 'span')}, ${fmtDur(cmp.b.duration)} · `),
      h('span', { class: dd > 0 ? 'delta-up' : 'delta-down' }, (dd >= 0 ? '+' : '') + fmtDur(dd)),
      h('span', { class: 'sub' }, ` · ${cmp.added} added, ${cmp.removed} removed`),
      h('div', { class: 'spacer' }),
      h('a', { class: 'btn small', href: '/trace/' + cmp.a.traceID }, 'Open A'), h('a', { class: 'btn small', href: '/trace/' + cmp.b.traceID }, 'Open B')),
    h('table', { class: 'grid cmp-traces' },
      h('thead', null, h('tr', null, h('th', null, 'Span'), h('th', { class: 'num' }, 'A'), h('th', { class: 'num' }, 'B'), h('th', { class: 'num' }, 'Δ'), h('th', null, 'A ▮ B'))),
      h('tbody', null, ...nodes.map((n) => h('tr', { class: n.status === 'both' ? '' : 'changed' },
        h('td', { style: { paddingLeft: 10 + Math.min(n.depth, 20) * 14 + 'px', whiteSpace: 'nowrap' } },
          h('span', { class: 'dot', style: { background: serviceColor(n.service), marginRight: '6px' } }), h('b', null, n.service), ' ', n.name, n.index ? h('span', { class: 'faint' }, ` #${n.index + 1}`) : null, ' ',
          n.status === 'added' ? h('span', { class: 'pill add' }, 'only in B') : n.status === 'removed' ? h('span', { class: 'pill del' }, 'only in A') : null),
        h('td', { class: 'num' }, n.a ? fmtDur(n.a.duration) : '–'),
        h('td', { class: 'num' }, n.b ? fmtDur(n.b.duration) : '–'),
        h('td', { class: 'num ' + (n.delta === undefined ? '' : Math.abs(n.delta) < 0.05 * Math.max(n.a!.duration, 1) ? 'muted' : n.delta > 0 ? 'delta-up' : 'delta-down') }, n.delta === undefined ? '–' : (n.delta >= 0 ? '+' : '') + fmtDur(n.delta)),
        h('td', { style: { width: '24%' } },
          h('div', { class: 'bar-cell', style: { height: '5px', marginBottom: '2px' } }, h('div', { style: { width: ((n.a?.duration || 0) / maxD) * 100 + '%', background: '#9aa1ad' } })),
          h('div', { class: 'bar-cell', style: { height: '5px' } }, h('div', { style: { width: ((n.b?.duration || 0) / maxD) * 100 + '%' } }))),
      )))),
    cmp.nodes.length > nodes.length ? h('div', { class: 'note' }, `Showing the first ${nodes.length} of ${cmp.nodes.length} spans.`) : null,
  );
}
