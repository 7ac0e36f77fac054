// The trace model the pages draw: spans in arrays indexed by position, with parents, children and depth
// resolved once, so that a 100,000-span trace is walked without hash lookups while drawing.

import type { JKeyValue, JLog, JProcess, JRef, JTrace } from './api';

export interface Span {
  i: number;
  spanID: string;
  parent: number; // index of the parent span, -1 for a root (or an orphan whose parent is missing)
  parentID: string;
  name: string;
  service: string;
  kind: string;
  start: number; // Unix microseconds
  dur: number; // microseconds
  error: boolean;
  statusMessage: string;
  tags: JKeyValue[];
  logs: JLog[];
  refs: JRef[];
  process: JProcess;
  depth: number;
  children: number[];
  // Causality from the weft library (empty for foreign spans).
  unit: string;
  unitEnd: string;
  seqStart: number;
  seqEnd: number;
  cause: string;
  critical: boolean;
  meta?: [string, unknown][]; // more about the span from weft's API: resource and type, scope, trace state, flags
  offset: number; // clock adjustment in microseconds (adjusted start = start + offset)
  // Whether the fields below the waterfall's are here: a trace read in the waterfall form has, at first, only
  // IDs, names, services, times, parents and errors; the rest comes with fillSpans.
  full: boolean;
}

/** Details are the fields of a span that the waterfall form leaves out. */
export type Details = Pick<Span, 'kind' | 'statusMessage' | 'tags' | 'logs' | 'refs' | 'process' | 'unit' | 'unitEnd' | 'seqStart' | 'seqEnd' | 'cause' | 'meta'>;

export interface Trace {
  id: string;
  spans: Span[];
  roots: number[];
  start: number;
  end: number;
  errors: number;
  maxDepth: number;
  services: Map<string, number>;
  warnings: string[];
  hasUnits: boolean;
  hasOffsets: boolean;
  partial: boolean; // some spans are not full yet (read in the waterfall form)
  ids?: string; // the span IDs, 16 hex digits each, when the trace was read in the waterfall form
}

// NONE is the shared empty list of spans without tags, logs, references or children (most leaves).
const NONE: never[] = [];

const weftTags = new Set(['weft.unit', 'weft.unit.end', 'weft.seq.start', 'weft.seq.end', 'weft.cause']);

/** tagValue finds a tag by key. */
export function tagValue(tags: JKeyValue[] | undefined, key: string): unknown {
  if (!tags) return undefined;
  for (const t of tags) if (t.key === key) return t.value;
  return undefined;
}

/** isErrorTag reports whether tags mark a failed span. */
export function isErrorTag(tags: JKeyValue[]): boolean {
  for (const t of tags) {
    if (t.key === 'error' && (t.value === true || t.value === 'true')) return true;
    if (t.key === 'otel.status_code' && t.value === 'ERROR') return true;
  }
  return false;
}

/** buildTrace resolves a Jaeger trace into the model: parents, sorted children, depths, errors, causality. */
export function buildTrace(t: JTrace): Trace {
  const n = t.spans.length;
  const spans: Span[] = new Array(n);
  const byID = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const j = t.spans[i];
    const process = t.processes[j.processID] || { serviceName: 'unknown' };
    const tags = j.tags || NONE;
    let unit = '', unitEnd = '', cause = '', kind = '', statusMessage = '';
    let seqStart = 0, seqEnd = 0, err = false, weft = 0;
    for (let k = 0; k < tags.length; k++) {
      const tg = tags[k];
      const key = tg.key;
      if (key.charCodeAt(0) === 119 && key.startsWith('weft.')) {
        weft++;
        switch (key) {
          case 'weft.unit': unit = String(tg.value); break;
          case 'weft.unit.end': unitEnd = String(tg.value); break;
          case 'weft.seq.start': seqStart = Number(tg.value); break;
          case 'weft.seq.end': seqEnd = Number(tg.value); break;
          case 'weft.cause': cause = String(tg.value); break;
          default: weft--;
        }
      } else if (key === 'span.kind') kind = String(tg.value);
      else if (key === 'error') err = err || tg.value === true || tg.value === 'true';
      else if (key === 'otel.status_code') err = err || tg.value === 'ERROR';
      else if (key === 'otel.status_description') statusMessage = String(tg.value);
    }
    const refs = j.references || NONE;
    let parentID = '';
    for (let k = 0; k < refs.length; k++) {
      const r = refs[k];
      if (r.traceID === j.traceID && (r.refType === 'CHILD_OF' || !parentID)) {
        parentID = r.spanID;
        if (r.refType === 'CHILD_OF') break;
      }
    }
    spans[i] = {
      i, spanID: j.spanID, parent: -1, parentID,
      name: j.operationName, service: process.serviceName, kind, start: j.startTime, dur: j.duration,
      error: err, statusMessage, tags: weft ? tags.filter((x) => !weftTags.has(x.key)) : tags, logs: j.logs || NONE, refs, process,
      depth: 0, children: NONE, unit, unitEnd, seqStart, seqEnd, cause, critical: false, offset: 0, full: true,
    };
    byID.set(j.spanID, i);
  }
  return assemble(t.traceID, spans, byID, t.warnings || []);
}

