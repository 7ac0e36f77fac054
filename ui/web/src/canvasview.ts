// A canvas that shows a time axis: drag to pan, ctrl+wheel (or the buttons) to zoom, wheel to scroll vertically.
// The event view and the flame graph draw on it; only what is inside the view is drawn.

import { h, fmtDur } from './dom';

export interface View {
  t0: number; // left edge, microseconds from the trace start
  t1: number; // right edge
  y: number; // vertical scroll in CSS pixels
  width: number; // CSS pixels of the plotting area
  height: number;
  left: number; // pixels reserved at the left (labels)
  x(t: number): number; // trace-relative time to CSS pixel
}

export interface CanvasOptions {
  total: number; // trace duration in microseconds
  left: number;
  contentHeight: () => number;
  draw: (ctx: CanvasRenderingContext2D, v: View) => void;
  hit?: (x: number, y: number, v: View) => { html: string; onClick?: () => void } | null;
}

export class TimeCanvas {
  readonly el: HTMLElement;
  private canvas: HTMLCanvasElement;
  private ctx: CanvasRenderingContext2D;
  private tip: HTMLElement;
  private view: View;
  private ro: ResizeObserver;
  private pending = false;

  constructor(private opt: CanvasOptions) {
    this.canvas = h('canvas');
    this.tip = h('div', { class: 'tooltip', style: { display: 'none' } });
    this.el = h('div', { class: 'canvas-wrap' }, this.canvas);
    document.body.appendChild(this.tip);
    this.ctx = this.canvas.getContext('2d')!;
    const self = this;
    this.view = {
      t0: 0, t1: Math.max(opt.total, 1), y: 0, width: 0, height: 0, left: opt.left,
      x(t: number) { return self.view.left + ((t - self.view.t0) / (self.view.t1 - self.view.t0)) * self.view.width; },
    };
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(this.el);
    this.el.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    let drag: { x: number; y: number; t0: number; t1: number; sy: number; moved: boolean } | null = null;
    this.canvas.addEventListener('mousedown', (e) => {
      drag = { x: e.clientX, y: e.clientY, t0: this.view.t0, t1: this.view.t1, sy: this.view.y, moved: false };
    });
    window.addEventListener('mousemove', this.onMove = (e: MouseEvent) => {
      if (drag) {
        const dx = e.clientX - drag.x;
        const dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        const dt = (dx / this.view.width) * (drag.t1 - drag.t0);
        this.setWindow(drag.t0 - dt, drag.t1 - dt);
        this.scrollTo(drag.sy - dy);
        this.tip.style.display = 'none';
        return;
      }
      this.hover(e);
    });
    window.addEventListener('mouseup', this.onUp = (e: MouseEvent) => {
      if (drag && !drag.moved && e.target === this.canvas) {
        const r = this.canvas.getBoundingClientRect();
        const hit = this.opt.hit?.(e.clientX - r.left, e.clientY - r.top, this.view);
        hit?.onClick?.();
      }
      drag = null;
    });
    this.canvas.addEventListener('mouseleave', () => (this.tip.style.display = 'none'));
  }

  private onMove: (e: MouseEvent) => void;
  private onUp: (e: MouseEvent) => void;

  destroy(): void {
    this.ro.disconnect();
    this.tip.remove();
    window.removeEventListener('mousemove', this.onMove);
    window.removeEventListener('mouseup', this.onUp);
  }

  zoomButtons(): HTMLElement {
    return h('span', { class: 'seg' },
      h('button', { title: 'Zoom in (ctrl+wheel)', onclick: () => this.zoom(0.5, 0.5) }, '+'),
      h('button', { title: 'Zoom out', onclick: () => this.zoom(2, 0.5) }, '−'),
      h('button', { title: 'Show the whole trace', onclick: () => this.setWindow(0, this.opt.total) }, 'Fit'),
    );
  }

  setWindow(t0: number, t1: number): void {
    const total = Math.max(this.opt.total, 1);
    const span = Math.min(Math.max(t1 - t0, total / 1e6, 0.001), total);
    t0 = Math.max(0, Math.min(t0, total - span));
    this.view.t0 = t0;
    this.view.t1 = t0 + span;
    this.redraw();
  }

