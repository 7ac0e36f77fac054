// The aggregate page (/aggregate?…): many traces of a search at once. The calling-context tree (one node per
// path of service:operation from the root), the request-flow graph laid out by dagre, and the structure groups;
// latency and errors on every node and exemplar traces a click away.

import { h, count, clear, fmtDur, fmtPct, fmtNum, serviceColor, loading, errorBox, empty } from '../dom';
import { findTraces, optional } from '../api';
import { navigate, replaceQuery, query, type Page } from '../router';
import { readState, writeState, searchForm, jaegerParams, weftParams, validate, timeRange, type SearchState } from './form';
import { aggregate, type Aggregate, type TreeNode, type GraphNode } from '../analysis';

/** loadAggregate asks the server's analysis, or computes the aggregate here from the Jaeger API. */
export async function loadAggregate(st: SearchState, signal: AbortSignal): Promise<{ agg: Aggregate; source: string }> {
  const server = await optional<Aggregate>('/api/weft/v1/aggregate?' + weftParams(st).toString(), signal);
  if (server) return { agg: server, source: 'server' };
  if (!st.service) throw new Error('Choose a service: without weft\'s analysis API the browser aggregates a Jaeger search, which needs one.');
  const limit = Number(st.limit) || 200;
  const traces = await findTraces(jaegerParams(st, limit), signal);
  return { agg: aggregate(traces, limit), source: 'browser' };
}

export function exemplarLinks(ids: string[]): HTMLElement {
  // The analysis names the traces at p50, p90, p99 and the slowest, without repeats: with fewer, which is which
  // is unknown, so they are only numbered.
  const labels = ids.length >= 4 ? ['p50', 'p90', 'p99', 'max'] : ['ex. 1', 'ex. 2', 'ex. 3'];
  return h('span', { class: 'exemplars' }, ...ids.slice(0, 4).map((id, k) => h('a', { href: '/trace/' + id, title: id, style: { marginRight: '7px' } }, labels[k] || '#' + k)));
}

export const aggregatePage: Page = (root, _path, params) => {
  const st = readState(params, '', { limit: '200' });
  const tab = params.get('tab') || 'tree';
  root.appendChild(h('div', { class: 'card' }, searchForm(st, (next) => {
    const p = new URLSearchParams();
    writeState(p, next);
    if (tab !== 'tree') p.set('tab', tab);
    navigate('/aggregate?' + p.toString());
  }, { limits: ['50', '100', '200', '500', '1000', '2000'], button: 'Aggregate' })));
  const out = h('div', { style: { marginTop: '12px' } });
  root.appendChild(out);
  const ctl = new AbortController();
  if (!st.service && !st.q) {
    out.appendChild(h('div', { class: 'card' }, empty('Aggregate a search', 'Choose a service (and optionally an operation or query): weft reads the traces it finds and shows their calling-context tree, request-flow graph and structure groups.')));
    return () => ctl.abort();
  }
  const problem = validate(st);
  if (problem) {
    out.appendChild(errorBox(problem));
    return;
  }
  out.appendChild(loading('Aggregating traces…'));
  loadAggregate(st, ctl.signal).then(({ agg, source }) => {
    clear(out);
    if (!agg.traces) {
      out.appendChild(h('div', { class: 'card' }, empty('No traces found', 'Widen the time range or remove conditions.')));
      return;
    }
    const body = h('div');
    const tabs = h('div', { class: 'tabs' });
    const show = (t: string) => {
      for (const b of tabs.querySelectorAll('button')) b.classList.toggle('on', b.getAttribute('data-tab') === t);
      const p = new URLSearchParams(location.search);
      if (t === 'tree') p.delete('tab');
      else p.set('tab', t);
      replaceQuery(p);
      clear(body);
      body.appendChild(t === 'graph' ? graphView(agg) : t === 'groups' ? groupsView(agg) : treeView(agg));
    };
    for (const [t, label] of [['tree', 'Calling-context tree'], ['graph', 'Request-flow graph'], ['groups', `Structure groups (${agg.groups.length})`]]) {
      tabs.appendChild(h('button', { 'data-tab': t, onclick: () => show(t) }, label));
    }
    const [s0, s1] = timeRange(st);
    out.appendChild(h('div', { class: 'card' },
      h('div', { class: 'card-head' }, 'Aggregate',
        h('span', { class: 'sub' }, `${count(agg.traces, 'trace')}, ${count(agg.spans, 'span')}${agg.truncated ? ' (limit reached: raise it for more)' : ''} · ${Math.round((s1 - s0) / 60e6)} min window · computed ${source === 'server' ? 'by the server' : 'in the browser'}`)),
      tabs, body));
    show(tab);
  }).catch((e) => {
    if (ctl.signal.aborted) return;
    clear(out);
    out.appendChild(errorBox(e));
  });
  return () => ctl.abort();
};

