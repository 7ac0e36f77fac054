// Directed graphs laid out by dagre and drawn as SVG: the request-flow graph and the service map.

import * as dagre from '@dagrejs/dagre';
import { s } from './dom';

export interface GNode {
  id: string;
  title: string;
  lines: string[];
  color: string;
  error?: boolean;
}
export interface GEdge {
  from: string;
  to: string;
  label: string;
  weight: number; // relative 0..1, for the stroke width
  error?: boolean;
  dashed?: boolean;
}

/** drawGraph lays out and draws a graph; onNode is called with a node's ID when it is clicked. */
export function drawGraph(nodes: GNode[], edges: GEdge[], opts: { rankdir?: 'LR' | 'TB'; selected?: string; onNode?: (id: string) => void } = {}): SVGElement {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: opts.rankdir || 'LR', nodesep: 18, ranksep: 70, edgesep: 10, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  const byID = new Map(nodes.map((n) => [n.id, n]));
  for (const n of nodes) {
    const w = Math.max(n.title.length * 7.2, ...n.lines.map((l) => l.length * 6.2)) + 26;
    g.setNode(n.id, { width: Math.min(Math.max(w, 110), 320), height: 22 + 15 * n.lines.length + 6 });
  }
  edges.forEach((e, k) => {
    if (byID.has(e.from) && byID.has(e.to)) g.setEdge(e.from, e.to, { width: e.label.length * 5.6 + 8, height: 14, labelpos: 'c' }, 'e' + k);
  });
  dagre.layout(g);
  const gl = g.graph();
  const W = (gl.width || 200) + 10, H = (gl.height || 100) + 10;
  // Scaled down to the width available (never up, and at most to 80% so the text stays readable; beyond that the
  // graph scrolls).
  const svg = s('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: 'graph', style: { maxWidth: '100%', minWidth: Math.round(W * 0.8) + 'px', height: 'auto' } });
  svg.appendChild(s('defs', null,
    s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#a3abba' })),
    s('marker', { id: 'arrow-err', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#e57d86' })),
  ));
  edges.forEach((e, k) => {
    if (!byID.has(e.from) || !byID.has(e.to)) return;
    const ge = g.edge(e.from, e.to, 'e' + k) as unknown as { points: { x: number; y: number }[]; x: number; y: number };
    if (!ge?.points) return;
    const pts = ge.points;
    let d = `M${pts[0].x},${pts[0].y}`;
    if (pts.length === 2) d += ` L${pts[1].x},${pts[1].y}`;
    else {
      for (let i = 1; i < pts.length - 1; i++) {
        const mx = (pts[i].x + pts[i + 1].x) / 2, my = (pts[i].y + pts[i + 1].y) / 2;
        d += ` Q${pts[i].x},${pts[i].y} ${i === pts.length - 2 ? pts[i + 1].x : mx},${i === pts.length - 2 ? pts[i + 1].y : my}`;
      }
    }
    svg.appendChild(s('g', { class: 'gedge' + (e.error ? ' err' : '') },
      s('path', { d, 'stroke-width': 1.2 + e.weight * 3.5, 'marker-end': e.error ? 'url(#arrow-err)' : 'url(#arrow)', 'stroke-dasharray': e.dashed ? '5 4' : null }),
      s('rect', { x: ge.x - e.label.length * 2.8 - 3, y: ge.y - 8, width: e.label.length * 5.6 + 6, height: 14, rx: 3, fill: '#fff', opacity: 0.9 }),
      s('text', { x: ge.x, y: ge.y + 3, 'text-anchor': 'middle' }, e.label),
    ));
  });
  for (const n of nodes) {
    const gn = g.node(n.id);
    if (!gn) continue;
    const x = gn.x - gn.width / 2, y = gn.y - gn.height / 2;
    const el = s('g', { class: 'gnode' + (n.error ? ' haserr' : '') + (opts.selected === n.id ? ' sel' : ''), 'data-id': n.id, transform: `translate(${x},${y})` },
      s('rect', { class: 'bg', width: gn.width, height: gn.height, rx: 6 }),
      s('rect', { width: 4, height: gn.height - 8, x: 4, y: 4, rx: 2, fill: n.color, stroke: 'none' }),
      s('text', { class: 't1', x: 14, y: 17 }, clipText(n.title, (gn.width - 20) / 7.2)),
      ...n.lines.map((l, k) => s('text', { class: 't2', x: 14, y: 33 + 15 * k }, clipText(l, (gn.width - 20) / 6.2))),
      s('title', null, n.title + '\n' + n.lines.join('\n')),
    );
    if (opts.onNode) el.addEventListener('click', () => opts.onNode!(n.id));
    svg.appendChild(el);
  }
  return svg;
}

function clipText(t: string, chars: number): string {
  const n = Math.floor(chars);
  return t.length <= n ? t : t.slice(0, Math.max(1, n - 1)) + '…';
}
