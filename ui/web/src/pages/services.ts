// The services page (/services?…): the service map with rate, errors and latency on its edges, and per operation
// of the chosen service its RED figures and a latency histogram whose buckets open the traces inside them.

import { h, count, clear, fmtDur, fmtPct, fmtNum, fmtRate, serviceColor, loading, errorBox, empty } from '../dom';
import { findTraces, optional, services, type JTrace } from '../api';
import { navigate, replaceQuery, query, type Page } from '../router';
import { lookbacks } from './form';
import { servicesGraph, operationStats, type ServiceGraph, type OperationStats } from '../analysis';

function windowOf(lb: string): [number, number] {
  const m = /^(\d+)([mhd])$/.exec(lb) || ['', '1', 'h'];
  const end = Date.now() * 1000;
  return [end - Number(m[1]) * { m: 60e6, h: 3600e6, d: 86400e6 }[m[2] as 'm' | 'h' | 'd'], end];
}

async function sampleTraces(svcs: string[], start: number, end: number, limit: number, signal: AbortSignal): Promise<JTrace[]> {
  const seen = new Map<string, JTrace>();
  const lists = await Promise.all(svcs.slice(0, 30).map((s) => findTraces({ service: s, start, end, limit }, signal).catch(() => [] as JTrace[])));
  for (const l of lists) for (const t of l) seen.set(t.traceID, t);
  return [...seen.values()];
}

export const servicesPage: Page = (root, _path, params) => {
  const lb = params.get('lookback') || '1h';
  let selected = params.get('service') || '';
  const ctl = new AbortController();
  const lbSel = h('select', { onchange: () => navigate('/services' + query({ lookback: lbSel.value === '1h' ? '' : lbSel.value, service: selected })) },
    ...lookbacks.filter(([v]) => v !== 'custom').map(([v, l]) => h('option', { value: v, selected: v === lb }, l)));
  const mapBody = h('div', { class: 'graph-wrap', style: { minHeight: '200px' } }, loading('Building the service map…'));
  const mapHead = h('span', { class: 'sub' });
  const ops = h('div', { style: { marginTop: '12px' } });
  root.append(
    h('div', { class: 'card' }, h('div', { class: 'card-head' }, 'Service map', mapHead, h('div', { class: 'spacer' }), lbSel), mapBody),
    ops,
  );
  const [start, end] = windowOf(lb);
  let graph: ServiceGraph | null = null;
  let sample: JTrace[] | null = null;

  const drawMap = async () => {
    if (!graph) return;
    const { drawGraph } = await import('../graph');
    clear(mapBody);
    if (!graph.nodes.length) {
      mapBody.appendChild(empty('No traces in this window', 'Send some traces, or choose a longer window.'));
      return;
    }
    const maxRate = Math.max(...graph.edges.map((e) => e.rate), 1e-9);
    mapBody.appendChild(drawGraph(
      graph.nodes.map((n) => ({
        id: n.service, title: n.service, color: serviceColor(n.service), error: n.errors > 0,
        lines: [`${fmtRate(n.rate).replace('/s', ' spans/s')} · ${count(n.spans, 'span', fmtNum)}`, n.errors ? `errors ${fmtPct(n.errorRate)}` : 'no errors'],
      })),
      graph.edges.map((e) => ({
        from: e.parent, to: e.child, weight: Math.sqrt(e.rate / maxRate), error: e.errors > 0,
        label: `${fmtRate(e.rate)} · ${e.errors ? fmtPct(e.errorRate) + ' err · ' : ''}p50 ${fmtDur(e.p50)} · p99 ${fmtDur(e.p99)}`,
      })),
      { selected, onNode: (id) => { selected = id; const p = new URLSearchParams(location.search); p.set('service', id); replaceQuery(p); void drawMap(); void loadOps(); } },
    ));
  };

  const loadOps = async () => {
    clear(ops);
    if (!selected) {
      ops.appendChild(h('div', { class: 'card' }, empty('Choose a service', 'Click a service on the map to see its operations.')));
      return;
    }
    ops.appendChild(loading('Loading operations of ' + selected + '…'));
    try {
      let stats: OperationStats[] | null = null;
      let source = 'server';
      const server = await optional<{ operations: OperationStats[] }>('/api/weft/v1/operations/stats' + query({ service: selected, start: Math.floor(start), end: Math.floor(end) }), ctl.signal);
      if (server) stats = server.operations || [];
      else {
        const traces = sample && sample.some((t) => Object.values(t.processes).some((p) => p.serviceName === selected))
          ? sample : await findTraces({ service: selected, start, end, limit: 300 }, ctl.signal);
        stats = operationStats(traces, selected, start, end);
        source = 'browser, from a sample of traces';
      }
      clear(ops);
      ops.appendChild(opsTable(selected, stats, source, lb));
    } catch (e) {
      if (ctl.signal.aborted) return;
      clear(ops);
      ops.appendChild(errorBox(e));
    }
  };

  (async () => {
    let source = 'server';
    graph = await optional<ServiceGraph>('/api/weft/v1/services/graph' + query({ start: Math.floor(start), end: Math.floor(end) }), ctl.signal);
    if (!graph) {
      const svcs = await services();
      sample = await sampleTraces(svcs, start, end, 100, ctl.signal);
      graph = servicesGraph(sample, start, end, 100 * svcs.length);
      source = 'browser, from a sample of traces';
    }
    mapHead.textContent = `${count(graph.nodes.length, 'service')}, ${count(graph.edges.length, 'edge')}, from ${count(graph.traces, 'trace', fmtNum)}${graph.truncated ? ' (sampled)' : ''} · computed by the ${source}`;
    if (!selected && graph.nodes.length) {
      const called = new Set(graph.edges.map((e) => e.child));
      selected = (graph.nodes.find((n) => !called.has(n.service)) || graph.nodes[0]).service;
    }
    await drawMap();
    await loadOps();
  })().catch((e) => {
    if (ctl.signal.aborted) return;
    clear(mapBody);
    mapBody.appendChild(errorBox(e));
  });
  return () => ctl.abort();
};