/** assemble links spans to their parents and children and computes what the pages need about the whole trace. */
function assemble(id: string, spans: Span[], byID: Map<string, number>, warnings: string[]): Trace {
  const n = spans.length;
  let start = Infinity, end = -Infinity, errors = 0, hasUnits = false;
  const services = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const sp = spans[i];
    if (sp.start < start) start = sp.start;
    if (sp.start + sp.dur > end) end = sp.start + sp.dur;
    if (sp.error) errors++;
    if (sp.unit) hasUnits = true;
    services.set(sp.service, (services.get(sp.service) || 0) + 1);
  }
  const roots: number[] = [];
  for (let i = 0; i < n; i++) {
    const sp = spans[i];
    const p = sp.parentID ? byID.get(sp.parentID) : undefined;
    if (p !== undefined && p !== i) {
      sp.parent = p;
      if (spans[p].children === NONE) spans[p].children = [];
      spans[p].children.push(i);
    } else roots.push(i);
  }
  const byStart = (a: number, b: number) => spans[a].start - spans[b].start || spans[a].i - spans[b].i;
  for (let i = 0; i < n; i++) if (spans[i].children.length > 1) spans[i].children.sort(byStart);
  roots.sort(byStart);
  // Depths by an explicit stack: traces can be deeper than the JavaScript call stack.
  let maxDepth = 0;
  const stack: number[] = roots.slice();
  const seen = new Uint8Array(n);
  while (stack.length) {
    const i = stack.pop()!;
    if (seen[i]) continue; // a cycle in bad data
    seen[i] = 1;
    const d = spans[i].parent >= 0 ? spans[spans[i].parent].depth + 1 : 0;
    spans[i].depth = d;
    if (d > maxDepth) maxDepth = d;
    for (const c of spans[i].children) stack.push(c);
  }
  const tr: Trace = {
    id, spans, roots, start: n ? start : 0, end: n ? end : 0, errors, maxDepth, services, warnings, hasUnits, hasOffsets: false,
    partial: false,
  };
  markCriticalPath(tr);
  return tr;
}

/**
 * markCriticalPath marks the spans on the critical path by the usual heuristic from span timings: from the end
 * of each span, walk back through the child that finished last before the current point. Weft's analysis API
 * replaces this with the exact path from the event DAG when it is available.
 */
export function markCriticalPath(tr: Trace): void {
  const sp = tr.spans;
  for (const s of sp) s.critical = false;
  if (!tr.roots.length) return;
  // The root that ends last leads.
  let root = tr.roots[0];
  for (const r of tr.roots) if (sp[r].start + sp[r].dur > sp[root].start + sp[root].dur) root = r;
  const stack: [number, number][] = [[root, sp[root].start + sp[root].dur]];
  while (stack.length) {
    const [i, bound] = stack.pop()!;
    const s = sp[i];
    s.critical = true;
    const end = Math.min(s.start + s.dur, bound);
    let t = end;
    const kids = s.children.slice().sort((a, b) => sp[b].start + sp[b].dur - (sp[a].start + sp[a].dur));
    for (const c of kids) {
      const k = sp[c];
      // The child that ended last before the current point; at the parent's end, one running past it counts.
      if (k.start >= t || k.start + k.dur <= s.start || (k.start + k.dur > t && t !== end)) continue;
      stack.push([c, t]);
      t = k.start;
      if (t <= s.start) break;
    }
  }
}

