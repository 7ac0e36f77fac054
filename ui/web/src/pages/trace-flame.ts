// The flame graph of a trace: time across, depth down, one box per span, drawn on a canvas so that 100,000
// spans draw in a few milliseconds. Click a box for its details.

import { h, count, fmtDur, serviceColor } from '../dom';
import { TimeCanvas, escapeHTML, type View } from '../canvasview';
import type { TraceHost } from './trace';

const ROWH = 18;
const TOP = 26;

export function flameGraph(root: HTMLElement, host: TraceHost): { destroy(): void; update(): void } {
  const tr = host.tr;
  const sp = tr.spans;
  const byDepth = layoutRows(host);

  const draw = (ctx: CanvasRenderingContext2D, v: View) => {
    ctx.font = '11px system-ui, sans-serif';
    const sel = host.selected();
    const first = Math.max(0, Math.floor(v.y / ROWH) - 1);
    const last = Math.min(byDepth.length, Math.ceil((v.y + v.height) / ROWH) + 1);
    const pxPerUs = v.width / (v.t1 - v.t0);
    for (let d = first; d < last; d++) {
      const row = byDepth[d];
      if (!row) continue;
      const y = TOP + d * ROWH - v.y;
      let lastX = -1;
      for (const i of row) {
        const s = sp[i];
        const t = host.start(i);
        if (t > v.t1 || t + s.dur < v.t0) continue;
        const x0 = Math.max(v.left, v.x(t));
        const x1 = Math.min(v.left + v.width, v.x(t + s.dur));
        const w = x1 - x0;
        if (w < 0.6 && Math.floor(x0) === lastX) continue; // many tiny boxes on one pixel: draw one
        lastX = Math.floor(x0);
        ctx.fillStyle = s.error ? '#d93843' : serviceColor(s.service);
        ctx.globalAlpha = s.critical ? 1 : 0.72;
        ctx.fillRect(x0, y, Math.max(w - (w > 3 ? 1 : 0), 0.8), ROWH - 1);
        ctx.globalAlpha = 1;
        if (s.critical && w > 2) {
          ctx.fillStyle = '#f2a900';
          ctx.fillRect(x0, y + ROWH - 3, w - 1, 2);
        }
        if (i === sel) {
          ctx.strokeStyle = '#1b2233';
          ctx.lineWidth = 2;
          ctx.strokeRect(x0 + 1, y + 1, Math.max(w - 2, 2), ROWH - 3);
        }
        if (w > 36) {
          ctx.save();
          ctx.beginPath();
          ctx.rect(x0, y, w - 3, ROWH);
          ctx.clip();
          ctx.fillStyle = '#fff';
          ctx.fillText(s.name + (w > 140 ? '  ' + fmtDur(s.dur) : ''), x0 + 4, y + 12.5);
          ctx.restore();
        }
      }
    }
    void pxPerUs;
  };

  const find = (x: number, y: number, v: View): number => {
    const d = Math.floor((y - TOP + v.y) / ROWH);
    const row = byDepth[d];
    if (!row || x < v.left) return -1;
    const t = v.t0 + ((x - v.left) / v.width) * (v.t1 - v.t0);
    const slack = (1 / v.width) * (v.t1 - v.t0);
    let lo = 0, hi = row.length - 1, k = -1;
    while (lo <= hi) {
      const m = (lo + hi) >> 1;
      if (host.start(row[m]) <= t + slack) {
        k = m;
        lo = m + 1;
      } else hi = m - 1;
    }
    for (let j = k; j >= 0 && j > k - 50; j--) {
      const i = row[j];
      if (host.start(i) + sp[i].dur + slack >= t) return i;
    }
    return -1;
  };

  const hit = (x: number, y: number, v: View) => {
    const i = find(x, y, v);
    if (i < 0) return null;
    const s = sp[i];
    return {
      html: `<b>${escapeHTML(s.service)}</b> · ${escapeHTML(s.name)}<br><span class="muted">${fmtDur(s.dur)} at +${fmtDur(host.start(i))}, depth ${s.depth}${s.error ? ' · error' : ''}${s.critical ? ' · critical path' : ''}</span>`,
      onClick: () => host.select(i),
    };
  };

  const tc = new TimeCanvas({ total: Math.max(tr.end - tr.start, 1), left: 8, contentHeight: () => byDepth.length * ROWH + TOP + 10, draw, hit });
  tc.el.addEventListener('dblclick', () => {
    const i = host.selected();
    if (i >= 0) tc.setWindow(host.start(i), host.start(i) + Math.max(sp[i].dur, 1));
  });
  root.append(
    h('div', { class: 'toolbar' },
      h('b', null, 'Flame graph'),
      h('span', { class: 'hint' }, `${count(sp.length, 'span')} on ${count(byDepth.length, 'row')} (concurrent children side by side) · click a box for details, double-click to zoom to it`),
      h('div', { class: 'spacer' }),
      tc.zoomButtons(),
    ),
    tc.el,
  );
  return { destroy: () => tc.destroy(), update: () => tc.redraw() };
}

/**
 * layoutRows places each span on a row below its parent. Children that overlap in time (concurrent work) go to
 * separate bands, each as tall as the subtrees in it, so that no box hides another. Returns the spans of each
 * row sorted by start, for drawing and for hit testing by binary search.
 */
function layoutRows(host: TraceHost): number[][] {
  const tr = host.tr;
  const sp = tr.spans;
  const n = sp.length;
  const height = new Int32Array(n);
  const offset = new Int32Array(n); // of a child's band below its parent's row + 1
  const order: number[] = [];
  const stack = tr.roots.slice().reverse();
  while (stack.length) {
    const i = stack.pop()!;
    order.push(i);
    const ch = sp[i].children;
    for (let c = ch.length - 1; c >= 0; c--) stack.push(ch[c]);
  }
  const pack = (kids: number[]): number => {
    const ends: number[] = [];
    const heights: number[] = [];
    const slot: number[] = [];
    for (const c of kids) {
      let j = 0;
      while (j < ends.length && ends[j] > sp[c].start) j++;
      if (j === ends.length) {
        ends.push(0);
        heights.push(0);
      }
      ends[j] = sp[c].start + sp[c].dur;
      heights[j] = Math.max(heights[j], height[c]);
      slot.push(j);
    }
    const prefix = [0];
    for (const x of heights) prefix.push(prefix[prefix.length - 1] + x);
    kids.forEach((c, k) => (offset[c] = prefix[slot[k]]));
    return prefix[prefix.length - 1];
  };
  for (let k = order.length - 1; k >= 0; k--) {
    const i = order[k];
    height[i] = 1 + pack(sp[i].children);
  }
  pack(tr.roots);
  const row = new Int32Array(n);
  const rows: number[][] = [];
  for (const i of order) {
    const p = sp[i].parent;
    row[i] = p >= 0 ? row[p] + 1 + offset[i] : offset[i];
    (rows[row[i]] ||= []).push(i);
  }
  for (let r = 0; r < rows.length; r++) {
    if (!rows[r]) rows[r] = [];
    else rows[r].sort((a, b) => sp[a].start - sp[b].start);
  }
  return rows;
}