  scrollTo(y: number): void {
    const max = Math.max(0, this.opt.contentHeight() - this.view.height);
    this.view.y = Math.max(0, Math.min(max, y));
    this.redraw();
  }

  private zoom(factor: number, at: number): void {
    const { t0, t1 } = this.view;
    const c = t0 + (t1 - t0) * at;
    const span = (t1 - t0) * factor;
    this.setWindow(c - span * at, c - span * at + span);
  }

  private wheel(e: WheelEvent): void {
    e.preventDefault();
    if (e.ctrlKey || e.metaKey) {
      const r = this.canvas.getBoundingClientRect();
      const at = Math.max(0, Math.min(1, (e.clientX - r.left - this.view.left) / this.view.width));
      this.zoom(Math.exp(e.deltaY * 0.002), at);
    } else if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      const d = e.deltaX || e.deltaY;
      const dt = (d / this.view.width) * (this.view.t1 - this.view.t0);
      this.setWindow(this.view.t0 + dt, this.view.t1 + dt);
    } else {
      this.scrollTo(this.view.y + e.deltaY);
    }
  }

  private hover(e: MouseEvent): void {
    if (e.target !== this.canvas || !this.opt.hit) {
      return;
    }
    const r = this.canvas.getBoundingClientRect();
    const hit = this.opt.hit(e.clientX - r.left, e.clientY - r.top, this.view);
    if (!hit) {
      this.tip.style.display = 'none';
      this.canvas.style.cursor = 'default';
      return;
    }
    this.canvas.style.cursor = hit.onClick ? 'pointer' : 'default';
    this.tip.innerHTML = hit.html;
    this.tip.style.display = 'block';
    const x = Math.min(e.clientX + 14, window.innerWidth - this.tip.offsetWidth - 8);
    this.tip.style.left = x + 'px';
    this.tip.style.top = e.clientY + 14 + 'px';
  }

  private resize(): void {
    const w = this.el.clientWidth;
    const ht = this.el.clientHeight;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(ht * dpr);
    this.canvas.style.width = w + 'px';
    this.canvas.style.height = ht + 'px';
    this.view.width = Math.max(10, w - this.view.left - 12);
    this.view.height = ht;
    this.redraw();
  }

  redraw(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      const dpr = window.devicePixelRatio || 1;
      const ctx = this.ctx;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
      this.drawGrid(ctx);
      this.opt.draw(ctx, this.view);
      this.drawAxis(ctx);
    });
  }

  private tickList(): number[] {
    const v = this.view;
    return ticks(v.t0, v.t1, Math.max(2, Math.floor(v.width / 110)));
  }

  private drawGrid(ctx: CanvasRenderingContext2D): void {
    ctx.fillStyle = '#eef0f3';
    for (const t of this.tickList()) ctx.fillRect(Math.round(this.view.x(t)), 21, 1, this.view.height);
  }

  private drawAxis(ctx: CanvasRenderingContext2D): void {
    const v = this.view;
    ctx.fillStyle = 'rgba(250,251,252,.96)';
    ctx.fillRect(0, 0, v.left + v.width + 12, 20);
    ctx.strokeStyle = '#e3e6eb';
    ctx.beginPath();
    ctx.moveTo(0, 20.5);
    ctx.lineTo(v.left + v.width + 12, 20.5);
    ctx.stroke();
    ctx.fillStyle = '#6a7383';
    ctx.font = '10px system-ui, sans-serif';
    ctx.textAlign = 'center';
    for (const t of this.tickList()) {
      const x = v.x(t);
      if (x < v.left + 16) continue;
      ctx.fillText(fmtDur(t), x, 13);
    }
    ctx.textAlign = 'left';
  }
}

/** ticks picks round values between t0 and t1, about n of them. */
export function ticks(t0: number, t1: number, n: number): number[] {
  const span = t1 - t0;
  if (span <= 0) return [t0];
  const raw = span / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out: number[] = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1 + step * 1e-9; t += step) out.push(t);
  return out;
}

export function escapeHTML(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