/** preorder lists span indices depth-first, skipping the children of collapsed spans. */
export function preorder(tr: Trace, collapsed: Uint8Array): Int32Array {
  const out = new Int32Array(tr.spans.length);
  let k = 0;
  const stack: number[] = [];
  for (let r = tr.roots.length - 1; r >= 0; r--) stack.push(tr.roots[r]);
  const sp = tr.spans;
  while (stack.length) {
    const i = stack.pop()!;
    out[k++] = i;
    if (collapsed[i]) continue;
    const ch = sp[i].children;
    for (let c = ch.length - 1; c >= 0; c--) stack.push(ch[c]);
  }
  return out.subarray(0, k);
}

/** subtreeSize counts a span's descendants. */
export function subtreeSize(tr: Trace, i: number): number {
  let n = 0;
  const stack = tr.spans[i].children.slice();
  while (stack.length) {
    const c = stack.pop()!;
    n++;
    for (const x of tr.spans[c].children) stack.push(x);
  }
  return n;
}

function otlpValue(t: JKeyValue): Record<string, unknown> {
  switch (t.type) {
    case 'bool': return { boolValue: t.value === true || t.value === 'true' };
    case 'int64': return { intValue: String(t.value) };
    case 'float64': return { doubleValue: Number(t.value) };
    default: return { stringValue: String(t.value) };
  }
}

function hex(id: string, len: number): string {
  return id.padStart(len, '0');
}

/** toOTLP converts a Jaeger trace to OTLP JSON (ExportTraceServiceRequest), for download when the server has no
 * OTLP export of its own. */
export function toOTLP(t: JTrace): unknown {
  const kinds: Record<string, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
  const byProc = new Map<string, unknown[]>();
  for (const sp of t.spans) {
    const tags = sp.tags || [];
    const parent = (sp.references || []).find((r) => r.refType === 'CHILD_OF');
    const kind = String(tagValue(tags, 'span.kind') || '');
    const err = isErrorTag(tags);
    const o = {
      traceId: hex(sp.traceID, 32),
      spanId: hex(sp.spanID, 16),
      parentSpanId: parent ? hex(parent.spanID, 16) : undefined,
      name: sp.operationName,
      kind: kinds[kind] || 1,
      startTimeUnixNano: String(BigInt(Math.round(sp.startTime)) * 1000n),
      endTimeUnixNano: String(BigInt(Math.round(sp.startTime + sp.duration)) * 1000n),
      attributes: tags.filter((x) => x.key !== 'span.kind').map((x) => ({ key: x.key, value: otlpValue(x) })),
      events: (sp.logs || []).map((l) => {
        const name = l.fields.find((f) => f.key === 'event');
        return {
          timeUnixNano: String(BigInt(Math.round(l.timestamp)) * 1000n),
          name: name ? String(name.value) : 'log',
          attributes: l.fields.filter((f) => f.key !== 'event').map((x) => ({ key: x.key, value: otlpValue(x) })),
        };
      }),
      links: (sp.references || []).filter((r) => r !== parent).map((r) => ({ traceId: hex(r.traceID, 32), spanId: hex(r.spanID, 16) })),
      status: err ? { code: 2, message: String(tagValue(tags, 'otel.status_description') || '') } : {},
    };
    let list = byProc.get(sp.processID);
    if (!list) byProc.set(sp.processID, (list = []));
    list.push(o);
  }
  return {
    resourceSpans: [...byProc.entries()].map(([pid, spans]) => {
      const p = t.processes[pid] || { serviceName: 'unknown' };
      return {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: p.serviceName } },
            ...(p.tags || []).map((x) => ({ key: x.key, value: otlpValue(x) })),
          ],
        },
        scopeSpans: [{ scope: { name: 'weft' }, spans }],
      };
    }),
  };
}

