// Answers in the shapes of weft's analysis API (docs/analysis.md), computed in the browser from Jaeger traces.
// Pages ask the server first and use these when it has no analysis endpoints (a plain Jaeger query service), so
// each page draws one shape whatever the source.

import type { JTrace } from './api';
import { buildTrace, type Trace, type Span } from './model';
import { quantile } from './dom';

export interface Summary {
  traceID: string;
  rootService: string;
  rootName: string;
  start: number;
  duration: number;
  spans: number;
  errors: number;
  services: [string, number][];
}

/** summarize makes a search result row from a trace without building the whole model. */
export function summarize(t: JTrace): Summary {
  let start = Infinity, end = -Infinity, errors = 0;
  const svc = new Map<string, number>();
  let root = t.spans[0];
  for (const sp of t.spans) {
    if (sp.startTime < start) start = sp.startTime;
    if (sp.startTime + sp.duration > end) end = sp.startTime + sp.duration;
    const name = t.processes[sp.processID]?.serviceName || 'unknown';
    svc.set(name, (svc.get(name) || 0) + 1);
    if ((sp.tags || []).some((x) => (x.key === 'error' && (x.value === true || x.value === 'true')) || (x.key === 'otel.status_code' && x.value === 'ERROR'))) errors++;
    if (!(sp.references || []).some((r) => r.refType === 'CHILD_OF') && (!root || (root.references || []).length > 0 || sp.startTime < root.startTime)) root = sp;
  }
  return {
    traceID: t.traceID, rootService: root ? t.processes[root.processID]?.serviceName || 'unknown' : '', rootName: root ? root.operationName : '',
    start, duration: end - start, spans: t.spans.length, errors, services: [...svc.entries()].sort((a, b) => a[0].localeCompare(b[0])),
  };
}

export interface Stats {
  count: number;
  errors: number;
  errorRate: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

export interface TreeNode extends Stats {
  path: string;
  service: string;
  name: string;
  depth: number;
  traces: number;
  self: number;
  exemplars: string[];
  children: TreeNode[];
}
export interface GraphNode extends Stats { id: string; service: string; name: string; mode?: string; exemplars?: string[] }
export interface GraphEdge extends Stats { from: string; to: string; mode?: string }
export interface Group { id: string; shape: string; spans: number; count: number; errors: number; errorRate: number; p50: number; p90: number; p99: number; exemplars: string[] }
export interface Aggregate {
  traces: number;
  spans: number;
  truncated: boolean;
  tree: TreeNode[];
  graph: { nodes: GraphNode[]; edges: GraphEdge[] };
  groups: Group[];
}

class Acc {
  durs: number[] = [];
  ids: string[] = [];
  errors = 0;
  self = 0;
  traces = new Set<string>();
  add(d: number, err: boolean, trace: string, self = 0): void {
    this.durs.push(d);
    this.ids.push(trace);
    if (err) this.errors++;
    this.self += self;
    this.traces.add(trace);
  }
  stats(): Stats & { exemplars: string[]; traces: number; self: number } {
    const order = this.durs.map((_, k) => k).sort((a, b) => this.durs[a] - this.durs[b]);
    const sorted = order.map((k) => this.durs[k]);
    const n = sorted.length;
    const ex: string[] = [];
    for (const q of [0.5, 0.9, 0.99, 1]) {
      const id = this.ids[order[Math.min(n - 1, Math.floor((n - 1) * q))]];
      if (id && !ex.includes(id)) ex.push(id);
    }
    return {
      count: n, errors: this.errors, errorRate: n ? this.errors / n : 0, p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9),
      p99: quantile(sorted, 0.99), mean: n ? sorted.reduce((a, b) => a + b, 0) / n : NaN, exemplars: ex, traces: this.traces.size, self: n ? this.self / n : 0,
    };
  }
}

/** selfTime is a span's duration less the union of its children's time inside it. */
export function selfTime(tr: Trace, s: Span): number {
  if (!s.children.length) return s.dur;
  const iv = s.children.map((c) => [Math.max(tr.spans[c].start, s.start), Math.min(tr.spans[c].start + tr.spans[c].dur, s.start + s.dur)]).filter(([a, b]) => b > a).sort((a, b) => a[0] - b[0]);
  let covered = 0, cs = -Infinity, ce = -Infinity;
  for (const [a, b] of iv) {
    if (a > ce) {
      if (ce > cs) covered += ce - cs;
      cs = a;
      ce = b;
    } else ce = Math.max(ce, b);
  }
  if (ce > cs) covered += ce - cs;
  return Math.max(0, s.dur - covered);
}