function treeView(agg: Aggregate): HTMLElement {
  const tbody = h('tbody');
  const open = new Set<string>();
  const maxP50 = Math.max(...agg.tree.map((n) => n.p50), 1);
  const walkOpen = (ns: TreeNode[], d: number) => ns.forEach((n) => { if (d < 3) { open.add(n.path); walkOpen(n.children, d + 1); } });
  walkOpen(agg.tree, 0);
  const draw = () => {
    clear(tbody);
    const add = (n: TreeNode, depth: number) => {
      const isOpen = open.has(n.path);
      tbody.appendChild(h('tr', { class: 'tree-row' + (n.errors ? ' error' : ''), 'data-path': n.path },
        h('td', { style: { paddingLeft: 10 + depth * 16 + 'px' } },
          h('span', { class: 'tree-tog', onclick: () => { if (isOpen) open.delete(n.path); else open.add(n.path); draw(); } }, n.children.length ? (isOpen ? '▾' : '▸') : ''),
          h('span', { class: 'dot', style: { background: serviceColor(n.service), marginRight: '6px' } }),
          h('b', null, n.service), ' ', n.name,
          !isOpen && n.children.length ? h('span', { class: 'faint' }, `  +${n.children.length}`) : null),
        h('td', { class: 'num' }, fmtNum(n.count)),
        h('td', { class: 'num' }, fmtNum(n.traces)),
        h('td', { class: 'num' + (n.errors ? ' err' : '') }, n.errors ? fmtPct(n.errorRate) : '–'),
        h('td', { style: { width: '140px' } }, h('div', { class: 'bar-cell' + (n.errors ? ' err' : '') }, h('div', { style: { width: Math.min(100, (n.p50 / maxP50) * 100) + '%' } }))),
        h('td', { class: 'num' }, fmtDur(n.p50)),
        h('td', { class: 'num' }, fmtDur(n.p90)),
        h('td', { class: 'num' }, fmtDur(n.p99)),
        h('td', { class: 'num' }, fmtDur(n.self)),
        h('td', null, exemplarLinks(n.exemplars)),
      ));
      if (isOpen) for (const c of n.children) add(c, depth + 1);
    };
    for (const n of agg.tree) add(n, 0);
  };
  draw();
  return h('table', { class: 'grid cct' },
    h('thead', null, h('tr', null, h('th', null, 'Path (service · operation)'), h('th', { class: 'num' }, 'Spans'), h('th', { class: 'num' }, 'Traces'), h('th', { class: 'num' }, 'Errors'),
      h('th', null, 'p50'), h('th', { class: 'num' }, 'p50'), h('th', { class: 'num' }, 'p90'), h('th', { class: 'num' }, 'p99'), h('th', { class: 'num' }, 'Self (mean)'), h('th', null, 'Exemplars'))),
    tbody);
}