// --- weft's own trace format (docs/api.md, GET /api/weft/v1/traces/{id}) ---

interface WRef { traceID?: string; unit: string; seq: number }
interface WEvent { offset: number; time?: string; name: string; attributes: JKeyValue[]; unit?: string; seq?: number; cause?: WRef }
interface WSpan {
  spanID: string; parentSpanID?: string; name: string; kind: string; service: string; resource: number;
  start?: string; offset: number; duration: number; status: { code: string; message?: string };
  spanResource?: string; spanType?: string; scope?: { name: string; version?: string }; traceState?: string; flags?: string[];
  attributes: JKeyValue[]; events: WEvent[]; links: { traceID: string; spanID: string; attributes?: JKeyValue[] }[];
  causality?: { unit: string; startSeq: number; endSeq: number; endUnit?: string; startCause?: WRef };
}
/** WTrace is a trace as weft's API answers it. */
export interface WTrace {
  traceID: string;
  start: string; // Unix ns as text
  resources: { service: string; attributes: JKeyValue[] }[];
  spans: WSpan[];
}

function refText(r: WRef): string {
  return (r.traceID ? r.traceID + ':' : '') + r.unit + ':' + r.seq;
}

/** usOf turns Unix nanoseconds as text into microseconds, keeping the fraction. */
function usOf(ns: string): number {
  const big = BigInt(ns);
  return Number(big / 1000n) + Number(big % 1000n) / 1000;
}

function metaOf(m: { spanResource?: string; spanType?: string; scope?: { name: string; version?: string }; traceState?: string; flags?: string[] }): [string, unknown][] | undefined {
  if (!(m.spanResource || m.spanType || m.scope || m.traceState || m.flags)) return undefined;
  const meta: [string, unknown][] = [];
  if (m.spanResource) meta.push(['resource', m.spanResource]);
  if (m.spanType) meta.push(['type', m.spanType]);
  if (m.scope) meta.push(['scope', m.scope.name + (m.scope.version ? ' ' + m.scope.version : '')]);
  if (m.traceState) meta.push(['tracestate', m.traceState]);
  if (m.flags) meta.push(['flags', m.flags.join(', ')]);
  return meta;
}

/** weftDetails reads the details of a span in weft's regular form; startUS is the trace's start in µs. */
function weftDetails(w: WSpan, startUS: number, procs: JProcess[]): Details {
  const c = w.causality;
  let logs: JLog[] = NONE;
  if (w.events.length) {
    logs = w.events.map((e) => {
      const fields: JKeyValue[] = [{ key: 'event', type: 'string', value: e.name }, ...e.attributes];
      if (e.seq) fields.push({ key: 'weft.seq', type: 'int64', value: e.seq });
      if (e.unit && e.unit !== c?.unit) fields.push({ key: 'weft.unit', type: 'string', value: e.unit });
      if (e.cause) fields.push({ key: 'weft.cause', type: 'string', value: refText(e.cause) });
      return { timestamp: e.time !== undefined ? usOf(e.time) : startUS + e.offset / 1000, fields };
    });
  }
  return {
    kind: w.kind === 'unspecified' ? '' : w.kind, statusMessage: w.status.message || '', tags: w.attributes, logs,
    refs: w.links.length ? w.links.map((l) => ({ refType: 'LINK', traceID: l.traceID, spanID: l.spanID })) : NONE,
    process: procs[w.resource] || { serviceName: w.service },
    unit: c?.unit || '', unitEnd: c?.endUnit || '', seqStart: c?.startSeq || 0, seqEnd: c?.endSeq || 0,
    cause: c?.startCause ? refText(c.startCause) : '', meta: metaOf(w),
  };
}

