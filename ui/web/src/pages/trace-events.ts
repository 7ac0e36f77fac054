// The event view of a trace: one lane per execution unit (a goroutine doing sequential work for the trace), the
// spans on it, its numbered events, and the causal edges between units: fork, join, send, receive. Spans from
// foreign clients carry no units; they get one lane per service so the view still shows them.

import { h, count, fmtDur, serviceColor } from '../dom';
import { TimeCanvas, escapeHTML, type View } from '../canvasview';
import type { TraceHost } from './trace';
import { preorder, type Span } from '../model';

const LANE = 30;
const TOP = 26;
const LEFT = 230;

interface Ev { t: number; lane: number; name: string; span: number }
interface Edge { from: Ev; to: Ev; kind: string }
interface Lane { key: string; label: string; sub: string; service: string; spans: number[]; levels: number[]; foreign: boolean }

const edgeColors: Record<string, string> = { fork: '#3d63dd', join: '#16a394', send: '#e07b39', receive: '#9b5de5', lock: '#c9a227', cause: '#8a93a6' };

export function eventView(root: HTMLElement, host: TraceHost): { destroy(): void; update(): void } {
  const tr = host.tr;
  const sp = tr.spans;
  const laneOf = new Map<string, number>();
  const lanes: Lane[] = [];
  // Lanes in the order the span tree meets them: a unit's lane comes after the lane that started it.
  const order = preorder(tr, new Uint8Array(sp.length));
  for (const i of order) {
    const s = sp[i];
    const key = s.unit || 'svc:' + s.service;
    let l = laneOf.get(key);
    if (l === undefined) {
      l = lanes.length;
      laneOf.set(key, l);
      lanes.push({ key, label: s.service + (s.unit ? '' : ' (no units)'), sub: s.unit ? `unit ${s.unit.slice(0, 8)}… · ${s.name}` : 'spans from a client without weft events', service: s.service, spans: [], levels: [], foreign: !s.unit });
    }
    lanes[l].spans.push(i);
  }
  // Nesting level of each span on its lane: spans on one unit are sequential or nested.
  for (const lane of lanes) {
    lane.spans.sort((a, b) => sp[a].start - sp[b].start);
    const open: number[] = [];
    for (const i of lane.spans) {
      const s = sp[i];
      while (open.length && sp[open[open.length - 1]].start + sp[open[open.length - 1]].dur <= s.start) open.pop();
      lane.levels.push(lane.foreign ? 0 : Math.min(open.length, 3));
      open.push(i);
    }
  }
  // Events by "unit:seq", then the edges between them.
  const events = new Map<string, Ev>();
  const at = (unit: string, seq: number, ev: Ev) => {
    if (unit && seq) events.set(unit + ':' + seq, ev);
  };
  const pending: [string, Ev, string][] = []; // cause, dependent event, dependent's name
  for (const s of sp) {
    if (!s.unit) continue;
    const lane = laneOf.get(s.unit)!;
    const startEv: Ev = { t: s.start, lane, name: 'start ' + s.name, span: s.i };
    at(s.unit, s.seqStart, startEv);
    const endLane = laneOf.get(s.unitEnd || s.unit) ?? lane;
    at(s.unitEnd || s.unit, s.seqEnd, { t: s.start + s.dur, lane: endLane, name: 'end ' + s.name, span: s.i });
    if (s.cause) pending.push([s.cause, startEv, 'start']);
    for (const l of s.logs) {
      let seq = 0, unit = s.unit, cause = '', name = 'log';
      for (const f of l.fields) {
        if (f.key === 'weft.seq') seq = Number(f.value);
        else if (f.key === 'weft.unit') unit = String(f.value);
        else if (f.key === 'weft.cause') cause = String(f.value);
        else if (f.key === 'event') name = String(f.value);
      }
      if (!seq) continue;
      const ev: Ev = { t: l.timestamp, lane: laneOf.get(unit) ?? lane, name, span: s.i };
      at(unit, seq, ev);
      if (cause) pending.push([cause, ev, name]);
    }
  }
  const edges: Edge[] = [];
  for (const [cause, to, toName] of pending) {
    const parts = cause.split(':');
    if (parts.length !== 2) continue; // a cause in another trace
    const from = events.get(cause);
    if (!from) continue;
    const kind = from.name === 'weft.fork' ? 'fork' : from.name === 'weft.send' ? 'send'
      : toName === 'weft.join' ? 'join' : toName === 'weft.receive' ? 'receive' : toName.startsWith('weft.lock') ? 'lock' : 'cause';
    edges.push({ from, to, kind });
  }
  // By lane and time, so that drawing skips ticks that fall on the same pixel.
  const evList = [...events.values()].sort((a, b) => a.lane - b.lane || a.t - b.t);

  const rel = (t: number, i: number) => t - tr.start + (host.start(i) - (sp[i].start - tr.start));
  const cp = host.critical;

  const draw = (ctx: CanvasRenderingContext2D, v: View) => {
    const y0 = TOP - v.y;
    const firstLane = Math.max(0, Math.floor((v.y) / LANE));
    const lastLane = Math.min(lanes.length, Math.ceil((v.y + v.height) / LANE));
    ctx.font = '11px system-ui, sans-serif';
    for (let l = firstLane; l < lastLane; l++) {
      const lane = lanes[l];
      const y = y0 + l * LANE;
      if (l % 2) {
        ctx.fillStyle = 'rgba(20,30,60,.025)';
        ctx.fillRect(0, y, v.left + v.width + 12, LANE);
      }
      const sel = host.selected();
      const lastX = [-1, -1, -1, -1];
      for (let k = 0; k < lane.spans.length; k++) {
        const i = lane.spans[k];
        const s = sp[i];
        const t = host.start(i);
        if (t > v.t1 || t + s.dur < v.t0) continue;
        const x0 = Math.max(v.left, v.x(t));
        const x1 = Math.min(v.left + v.width, v.x(t + s.dur));
        const lev = lane.levels[k];
        // Thousands of spans narrower than a pixel: one box per pixel and level is enough.
        if (x1 - x0 < 1 && i !== sel) {
          const px = Math.floor(x0);
          if (px === lastX[lev]) continue;
          lastX[lev] = px;
        }
        ctx.globalAlpha = lane.foreign ? 0.45 : 0.35 + lev * 0.2;
        ctx.fillStyle = s.error ? '#d93843' : serviceColor(s.service);
        ctx.fillRect(x0, y + 6 + lev * 3, Math.max(x1 - x0, 1), LANE - 12 - lev * 3);
        ctx.globalAlpha = 1;
        if (i === sel) {
          ctx.strokeStyle = '#1b2233';
          ctx.lineWidth = 2;
          ctx.strokeRect(x0, y + 5, Math.max(x1 - x0, 2), LANE - 10);
        } else if (s.critical && !cp?.segStart.length) {
          ctx.fillStyle = '#f2a900';
          ctx.fillRect(x0, y + LANE - 6, Math.max(x1 - x0, 1), 2);
        }
        if (x1 - x0 > 60 && lev === 0) {
          ctx.fillStyle = '#1d2330';
          ctx.save();
          ctx.beginPath();
          ctx.rect(x0, y, x1 - x0 - 2, LANE);
          ctx.clip();
          ctx.fillText(s.name, x0 + 4, y + LANE / 2 + 4);
          ctx.restore();
        }
      }
    }
    // The exact critical path from the analysis, as a band under the lanes it ran on.
    for (let k = 0; cp && k < cp.segStart.length; k++) {
      const unit = cp.strings[cp.segUnit[k]];
      const l = unit ? laneOf.get(unit) : undefined;
      if (l === undefined) continue;
      const a = cp.segStart[k] - tr.start, b = cp.segEnd[k] - tr.start;
      if (b < v.t0 || a > v.t1) continue;
      ctx.fillStyle = cp.strings[cp.segKind[k]] === 'transit' ? 'rgba(242,169,0,.45)' : '#f2a900';
      ctx.fillRect(v.x(a), y0 + l * LANE + LANE - 5, Math.max(v.x(b) - v.x(a), 1.5), 3);
    }
    // Events as ticks.
    ctx.fillStyle = '#1d2330';
    let prevLane = -1, prevX = -1;
    for (const e of evList) {
      const t = rel(e.t, e.span);
      if (t < v.t0 || t > v.t1 || e.lane < firstLane || e.lane >= lastLane) continue;
      const x = Math.floor(v.x(t));
      if (x === prevX && e.lane === prevLane) continue;
      prevX = x;
      prevLane = e.lane;
      ctx.fillRect(x - 0.5, y0 + e.lane * LANE + 4, 1.5, 4);
    }
    // Causal edges.
    ctx.lineWidth = 1.3;
    for (const e of edges) {
      const ta = rel(e.from.t, e.from.span), tb = rel(e.to.t, e.to.span);
      if (Math.max(ta, tb) < v.t0 || Math.min(ta, tb) > v.t1) continue;
      const la = e.from.lane, lb = e.to.lane;
      if (Math.max(la, lb) < firstLane || Math.min(la, lb) >= lastLane) continue;
      const xa = v.x(ta), xb = v.x(tb);
      const ya = y0 + la * LANE + LANE / 2, yb = y0 + lb * LANE + LANE / 2;
      ctx.strokeStyle = edgeColors[e.kind];
      ctx.fillStyle = edgeColors[e.kind];
      ctx.beginPath();
      ctx.moveTo(xa, ya);
      const mid = (ya + yb) / 2;
      ctx.bezierCurveTo(xa, mid, xb, mid, xb, yb);
      ctx.stroke();
      ctx.beginPath();
      const dir = yb > ya ? -1 : 1;
      ctx.moveTo(xb, yb);
      ctx.lineTo(xb - 3.5, yb + dir * 6);
      ctx.lineTo(xb + 3.5, yb + dir * 6);
      ctx.fill();
      ctx.beginPath();
      ctx.arc(xa, ya, 2.2, 0, Math.PI * 2);
      ctx.fill();
    }
    // Lane labels over everything at the left.
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, TOP - 5, v.left - 6, v.height);
    ctx.fillStyle = '#e3e6eb';
    ctx.fillRect(v.left - 6, TOP - 5, 1, v.height);
    for (let l = firstLane; l < lastLane; l++) {
      const lane = lanes[l];
      const y = y0 + l * LANE;
      ctx.fillStyle = serviceColor(lane.service);
      ctx.fillRect(6, y + 6, 3, LANE - 12);
      ctx.fillStyle = '#1d2330';
      ctx.font = '600 11px system-ui, sans-serif';
      ctx.fillText(clip(ctx, lane.label, v.left - 24), 14, y + 13);
      ctx.fillStyle = '#6a7383';
      ctx.font = '10px system-ui, sans-serif';
      ctx.fillText(clip(ctx, lane.sub, v.left - 24), 14, y + 25);
    }
  };

  const hit = (x: number, y: number, v: View) => {
    if (x < v.left || y < TOP) return null;
    const l = Math.floor((y - TOP + v.y) / LANE);
    const lane = lanes[l];
    if (!lane) return null;
    const t = v.t0 + ((x - v.left) / v.width) * (v.t1 - v.t0);
    const slack = (3 / v.width) * (v.t1 - v.t0);
    let best = -1;
    for (let k = 0; k < lane.spans.length; k++) {
      const i = lane.spans[k];
      const st = host.start(i);
      if (st - slack <= t && t <= st + sp[i].dur + slack) best = i; // the last (innermost) one wins
    }
    if (best < 0) return null;
    const s: Span = sp[best];
    return {
      html: `<b>${escapeHTML(s.service)}</b> · ${escapeHTML(s.name)}<br><span class="muted">${fmtDur(s.dur)} at +${fmtDur(host.start(best))}${s.unit ? ' · unit ' + s.unit : ''}</span>`,
      onClick: () => host.select(best),
    };
  };

  const contentHeight = () => lanes.length * LANE + TOP + 10;
  const tc = new TimeCanvas({ total: Math.max(tr.end - tr.start, 1), left: LEFT, contentHeight, draw, hit });
  const counts: Record<string, number> = {};
  for (const e of edges) counts[e.kind] = (counts[e.kind] || 0) + 1;
  const foreign = lanes.filter((l) => l.foreign).length;
  const legend = h('div', { class: 'legend' },
    ...Object.keys(edgeColors).filter((k) => counts[k]).map((k) => h('span', null, h('i', { style: { background: edgeColors[k] } }), `${k} (${counts[k]})`)),
    h('span', null, h('i', { style: { background: '#f2a900' } }), 'critical path'),
  );
  root.append(
    h('div', { class: 'toolbar' },
      h('b', null, `${lanes.length - foreign} execution units`),
      foreign ? h('span', { class: 'hint' }, `+ ${foreign} lanes of spans without units`) : null,
      h('span', { class: 'hint', title: 'drag to pan, ctrl+wheel to zoom' }, `${count(evList.length, 'event')}, ${count(edges.length, 'edge')}`),
      legend,
      h('div', { class: 'spacer' }),
      tc.zoomButtons(),
    ),
    tc.el,
  );
  return { destroy: () => tc.destroy(), update: () => tc.redraw() };
}

function clip(ctx: CanvasRenderingContext2D, text: string, w: number): string {
  if (ctx.measureText(text).width <= w) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const m = (lo + hi + 1) >> 1;
    if (ctx.measureText(text.slice(0, m) + '…').width <= w) lo = m;
    else hi = m - 1;
  }
  return text.slice(0, lo) + '…';
}