function graphView(agg: Aggregate): HTMLElement {
  const wrap = h('div', { class: 'graph-wrap', style: { maxHeight: 'calc(100vh - 260px)' } }, loading('Laying out…'));
  const side = h('div', { class: 'card sidepanel' }, h('div', { class: 'note' }, 'Click a node for its latency, errors and exemplar traces.'));
  const maxCount = Math.max(...agg.graph.edges.map((e) => e.count), 1);
  const byID = new Map(agg.graph.nodes.map((n) => [n.id, n]));
  let selected = '';
  const render = async () => {
    const { drawGraph } = await import('../graph');
    clear(wrap);
    wrap.appendChild(drawGraph(
      agg.graph.nodes.map((n) => ({
        id: n.id, title: `${n.service} · ${n.name}`, color: serviceColor(n.service), error: n.errors > 0,
        lines: [`${count(n.count, 'span', fmtNum)} · p50 ${fmtDur(n.p50)} · p99 ${fmtDur(n.p99)}`, n.errors ? `errors ${fmtPct(n.errorRate)}` : 'no errors'],
      })),
      agg.graph.edges.map((e) => ({
        from: e.from, to: e.to, label: `${fmtNum(e.count)}× ${fmtDur(e.p50)}${e.mode === 'concurrent' ? ' ∥' : ''}`,
        weight: Math.log1p(e.count) / Math.log1p(maxCount), error: e.errors > 0, dashed: e.mode === 'concurrent',
      })),
      { selected, onNode: (id) => { selected = id; details(byID.get(id)!); void render(); } },
    ));
  };
  const details = (n: GraphNode) => {
    clear(side);
    const ins = agg.graph.edges.filter((e) => e.to === n.id), outs = agg.graph.edges.filter((e) => e.from === n.id);
    side.append(
      h('div', { class: 'card-head' }, h('span', { class: 'dot', style: { background: serviceColor(n.service) } }), `${n.service} · ${n.name}`),
      h('div', { class: 'card-body' },
        h('table', { class: 'kv' },
          ...([['spans', fmtNum(n.count)], ['errors', `${n.errors} (${fmtPct(n.errorRate)})`], ['p50', fmtDur(n.p50)], ['p90', fmtDur(n.p90)], ['p99', fmtDur(n.p99)], ['children run', n.mode || '–']] as [string, string][])
            .map(([k, v]) => h('tr', null, h('td', null, k), h('td', null, v)))),
        n.exemplars?.length ? h('div', { style: { marginTop: '8px' } }, h('b', null, 'Exemplar traces: '), exemplarLinks(n.exemplars)) : null,
        h('div', { style: { marginTop: '8px' } }, h('a', { class: 'btn small', href: '/search' + query({ service: n.service, operation: n.name, run: '1' }) }, 'Search its spans')),
        ins.length ? h('div', { style: { marginTop: '8px' } }, h('b', null, 'Called by'), ...ins.map((e) => h('div', { class: 'muted' }, `${e.from} — ${fmtNum(e.count)}×, p50 ${fmtDur(e.p50)}`))) : null,
        outs.length ? h('div', { style: { marginTop: '8px' } }, h('b', null, 'Calls'), ...outs.map((e) => h('div', { class: 'muted' }, `${e.to} — ${fmtNum(e.count)}×, p50 ${fmtDur(e.p50)}${e.errors ? `, ${fmtPct(e.errorRate)} errors` : ''}`))) : null,
      ));
  };
  void render();
  return h('div', { class: 'split', style: { padding: '12px' } }, wrap, side);
}

function groupsView(agg: Aggregate): HTMLElement {
  return h('table', { class: 'grid groups' },
    h('thead', null, h('tr', null, h('th', null, 'Shape'), h('th', { class: 'num' }, 'Traces'), h('th', { class: 'num' }, 'Share'), h('th', { class: 'num' }, 'Spans'), h('th', { class: 'num' }, 'Errors'),
      h('th', { class: 'num' }, 'p50'), h('th', { class: 'num' }, 'p90'), h('th', { class: 'num' }, 'p99'), h('th', null, 'Exemplars'))),
    h('tbody', null, ...agg.groups.slice(0, 200).map((g) => h('tr', { class: g.errors ? 'error' : '' },
      h('td', { class: 'mono', style: { maxWidth: '640px', overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }, title: g.shape }, g.shape),
      h('td', { class: 'num' }, fmtNum(g.count)),
      h('td', { class: 'num' }, fmtPct(g.count / agg.traces)),
      h('td', { class: 'num' }, fmtNum(g.spans)),
      h('td', { class: 'num' + (g.errors ? ' err' : '') }, g.errors ? fmtPct(g.errorRate) : '–'),
      h('td', { class: 'num' }, fmtDur(g.p50)),
      h('td', { class: 'num' }, fmtDur(g.p90)),
      h('td', { class: 'num' }, fmtDur(g.p99)),
      h('td', null, exemplarLinks(g.exemplars)),
    ))));
}