/** buildTraceWeft resolves a trace in weft's format into the model. */
export function buildTraceWeft(t: WTrace): Trace {
  const startUS = usOf(t.start);
  const procs: JProcess[] = t.resources.map((r) => ({ serviceName: r.service, tags: r.attributes }));
  const n = t.spans.length;
  const spans: Span[] = new Array(n);
  const byID = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const w = t.spans[i];
    spans[i] = {
      i, spanID: w.spanID, parent: -1, parentID: w.parentSpanID || '', name: w.name, service: w.service,
      start: startUS + w.offset / 1000, dur: w.duration / 1000, error: w.status.code === 'error', depth: 0,
      children: NONE, critical: false, offset: 0, full: true, ...weftDetails(w, startUS, procs),
    };
    byID.set(w.spanID, i);
  }
  return assemble(t.traceID, spans, byID, []);
}

// --- the compact form of the same answer (docs/api.md, GET /api/weft/v1/traces/{id}?format=columnar) ---

type CRef = [number, number, number];
/** CTrace is a trace in weft's columnar form: repeated strings in one table, span fields as parallel arrays. */
export interface CTrace {
  format: 'columnar';
  traceID: string;
  start: string;
  resources: { service: string; attributes: JKeyValue[] }[];
  strings: string[];
  spans: {
    id: string[]; parent: number[]; name: number[]; kind: number[]; service: number[]; resource: number[];
    offset: number[]; duration: number[]; status: number[]; attributes: (unknown[] | null)[];
    causality: ([number, number, number, number, CRef | null] | null)[];
  };
  more: Record<string, {
    parentSpanID?: string; statusMessage?: string; spanResource?: string; spanType?: string;
    scope?: { name: string; version?: string }; traceState?: string; flags?: string[];
    events?: [number, number, unknown[] | null, number, number, CRef | null][];
    links?: { traceID: string; spanID: string }[];
  }>;
}

/** columnarReader reads the details of span i of a columnar answer. */
function columnarReader(t: CTrace): (i: number) => Details {
  const startUS = usOf(t.start);
  const procs: JProcess[] = t.resources.map((r) => ({ serviceName: r.service, tags: r.attributes }));
  const S = t.strings, c = t.spans;
  const ref = (r: CRef): string => (r[0] >= 0 ? S[r[0]] + ':' : '') + S[r[1]] + ':' + r[2];
  const attrs = (flat: unknown[] | null): JKeyValue[] => {
    if (!flat || !flat.length) return NONE;
    const out: JKeyValue[] = new Array(flat.length / 3);
    for (let k = 0, j = 0; k < flat.length; k += 3, j++) {
      const type = S[flat[k + 1] as number];
      out[j] = { key: S[flat[k] as number], type, value: type === 'string' ? S[flat[k + 2] as number] : flat[k + 2] };
    }
    return out;
  };
  return (i) => {
    const m = t.more[i];
    const cz = c.causality[i];
    const unit = cz ? S[cz[0]] : '';
    let logs: JLog[] = NONE;
    let refs: JRef[] = NONE;
    if (m) {
      if (m.events && m.events.length) {
        logs = m.events.map((e) => {
          const fields: JKeyValue[] = [{ key: 'event', type: 'string', value: S[e[1]] }, ...attrs(e[2])];
          if (e[4]) fields.push({ key: 'weft.seq', type: 'int64', value: e[4] });
          if (e[3] >= 0 && S[e[3]] !== unit) fields.push({ key: 'weft.unit', type: 'string', value: S[e[3]] });
          if (e[5]) fields.push({ key: 'weft.cause', type: 'string', value: ref(e[5]) });
          return { timestamp: startUS + e[0] / 1000, fields };
        });
      }
      if (m.links && m.links.length) refs = m.links.map((l) => ({ refType: 'LINK', traceID: l.traceID, spanID: l.spanID }));
    }
    const kind = S[c.kind[i]];
    return {
      kind: kind === 'unspecified' ? '' : kind, statusMessage: m?.statusMessage || '', tags: attrs(c.attributes[i]), logs, refs,
      process: procs[c.resource[i]] || { serviceName: S[c.service[i]] }, unit, unitEnd: cz && cz[3] >= 0 ? S[cz[3]] : '',
      seqStart: cz ? cz[1] : 0, seqEnd: cz ? cz[2] : 0, cause: cz && cz[4] ? ref(cz[4]) : '', meta: m ? metaOf(m) : undefined,
    };
  };
}