function key(s: Span): string {
  return s.service + ':' + s.name;
}

/** aggregate computes the calling-context tree, the request-flow graph and the structure groups of traces. */
export function aggregate(traces: JTrace[], limit: number): Aggregate {
  interface T { acc: Acc; path: string; service: string; name: string; depth: number; kids: Map<string, T> }
  const roots = new Map<string, T>();
  const nodes = new Map<string, Acc>();
  const edges = new Map<string, Acc>();
  const groups = new Map<string, { acc: Acc; shape: string; spans: number }>();
  let spans = 0;
  for (const jt of traces) {
    const tr = buildTrace(jt);
    spans += tr.spans.length;
    const walk = (i: number, parent: Map<string, T>, path: string, depth: number): string => {
      const s = tr.spans[i];
      const k = key(s);
      const p = path ? path + '/' + k : k;
      let node = parent.get(k);
      if (!node) parent.set(k, (node = { acc: new Acc(), path: p, service: s.service, name: s.name, depth, kids: new Map() }));
      node.acc.add(s.dur, s.error, tr.id, selfTime(tr, s));
      let n = nodes.get(k);
      if (!n) nodes.set(k, (n = new Acc()));
      n.add(s.dur, s.error, tr.id);
      const shapes: string[] = [];
      for (const c of s.children) {
        const ek = k + '\u0000' + key(tr.spans[c]);
        let e = edges.get(ek);
        if (!e) edges.set(ek, (e = new Acc()));
        e.add(tr.spans[c].dur, tr.spans[c].error, tr.id);
        shapes.push(depth < 200 ? walk(c, node.kids, p, depth + 1) : key(tr.spans[c]));
      }
      shapes.sort();
      const counted: string[] = [];
      for (let a = 0; a < shapes.length; ) {
        let b = a;
        while (b < shapes.length && shapes[b] === shapes[a]) b++;
        counted.push(shapes[a] + (b - a > 1 ? '×' + (b - a) : ''));
        a = b;
      }
      return counted.length ? `${k}(${counted.join(',')})` : k;
    };
    const shape = tr.roots.map((r) => walk(r, roots, '', 0)).join(' ');
    let g = groups.get(shape);
    if (!g) groups.set(shape, (g = { acc: new Acc(), shape, spans: tr.spans.length }));
    g.acc.add(tr.end - tr.start, tr.errors > 0, tr.id);
  }
  const toTree = (m: Map<string, T>): TreeNode[] =>
    [...m.values()].map((t) => ({ ...t.acc.stats(), path: t.path, service: t.service, name: t.name, depth: t.depth, children: toTree(t.kids) })).sort((a, b) => b.count - a.count);
  const split = (k: string) => {
    const c = k.indexOf(':');
    return { service: k.slice(0, c), name: k.slice(c + 1) };
  };
  let gid = 0;
  return {
    traces: traces.length, spans, truncated: traces.length >= limit, tree: toTree(roots),
    graph: {
      nodes: [...nodes.entries()].map(([id, a]) => ({ id, ...split(id), ...a.stats() })),
      edges: [...edges.entries()].map(([k, a]) => { const [from, to] = k.split('\u0000'); return { from, to, ...a.stats() }; }),
    },
    groups: [...groups.values()].map((g) => ({ id: String(++gid), shape: g.shape.slice(0, 4000), spans: g.spans, ...g.acc.stats() })).sort((a, b) => b.count - a.count),
  };
}

// --- compare ---

export interface Side { count: number; traces: number; perTrace: number; errorRate: number; p50: number; p90: number; p99: number }
export interface CompareNode {
  path: string; service: string; name: string; depth: number; status: string;
  a?: Side; b?: Side;
  latency?: { delta: number; ratio: number; pValue?: number; significant: boolean };
  calls?: { delta: number; pValue?: number; significant: boolean };
  children: CompareNode[];
}
export interface Change { path: string; what: string; delta?: number; ratio?: number; pValue?: number }
export interface PopulationCompare {
  mode: 'populations';
  a: { traces: number; spans: number; truncated: boolean };
  b: { traces: number; spans: number; truncated: boolean };
  tree: CompareNode[];
  changes: Change[];
}

/** comparePopulations compares the aggregates of two searches path by path. Without the server's statistics it
 * calls a change significant when the median moved by at least minEffect and each side has 5 spans or more. */