function opsTable(service: string, stats: OperationStats[], source: string, lb: string): HTMLElement {
  return h('div', { class: 'card' },
    h('div', { class: 'card-head' }, h('span', { class: 'dot', style: { background: serviceColor(service) } }), service, h('span', { class: 'sub' }, `${count(stats.length, 'operation')} · computed by the ${source}`),
      h('div', { class: 'spacer' }), h('a', { class: 'btn small', href: '/search' + query({ service, lookback: lb, run: '1' }) }, 'Search its traces')),
    stats.length ? h('table', { class: 'grid ops' },
      h('thead', null, h('tr', null, h('th', null, 'Operation'), h('th', { class: 'num' }, 'Spans'), h('th', { class: 'num' }, 'Rate'), h('th', { class: 'num' }, 'Errors'),
        h('th', { class: 'num' }, 'p50'), h('th', { class: 'num' }, 'p90'), h('th', { class: 'num' }, 'p99'), h('th', null, 'Latency histogram (click a bar for its traces)'))),
      h('tbody', null, ...stats.map((o) => {
        const maxC = Math.max(...o.histogram.map((b) => b.count), 1);
        return h('tr', { class: o.errors ? 'error' : '' },
          h('td', null, h('b', null, o.name)),
          h('td', { class: 'num' }, fmtNum(o.count)),
          h('td', { class: 'num' }, fmtRate(o.rate)),
          h('td', { class: 'num' + (o.errors ? ' err' : '') }, o.errors ? fmtPct(o.errorRate) : '–'),
          h('td', { class: 'num' }, fmtDur(o.p50)),
          h('td', { class: 'num' }, fmtDur(o.p90)),
          h('td', { class: 'num' }, fmtDur(o.p99)),
          h('td', null, h('div', { class: 'hist-wrap' }, h('span', { class: 'hint' }, fmtDur(o.histogram[0]?.lower ?? 0)), h('div', { class: 'hist' }, ...o.histogram.map((b) => h('div', {
            style: { height: Math.max(2, (b.count / maxC) * 100) + '%' },
            title: `${fmtDur(b.lower)} – ${fmtDur(b.upper)}: ${count(b.count, 'span')}`,
            'data-lower': b.lower,
            onclick: () => navigate('/search' + query({ service, operation: o.name, minDuration: durText(b.lower), maxDuration: durText(b.upper), lookback: lb, run: '1' })),
          }))), h('span', { class: 'hint' }, fmtDur(o.histogram[o.histogram.length - 1]?.upper ?? 0)))),
        );
      }))) : empty('No operations in this window'));
}

/** durText writes microseconds as a Go duration for the search form. */
function durText(us: number): string {
  if (us >= 1e6 && us % 1e6 === 0) return us / 1e6 + 's';
  if (us >= 1e3 && us % 1e3 === 0) return us / 1e3 + 'ms';
  return Math.round(us) + 'us';
}