/** buildTraceColumnar resolves a trace in weft's columnar form into the model, as buildTraceWeft does the regular one. */
export function buildTraceColumnar(t: CTrace): Trace {
  const startUS = usOf(t.start);
  const S = t.strings, c = t.spans;
  const details = columnarReader(t);
  const n = c.id.length;
  const spans: Span[] = new Array(n);
  const byID = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const p = c.parent[i];
    spans[i] = {
      i, spanID: c.id[i], parent: -1, parentID: p >= 0 ? c.id[p] : t.more[i]?.parentSpanID || '', name: S[c.name[i]],
      service: S[c.service[i]], start: startUS + c.offset[i] / 1000, dur: c.duration[i] / 1000,
      error: S[c.status[i]] === 'error', depth: 0, children: NONE, critical: false, offset: 0, full: true, ...details(i),
    };
    byID.set(c.id[i], i);
  }
  return assemble(t.traceID, spans, byID, []);
}

// --- the waterfall form (docs/api.md, GET /api/weft/v1/traces/{id}?format=waterfall) ---

/** WFTrace is a trace in weft's waterfall form: only what the waterfall draws, the rest asked for later. */
export interface WFTrace {
  format: 'waterfall';
  traceID: string;
  start: string;
  spanCount: number;
  strings: string[];
  spans: { id: string; parent: number[]; name: number[]; service: number[]; offset: number[]; duration: number[] };
  errorSpans: number[];
}

/** WaterfallSpan is a span read in the waterfall form: the fields it has are its own, the details are the
 * prototype's empty defaults until fillSpans sets them. Half the fields per object: 100,000 of them are built and
 * collected noticeably faster. */
class WaterfallSpan {
  declare i: number;
  declare parent: number;
  declare name: string;
  declare service: string;
  declare start: number;
  declare dur: number;
  declare error: boolean;
  declare depth: number;
  declare children: number[];
  declare critical: boolean;
  declare offset: number;
  constructor(i: number, parent: number, name: string, service: string, start: number, dur: number, error: boolean) {
    this.i = i;
    this.parent = parent;
    this.name = name;
    this.service = service;
    this.start = start;
    this.dur = dur;
    this.error = error;
    this.depth = 0;
    this.children = NONE;
    this.critical = false;
    this.offset = 0;
  }
}
const noDetails: Details & { full: boolean } = {
  kind: '', statusMessage: '', tags: NONE, logs: NONE, refs: NONE, process: { serviceName: '' }, unit: '', unitEnd: '',
  seqStart: 0, seqEnd: 0, cause: '', meta: undefined, full: false,
};
Object.assign(WaterfallSpan.prototype, noDetails);

/**
 * buildTraceWaterfall resolves a trace in the waterfall form into the model, its spans not yet full. The server
 * sends spans sorted by start (then span ID), so children pushed in order of index come out sorted as assemble
 * sorts them; only an answer out of that order is sorted here.
 */