export function comparePopulations(a: Aggregate, b: Aggregate, minEffect = 0.1): PopulationCompare {
  const changes: Change[] = [];
  const side = (n: TreeNode, traces: number): Side => ({ count: n.count, traces: n.traces, perTrace: traces ? n.count / traces : 0, errorRate: n.errorRate, p50: n.p50, p90: n.p90, p99: n.p99 });
  const merge = (xa: TreeNode[], xb: TreeNode[], depth: number): CompareNode[] => {
    const byPath = new Map<string, [TreeNode | undefined, TreeNode | undefined]>();
    for (const n of xa) byPath.set(n.path, [n, undefined]);
    for (const n of xb) byPath.set(n.path, [byPath.get(n.path)?.[0], n]);
    const out: CompareNode[] = [];
    for (const [path, [na, nb]] of byPath) {
      const any = (na || nb)!;
      const node: CompareNode = { path, service: any.service, name: any.name, depth, status: na && nb ? 'both' : nb ? 'appeared' : 'disappeared', children: merge(na?.children || [], nb?.children || [], depth + 1) };
      if (na) node.a = side(na, a.traces);
      if (nb) node.b = side(nb, b.traces);
      if (node.a && node.b) {
        const ratio = node.b.p50 / node.a.p50;
        const sig = Math.abs(ratio - 1) >= minEffect && node.a.count >= 5 && node.b.count >= 5;
        node.latency = { delta: node.b.p50 - node.a.p50, ratio, significant: sig };
        const dc = node.b.perTrace - node.a.perTrace;
        node.calls = { delta: dc, significant: Math.abs(dc) / Math.max(node.a.perTrace, 1e-9) >= minEffect && node.a.count >= 5 && node.b.count >= 5 };
        if (sig) changes.push({ path, what: 'latency', delta: node.latency.delta, ratio });
        if (node.calls.significant) changes.push({ path, what: 'calls', delta: dc });
      } else {
        changes.push({ path, what: node.status });
      }
      out.push(node);
    }
    return out.sort((x, y) => (y.b?.count || 0) + (y.a?.count || 0) - (x.b?.count || 0) - (x.a?.count || 0));
  };
  const tree = merge(a.tree, b.tree, 0);
  changes.sort((x, y) => Math.abs(y.delta || Infinity) - Math.abs(x.delta || Infinity));
  return { mode: 'populations', a: { traces: a.traces, spans: a.spans, truncated: a.truncated }, b: { traces: b.traces, spans: b.spans, truncated: b.truncated }, tree, changes };
}

export interface TraceCompareNode {
  path: string; service: string; name: string; index: number; depth: number; status: string;
  a?: { spanID: string; duration: number; self: number };
  b?: { spanID: string; duration: number; self: number };
  delta?: number;
}
export interface TraceCompare {
  mode: 'traces';
  a: { traceID: string; spans: number; duration: number };
  b: { traceID: string; spans: number; duration: number };
  added: number; removed: number;
  nodes: TraceCompareNode[];
}

/** compareTraces matches spans by path from the root and by order among same-path siblings. */
export function compareTraces(ja: JTrace, jb: JTrace): TraceCompare {
  const ta = buildTrace(ja), tb = buildTrace(jb);
  const nodes: TraceCompareNode[] = [];
  let added = 0, removed = 0;
  const info = (tr: Trace, i: number) => ({ spanID: tr.spans[i].spanID, duration: tr.spans[i].dur, self: selfTime(tr, tr.spans[i]) });
  const walk = (la: number[], lb: number[], path: string, depth: number) => {
    const groupsA = new Map<string, number[]>(), groupsB = new Map<string, number[]>(), order: string[] = [];
    for (const i of la) { const k = key(ta.spans[i]); if (!groupsA.has(k) && !groupsB.has(k)) order.push(k); (groupsA.get(k) || groupsA.set(k, []).get(k)!).push(i); }
    for (const i of lb) { const k = key(tb.spans[i]); if (!groupsA.has(k) && !groupsB.has(k)) order.push(k); (groupsB.get(k) || groupsB.set(k, []).get(k)!).push(i); }
    for (const k of order) {
      const xa = groupsA.get(k) || [], xb = groupsB.get(k) || [];
      const p = path ? path + '/' + k : k;
      for (let j = 0; j < Math.max(xa.length, xb.length); j++) {
        const ia = xa[j], ib = xb[j];
        const any = ia !== undefined ? ta.spans[ia] : tb.spans[ib];
        const n: TraceCompareNode = { path: p, service: any.service, name: any.name, index: j, depth, status: ia !== undefined && ib !== undefined ? 'both' : ib !== undefined ? 'added' : 'removed' };
        if (ia !== undefined) n.a = info(ta, ia);
        if (ib !== undefined) n.b = info(tb, ib);
        if (n.a && n.b) n.delta = n.b.duration - n.a.duration;
        if (n.status === 'added') added++;
        if (n.status === 'removed') removed++;
        nodes.push(n);
        if (nodes.length < 20000) walk(ia !== undefined ? ta.spans[ia].children : [], ib !== undefined ? tb.spans[ib].children : [], p, depth + 1);
      }
    }
  };
  walk(ta.roots, tb.roots, '', 0);
  return {
    mode: 'traces', a: { traceID: ta.id, spans: ta.spans.length, duration: ta.end - ta.start }, b: { traceID: tb.id, spans: tb.spans.length, duration: tb.end - tb.start },
    added, removed, nodes,
  };
}

// --- services ---

export interface ServiceGraph {
  start: number; end: number; traces: number; truncated: boolean;
  nodes: { service: string; spans: number; errors: number; rate: number; errorRate: number }[];
  edges: { parent: string; child: string; count: number; errors: number; rate: number; errorRate: number; p50: number; p90: number; p99: number }[];
}

/** servicesGraph computes the service map of traces over a window of seconds. */
export function servicesGraph(traces: JTrace[], start: number, end: number, limit: number): ServiceGraph {
  const nodes = new Map<string, { spans: number; errors: number }>();
  const edges = new Map<string, Acc>();
  for (const jt of traces) {
    const tr = buildTrace(jt);
    for (const s of tr.spans) {
      const n = nodes.get(s.service) || { spans: 0, errors: 0 };
      n.spans++;
      if (s.error) n.errors++;
      nodes.set(s.service, n);
      if (s.parent < 0) continue;
      const p = tr.spans[s.parent];
      if (p.service === s.service) continue;
      const k = p.service + '\u0000' + s.service;
      let e = edges.get(k);
      if (!e) edges.set(k, (e = new Acc()));
      e.add(p.kind === 'client' ? p.dur : s.dur, s.error, tr.id);
    }
  }
  const secs = Math.max((end - start) / 1e6, 1);
  return {
    start, end, traces: traces.length, truncated: traces.length >= limit,
    nodes: [...nodes.entries()].map(([service, n]) => ({ service, spans: n.spans, errors: n.errors, rate: n.spans / secs, errorRate: n.errors / n.spans })),
    edges: [...edges.entries()].map(([k, a]) => {
      const [parent, child] = k.split('\u0000');
      const st = a.stats();
      return { parent, child, count: st.count, errors: st.errors, rate: st.count / secs, errorRate: st.errorRate, p50: st.p50, p90: st.p90, p99: st.p99 };
    }),
  };
}

export interface Bucket { lower: number; upper: number; count: number; exemplars: string[] }
export interface OperationStats { service: string; name: string; count: number; rate: number; errors: number; errorRate: number; p50: number; p90: number; p99: number; histogram: Bucket[] }

/** operationStats computes RED metrics and log-spaced latency histograms of a service's operations. */
export function operationStats(traces: JTrace[], service: string, start: number, end: number): OperationStats[] {
  const ops = new Map<string, { durs: number[]; ids: string[]; errors: number }>();
  for (const jt of traces) {
    const tr = buildTrace(jt);
    for (const s of tr.spans) {
      if (s.service !== service) continue;
      let o = ops.get(s.name);
      if (!o) ops.set(s.name, (o = { durs: [], ids: [], errors: 0 }));
      o.durs.push(s.dur);
      o.ids.push(tr.id);
      if (s.error) o.errors++;
    }
  }
  const secs = Math.max((end - start) / 1e6, 1);
  return [...ops.entries()].map(([name, o]) => {
    const sorted = o.durs.slice().sort((a, b) => a - b);
    const bucketOf = (d: number) => (d < 1 ? -1 : Math.floor(Math.log2(d)));
    const lo = bucketOf(sorted[0]), hi = bucketOf(sorted[sorted.length - 1]);
    const hist: Bucket[] = [];
    for (let b = lo; b <= hi; b++) hist.push({ lower: b < 0 ? 0 : 2 ** b, upper: 2 ** (b + 1), count: 0, exemplars: [] });
    o.durs.forEach((d, k) => {
      const bk = hist[bucketOf(d) - lo];
      bk.count++;
      if (bk.exemplars.length < 3 && !bk.exemplars.includes(o.ids[k])) bk.exemplars.push(o.ids[k]);
    });
    return {
      service, name, count: o.durs.length, rate: o.durs.length / secs, errors: o.errors, errorRate: o.errors / o.durs.length,
      p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99), histogram: hist,
    };
  }).sort((a, b) => b.count - a.count);
}