export function buildTraceWaterfall(t: WFTrace): Trace {
  const startUS = usOf(t.start);
  const S = t.strings, c = t.spans;
  const n = c.parent.length;
  const spans: Span[] = new Array(n);
  // The span IDs are read from the answer's one string when asked for: 100,000 fewer strings to make.
  const ids = c.id;
  class TraceSpan extends WaterfallSpan {
    get spanID(): string {
      return ids.substr(16 * this.i, 16);
    }
    get parentID(): string {
      return this.parent >= 0 ? ids.substr(16 * this.parent, 16) : '';
    }
  }
  const errs = new Uint8Array(n);
  for (const e of t.errorSpans) if (e >= 0 && e < n) errs[e] = 1;
  const roots: number[] = [];
  let start = Infinity, end = -Infinity, sorted = true, prev = -Infinity;
  const services = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    let p = c.parent[i];
    if (!(p >= 0 && p < n && p !== i)) p = -1;
    const service = S[c.service[i]];
    const st = startUS + c.offset[i] / 1000;
    spans[i] = new TraceSpan(i, p, S[c.name[i]], service, st, c.duration[i] / 1000, errs[i] === 1) as unknown as Span;
    if (st < start) start = st;
    if (st + c.duration[i] / 1000 > end) end = st + c.duration[i] / 1000;
    if (st < prev) sorted = false;
    prev = st;
    services.set(service, (services.get(service) || 0) + 1);
    if (p < 0) roots.push(i);
  }
  for (let i = 0; i < n; i++) {
    const p = spans[i].parent;
    if (p < 0) continue;
    const ps = spans[p];
    if (ps.children === NONE) ps.children = [];
    ps.children.push(i);
  }
  if (!sorted) {
    const byStart = (a: number, b: number) => spans[a].start - spans[b].start || a - b;
    for (const s of spans) if (s.children.length > 1) s.children.sort(byStart);
    roots.sort(byStart);
  }
  // Depths: walk up to the nearest span whose depth is known, then down again. A parent may come after its child
  // (same start, smaller span ID, or skewed clocks); spans in a cycle of bad data get depth 0, and no root leads
  // to them, as in assemble.
  const depth = new Int32Array(n).fill(-1); // -2: on the chain being walked
  const chain: number[] = [];
  let maxDepth = 0;
  for (let i = 0; i < n; i++) {
    if (depth[i] >= 0) continue;
    let base = -1, cycle = false;
    for (let j = i; ; ) {
      if (depth[j] >= 0) {
        base = depth[j];
        break;
      }
      if (depth[j] === -2) {
        cycle = true;
        break;
      }
      depth[j] = -2;
      chain.push(j);
      j = spans[j].parent;
      if (j < 0) break;
    }
    for (let d = base; chain.length; ) {
      const k = chain.pop()!;
      d = cycle ? 0 : d + 1;
      depth[k] = d;
      spans[k].depth = d;
      if (d > maxDepth) maxDepth = d;
    }
  }
  return {
    id: t.traceID, spans, roots, start: n ? start : 0, end: n ? end : 0, errors: t.errorSpans.length, maxDepth, services,
    warnings: [], hasUnits: false, hasOffsets: false, partial: n > 0, ids: c.id,
  };
}

function fill(sp: Span, d: Details): void {
  Object.assign(sp, d);
  sp.full = true;
}

/** fillSpans completes the spans of a trace read in the waterfall form from the columnar answer for the same
 * read (the server keeps it: same spans, same order), or the regular answer for some spans (spanID=). It answers
 * whether every span is full now. Spans are matched by index when the IDs agree there (hint: the index of the
 * one span asked for), else by ID and start. */
export function fillSpans(tr: Trace, t: CTrace | WTrace, hint = -1): boolean {
  const sp = tr.spans;
  let byID: Map<string, Span[]> | undefined;
  const find = (id: string, i: number, startUS: number): Span | undefined => {
    if (i >= 0 && i < sp.length && sp[i].spanID === id) return sp[i];
    if (!byID) {
      byID = new Map();
      for (const s of sp) {
        const l = byID.get(s.spanID);
        if (l) l.push(s);
        else byID.set(s.spanID, [s]);
      }
    }
    const l = byID.get(id);
    return l && (l.find((s) => Math.abs(s.start - startUS) < 0.001) || l[0]);
  };
  if ('format' in t && t.format === 'columnar') {
    const details = columnarReader(t);
    const startUS = usOf(t.start);
    for (let i = 0; i < t.spans.id.length; i++) {
      const s = find(t.spans.id[i], i, startUS + t.spans.offset[i] / 1000);
      if (s && !s.full) fill(s, details(i));
    }
  } else {
    const w = t as WTrace;
    const startUS = usOf(w.start);
    const procs: JProcess[] = w.resources.map((r) => ({ serviceName: r.service, tags: r.attributes }));
    for (const ws of w.spans) {
      const s = find(ws.spanID, hint, ws.start !== undefined ? usOf(ws.start) : startUS + ws.offset / 1000);
      if (s && !s.full) fill(s, weftDetails(ws, startUS, procs));
    }
  }
  let all = true;
  for (const s of sp) {
    if (!s.full) {
      all = false;
      break;
    }
  }
  if (all) {
    tr.partial = false;
    tr.hasUnits = sp.some((s) => s.unit !== '');
  }
  return all;
}
