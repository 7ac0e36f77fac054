// The trace page (/trace/{id}): a virtualized waterfall with a minimap, collapsible subtrees, the critical path,
// span details, raw and clock-adjusted times; the event view (execution units as lanes); a flame graph; and the
// OTLP JSON download. Only the rows in view exist in the DOM, so a 100,000-span trace opens and scrolls like a
// small one.

import { h, clear, fmtDur, fmtTime, fmtNum, serviceColor, loading, errorBox, colorsReady } from '../dom';
import { getTrace, getWeftTrace, optional, HTTPError, type JTrace, type JKeyValue } from '../api';
import { buildTrace, buildTraceColumnar, buildTraceWaterfall, buildTraceWeft, fillSpans, markCriticalPath, preorder, subtreeSize, toOTLP, type Trace, type Span, type WTrace, type CTrace, type WFTrace } from '../model';
import type { CriticalPathMessage } from '../cpworker';
import { criticalColumns, type CriticalPath, type CriticalPathAnswer } from '../critical';
import { replaceQuery, query, type Page } from '../router';
import { ticks } from '../canvasview';
import { eventView } from './trace-events';
import { flameGraph } from './trace-flame';

const ROW = 24;
// Traces larger than this ask for clock offsets only when the adjusted clock is chosen, and for the rest of their
// spans (attributes, events, causality) only when a view needs it; a smaller trace's rest is asked for at once.
const LAZY_CLOCK = 20000;
const LAZY_DETAILS = 20000;
// How long a large trace's page waits for the reader to pause before it asks for the analysis, and at most.
const SETTLE = 700;
const SETTLE_MAX = 4000;

interface ClockAnswer {
  processes: { id: number; service: string; offset: number; constrained: boolean; root?: boolean }[];
  inconsistencies: { message: string }[];
  spans: { spanID: string; offset: number }[];
}

export const tracePage: Page = (root, path, params) => {
  const id = decodeURIComponent(path.split('/')[2] || '');
  const ctl = new AbortController();
  root.appendChild(loading('Loading trace ' + id + '…'));
  let view: TraceView | null = null;
  (async () => {
    try {
      // The waterfall form has only what the rows draw, and the rest of the spans is asked for afterwards. A server
      // without it answers 400: then the columnar form, a fraction of the regular answer's size (a server that
      // ignores that parameter answers the regular form, which is read as before), or else Jaeger's API.
      const [wf] = await Promise.all([
        getWeftTrace<WFTrace | CTrace | WTrace>(id, ctl.signal, 'waterfall').catch((e) => {
          if (e instanceof HTTPError && e.status === 400) return null;
          throw e;
        }),
        colorsReady(),
      ]);
      const wt = wf && 'format' in wf && wf.format === 'waterfall' ? null : wf || (await getWeftTrace<WTrace | CTrace>(id, ctl.signal, 'columnar'));
      const jt = wf || wt ? null : await getTrace(id, ctl.signal);
      performance.mark('weft:fetched');
      const tr = wf && 'format' in wf && wf.format === 'waterfall' ? buildTraceWaterfall(wf)
        : wt ? ('format' in wt && wt.format === 'columnar' ? buildTraceColumnar(wt) : buildTraceWeft(wt as WTrace)) : buildTrace(jt!);
      performance.mark('weft:built');
      if (ctl.signal.aborted) return;
      clear(root);
      view = new TraceView(root, tr, jt, params, ctl.signal);
    } catch (e) {
      if (ctl.signal.aborted) return;
      clear(root);
      root.appendChild(errorBox(e));
    }
  })();
  return () => {
    ctl.abort();
    view?.destroy();
  };
};

type Mode = 'waterfall' | 'events' | 'flame';

/** TraceHost is what the secondary views (events, flame graph) need from the page. */
export interface TraceHost {
  tr: Trace;
  start(i: number): number; // trace-relative start in µs, on the chosen clock
  select(i: number): void;
  selected(): number;
  critical?: CriticalPath;
}

class TraceView implements TraceHost {
  mode: Mode;
  clock: 'raw' | 'adjusted';
  sel = -1;
  collapsed: Uint8Array;
  rows: Int32Array;
  matches: Uint8Array | null = null;
  matchList: number[] = [];
  matchPos = -1;
  t0 = 0;
  t1: number;
  critical?: CriticalPath;
  clockInfo?: ClockAnswer;
  private body!: HTMLElement;
  private cleanups: (() => void)[] = [];
  private headStats!: HTMLElement;
  private clockSeg!: HTMLElement;
  private critNote!: HTMLElement;
  private modeSeg!: HTMLElement;
  private detailsEl: HTMLElement | null = null;
  private refreshRows: (() => void) | null = null;
  private minimapDraw: (() => void) | null = null;
  private secondary: { destroy(): void; update(): void } | null = null;

  constructor(private root: HTMLElement, public tr: Trace, private jt: JTrace | null, params: URLSearchParams, private signal: AbortSignal) {
    this.mode = (['waterfall', 'events', 'flame'].includes(params.get('view') || '') ? params.get('view') : 'waterfall') as Mode;
    this.clock = params.get('clock') === 'adjusted' ? 'adjusted' : 'raw';
    this.collapsed = new Uint8Array(tr.spans.length);
    this.t1 = Math.max(tr.end - tr.start, 1);
    const want = params.get('span');
    if (want) {
      const i = tr.spans.findIndex((s) => s.spanID === want);
      if (i >= 0) this.sel = i;
    }
    this.rows = preorder(tr, this.collapsed);
    this.build();
  }

  start(i: number): number {
    const s = this.tr.spans[i];
    return s.start - this.tr.start + (this.clock === 'adjusted' ? s.offset : 0);
  }

  selected(): number {
    return this.sel;
  }

  destroy(): void {
    for (const c of this.cleanups) c();
    this.secondary?.destroy();
    this.worker?.terminate();
  }

  private firstRowsDone = false;

  /** onFirstRows runs once the first rows are on screen: what the first view does not need waits until then. On a
   * busy machine the server's work and the browser's decoding of the answers would otherwise delay the rows. */
  private onFirstRows(): void {
    if (this.firstRowsDone) return;
    this.firstRowsDone = true;
    if (this.tr.partial && this.tr.spans.length <= LAZY_DETAILS) {
      // The heuristic critical path, until the exact one arrives (a trace read whole has it already; a large one
      // gets it only if the server has no exact one, see enrich).
      markCriticalPath(this.tr);
      this.refreshRows?.();
    }
    // A large trace's analysis costs the server and the browser a second or so of work: it is asked for once the
    // reader has stopped scrolling and clicking for a moment, so that the first interactions are answered first.
    if (this.tr.spans.length > LAZY_DETAILS) this.whenSettled(() => void this.enrich());
    else void this.enrich();
    if (this.tr.partial && this.tr.spans.length <= LAZY_DETAILS) void this.loadAll();
  }

  /** whenSettled calls f once no scroll, click, wheel or key has come for SETTLE ms (at the latest SETTLE_MAX ms
   * after the first call). */
  private whenSettled(f: () => void): void {
    const events = ['scroll', 'pointerdown', 'wheel', 'keydown'];
    const t0 = performance.now();
    let timer = 0;
    const off = () => {
      clearTimeout(timer);
      for (const e of events) this.root.removeEventListener(e, poke, true);
    };
    const done = () => {
      off();
      if (!this.signal.aborted) f();
    };
    const poke = () => {
      clearTimeout(timer);
      if (performance.now() - t0 > SETTLE_MAX) return done();
      timer = window.setTimeout(done, SETTLE);
    };
    for (const e of events) this.root.addEventListener(e, poke, { capture: true, passive: true });
    this.signal.addEventListener('abort', off);
    poke();
  }

  private allLoad?: Promise<void>;
  private spanLoads = new Map<number, Promise<void>>();

  /** loadAll completes every span of a trace read in the waterfall form (one columnar answer). */
  loadAll(): Promise<void> {
    if (!this.tr.partial) return Promise.resolve();
    if (!this.allLoad) {
      this.allLoad = (async () => {
        try {
          const c = await getWeftTrace<CTrace | WTrace>(this.tr.id, this.signal, 'columnar');
          if (c && !this.signal.aborted) fillSpans(this.tr, c);
        } catch (e) {
          if (!this.signal.aborted) this.note('The rest of the spans could not be loaded: ' + (e instanceof Error ? e.message : String(e)));
        }
        if (this.signal.aborted) return;
        this.tr.partial = false; // whatever came: views stop waiting for more
        this.spansFilled();
      })();
    }
    return this.allLoad;
  }

  /** loadSpan completes one span (the one whose details are shown) when the whole trace is not here yet. */
  private loadSpan(i: number): Promise<void> {
    let p = this.spanLoads.get(i);
    if (!p) {
      const s = this.tr.spans[i];
      p = optional<WTrace>(`/api/weft/v1/traces/${encodeURIComponent(this.tr.id)}?spanID=${s.spanID}`, this.signal)
        .then((w) => {
          if (w && !this.signal.aborted) fillSpans(this.tr, w, i);
        })
        .catch(() => undefined)
        .then(() => {
          if (!s.full) this.spanLoads.delete(i); // to try again when selected again
          if (!this.signal.aborted && this.sel === i) this.showDetails(i);
        });
      this.spanLoads.set(i, p);
    }
    return p;
  }

  private spansFilled(): void {
    if (this.sel >= 0) this.showDetails(this.sel);
    this.afterFill.splice(0).forEach((f) => f());
  }

  /** afterFill are what wait for the whole trace (find over attributes, the event view). */
  private afterFill: (() => void)[] = [];

  private whenFull(f: () => void): void {
    if (!this.tr.partial) return f();
    this.afterFill.push(f);
    void this.loadAll();
  }

  private note(text: string): void {
    this.root.insertBefore(h('div', { class: 'note err' }, text), this.body);
  }

  private saveURL(): void {
    const p = new URLSearchParams();
    if (this.mode !== 'waterfall') p.set('view', this.mode);
    if (this.clock === 'adjusted') p.set('clock', 'adjusted');
    if (this.sel >= 0) p.set('span', this.tr.spans[this.sel].spanID);
    replaceQuery(p);
  }

  /** enrich applies weft's exact critical path when the server has one, and the clock offsets. A large trace's
   * offsets are asked for only when the adjusted clock is chosen, to keep the first seconds for the waterfall. */
  async enrich(): Promise<void> {
    const signal = this.signal;
    if (this.clock === 'adjusted' || this.tr.spans.length <= LAZY_CLOCK) void this.loadClock();
    const url = `/api/weft/v1/traces/${encodeURIComponent(this.tr.id)}/critical-path`;
    const cp = this.tr.spans.length > LAZY_DETAILS ? await this.criticalInWorker(url)
      : criticalColumns(await optional<CriticalPathAnswer>(url, signal).catch(() => null), (id) => this.byID().get(id)?.i ?? -1);
    if (signal.aborted) return;
    if (!cp) {
      if (this.tr.partial && this.tr.spans.length > LAZY_DETAILS) {
        markCriticalPath(this.tr);
        this.critNote.textContent = 'Critical path: heuristic from span timings';
        this.refreshRows?.();
      }
      return;
    }
    this.critical = cp;
    const sp = this.tr.spans;
    for (const s of sp) s.critical = false;
    for (const i of cp.span) if (i >= 0) sp[i].critical = true;
    this.critNote.textContent = `Critical path: ${cp.method === 'causal' ? 'exact, from the event DAG' : 'heuristic (no events)'}${cp.complete === false ? ', partial' : ''}, ${fmtDur(cp.length)}`;
    // The minimap does not show the critical path: everything else is drawn again.
    this.refreshRows?.();
    this.secondary?.update();
    if (this.sel >= 0) this.showDetails(this.sel);
  }

  private worker?: Worker;

  /** criticalInWorker has a worker fetch and decode a large trace's critical path (see cpworker.ts), and answers
   * null when there is none; without workers it asks on this thread. */
  private criticalInWorker(url: string): Promise<CriticalPath | null> {
    const main = () => optional<CriticalPathAnswer>(url, this.signal).catch(() => null).then((a) => criticalColumns(a, (id) => this.byID().get(id)?.i ?? -1));
    let w: Worker;
    try {
      w = new Worker(new URL('../cpworker.ts', import.meta.url), { type: 'module' });
    } catch {
      return main();
    }
    this.worker = w;
    return new Promise((resolve) => {
      w.onerror = () => {
        w.terminate();
        resolve(main());
      };
      w.onmessage = (e: MessageEvent<CriticalPathMessage>) => {
        w.terminate();
        performance.mark('weft:critical path');
        resolve(e.data.path);
      };
      w.postMessage({ url: new URL(url, location.href).href, ids: this.tr.ids ?? this.tr.spans.map((s) => s.spanID) });
    });
  }

  private clockState: 'none' | 'loading' | 'done' | 'absent' = 'none';
  private idMap?: Map<string, Span>;

  private byID(): Map<string, Span> {
    if (!this.idMap) {
      this.idMap = new Map();
      for (const s of this.tr.spans) this.idMap.set(s.spanID, s);
    }
    return this.idMap;
  }

  private async loadClock(): Promise<void> {
    if (this.clockState !== 'none') return;
    this.clockState = 'loading';
    this.updateClockSeg();
    const clock = await optional<ClockAnswer>(`/api/weft/v1/traces/${encodeURIComponent(this.tr.id)}/clock`, this.signal).catch(() => null);
    if (this.signal?.aborted) return;
    if (!clock || !Array.isArray(clock.spans)) {
      this.clockState = 'absent';
      this.clock = 'raw';
      this.updateClockSeg();
      this.refresh();
      return;
    }
    this.clockState = 'done';
    this.clockInfo = clock;
    const byID = this.byID();
    let adjusted = false;
    for (const c of clock.spans) {
      const s = byID.get(c.spanID);
      if (s && c.offset) {
        s.offset = c.offset;
        adjusted = true;
      }
    }
    this.tr.hasOffsets = adjusted;
    this.updateClockSeg();
    this.refresh();
  }

  private refresh(): void {
    this.refreshRows?.();
    this.minimapDraw?.();
    this.secondary?.update();
    if (this.sel >= 0) this.showDetails(this.sel);
  }

  private build(): void {
    const tr = this.tr;
    const rootSpan = tr.roots.length ? tr.spans[tr.roots[0]] : null;
    const services = [...tr.services.entries()].sort((a, b) => b[1] - a[1]);
    this.headStats = h('div', { class: 'stats' },
      h('span', null, 'Started ', h('b', null, fmtTime(tr.start))),
      h('span', null, 'Duration ', h('b', null, fmtDur(tr.end - tr.start))),
      h('span', null, 'Spans ', h('b', null, tr.spans.length.toLocaleString())),
      h('span', null, 'Depth ', h('b', null, tr.maxDepth + 1)),
      h('span', null, 'Services ', h('b', null, tr.services.size)),
      tr.errors ? h('span', { class: 'err' }, 'Errors ', h('b', { class: 'err' }, tr.errors)) : null,
      tr.roots.length > 1 ? h('span', { class: 'err' }, `${tr.roots.length} roots (missing parents)`) : null,
      h('span', { class: 'mono faint' }, tr.id),
    );
    const head = h('div', { class: 'trace-head' },
      h('div', { class: 'row1' },
        h('h1', null, rootSpan ? [h('span', { style: { color: serviceColor(rootSpan.service) } }, rootSpan.service), ': ', rootSpan.name] : 'Empty trace'),
        tr.errors ? h('span', { class: 'badge-err' }, `${tr.errors} error${tr.errors > 1 ? 's' : ''}`) : null,
        h('div', { class: 'spacer' }),
        h('div', { class: 'legend' }, ...services.slice(0, 8).map(([svc, n]) => h('span', { class: 'chip' }, h('span', { class: 'dot', style: { background: serviceColor(svc) } }), svc, h('span', { class: 'faint' }, fmtNum(n))))),
      ),
      this.headStats,
    );
    this.modeSeg = h('span', { class: 'seg', role: 'tablist' });
    for (const [m, label] of [['waterfall', 'Waterfall'], ['events', 'Events'], ['flame', 'Flame graph']] as [Mode, string][]) {
      this.modeSeg.appendChild(h('button', { class: this.mode === m ? 'on' : '', 'data-mode': m, onclick: () => this.setMode(m) }, label));
    }
    this.clockSeg = h('span', { class: 'seg' });
    this.updateClockSeg();
    this.critNote = h('span', { class: 'hint' }, tr.partial && tr.spans.length > LAZY_DETAILS ? 'Critical path: asked for when you pause' : 'Critical path: heuristic from span timings');
    const toolbar = h('div', { class: 'toolbar' },
      this.modeSeg,
      h('span', { class: 'hint' }, 'Clock'),
      this.clockSeg,
      h('span', { class: 'legend' }, h('span', null, h('i', { style: { background: 'var(--critical)', height: '8px', width: '8px', borderRadius: '50%' } }), 'critical path')),
      this.critNote,
      h('div', { class: 'spacer' }),
      h('a', { class: 'btn small', href: '/compare' + query({ a: tr.id }) }, 'Compare…'),
      h('button', { class: 'btn small', onclick: () => this.download() }, '⤓ OTLP JSON'),
    );
    this.body = h('div', { class: 'trace-body' });
    this.root.append(head, toolbar);
    if (tr.warnings.length) this.root.appendChild(h('div', { class: 'note err' }, tr.warnings.join('; ')));
    this.root.appendChild(this.body);
    this.renderMode();
  }

  private updateClockSeg(): void {
    clear(this.clockSeg);
    const info = this.clockInfo;
    const st = this.clockState;
    for (const c of ['raw', 'adjusted'] as const) {
      const title = c === 'raw' ? 'Times as each process recorded them'
        : info ? `Offsets per process from causality: ${info.processes.filter((p) => p.offset).length} of ${info.processes.length} processes adjusted, ${info.inconsistencies?.length || 0} inconsistencies`
        : st === 'absent' ? 'The server offers no clock analysis for this trace'
        : 'Ask the server for each process\'s clock offset';
      this.clockSeg.appendChild(h('button', {
        class: this.clock === c ? 'on' : '',
        disabled: c === 'adjusted' && (st === 'absent' || st === 'loading'),
        title,
        onclick: () => {
          this.clock = c;
          if (c === 'adjusted') void this.loadClock();
          this.updateClockSeg();
          this.saveURL();
          this.refresh();
        },
      }, c === 'raw' ? 'Raw' : st === 'loading' && c === 'adjusted' ? 'Adjusting…' : 'Adjusted'));
    }
    if (info && this.clock === 'adjusted') {
      const moved = info.processes.filter((p) => p.offset);
      this.clockSeg.title = moved.map((p) => `${p.service}: ${p.offset > 0 ? '+' : ''}${fmtDur(p.offset)}`).join('\n');
    }
  }

  private setMode(m: Mode): void {
    if (m === this.mode) return;
    this.mode = m;
    for (const b of this.modeSeg.querySelectorAll('button')) b.classList.toggle('on', b.getAttribute('data-mode') === m);
    this.saveURL();
    this.renderMode();
  }

  private renderMode(): void {
    for (const c of this.cleanups) c();
    this.cleanups = [];
    this.secondary?.destroy();
    this.secondary = null;
    this.refreshRows = null;
    this.minimapDraw = null;
    clear(this.body);
    this.detailsEl = h('aside', { class: 'details', style: { display: 'none' } });
    if (this.mode === 'waterfall') {
      this.body.appendChild(this.waterfall());
    } else {
      const wrap = h('div', { class: 'wf' });
      this.body.appendChild(wrap);
      if (this.mode === 'events' && this.tr.partial) {
        // The event view needs every span's events and execution units.
        wrap.appendChild(loading(`Loading the events of ${this.tr.spans.length.toLocaleString()} spans…`));
        this.whenFull(() => {
          if (this.mode === 'events' && wrap.isConnected) this.renderMode();
        });
      } else {
        this.secondary = this.mode === 'events' ? eventView(wrap, this) : flameGraph(wrap, this);
      }
      setTimeout(() => this.onFirstRows(), 0);
    }
    this.body.appendChild(this.detailsEl);
    if (this.sel >= 0) this.showDetails(this.sel);
  }

  select(i: number): void {
    this.sel = i;
    this.saveURL();
    this.refreshRows?.();
    this.secondary?.update();
    this.showDetails(i);
  }

  // --- waterfall ---

  private waterfall(): HTMLElement {
    const tr = this.tr;
    const sp = tr.spans;
    const wf = h('div', { class: 'wf' });
    const minimap = h('div', { class: 'minimap', title: 'Overview: click or drag to move' });
    const mmCanvas = h('canvas');
    const mmView = h('div', { class: 'viewport' });
    minimap.append(mmCanvas, mmView);
    const ticksEl = h('div', { class: 'ticks' });
    const find = h('input', { class: 'find', placeholder: 'Find in trace (name, service, attribute)…', spellcheck: 'false' });
    const findCount = h('span', { class: 'hint' });
    const head = h('div', { class: 'wf-head' }, h('div', { class: 'namecol' }, 'Service · Operation'), ticksEl);
    const inner = h('div', { class: 'wf-inner' });
    const scroll = h('div', { class: 'wf-scroll', tabindex: '0' }, inner);
    const tools = h('div', { class: 'toolbar' },
      h('button', { class: 'btn small', onclick: () => this.setCollapse('none') }, 'Expand all'),
      h('button', { class: 'btn small', onclick: () => this.setCollapse('services') }, 'Collapse to service calls'),
      h('button', { class: 'btn small', onclick: () => this.setCollapse('level2') }, 'Collapse to 2 levels'),
      h('button', { class: 'btn small zoom-reset', style: { display: 'none' }, onclick: () => { this.t0 = 0; this.t1 = Math.max(tr.end - tr.start, 1); zoomReset.style.display = 'none'; this.refresh(); } }, 'Reset zoom'),
      h('div', { class: 'spacer' }),
      find,
      findCount,
    );
    const zoomReset = tools.querySelector('.zoom-reset') as HTMLElement;
    wf.append(tools, minimap, head, scroll);

    // Row pool: each row keeps references to its parts so that drawing only sets text and styles.
    interface RowEl { el: HTMLElement; name: HTMLElement; tog: HTMLElement; bar: HTMLElement; svcbar: HTMLElement; err: HTMLElement; svc: HTMLElement; op: HTMLElement; cnt: HTMLElement; crit: HTMLElement; tbar: HTMLElement; dur: HTMLElement; k: number }
    const pool: RowEl[] = [];
    const makeRow = (): RowEl => {
      const tog = h('span', { class: 'tog' });
      const svcbar = h('span', { class: 'svcbar' });
      const err = h('span', { class: 'erricon' }, '!');
      const svc = h('span', { class: 'svc' });
      const op = h('span', { class: 'op' });
      const cnt = h('span', { class: 'cnt' });
      const crit = h('span', { class: 'crit-dot', title: 'on the critical path' });
      const name = h('div', { class: 'namecol' }, tog, svcbar, err, svc, op, cnt, crit);
      const tbar = h('div', { class: 'bar' });
      const dur = h('span', { class: 'dur' });
      const el = h('div', { class: 'wf-row' }, name, h('div', { class: 'tl' }, tbar, dur));
      inner.appendChild(el);
      return { el, name, tog, bar: tbar, svcbar, err, svc, op, cnt, crit, tbar, dur, k: -1 };
    };
    const fill = (r: RowEl, k: number) => {
      const i = this.rows[k];
      const s = sp[i];
      r.k = k;
      r.el.style.transform = `translateY(${k * ROW}px)`;
      r.el.className = 'wf-row' + (i === this.sel ? ' sel' : '') + (this.matches && this.matches[i] ? ' match' : '');
      r.name.style.paddingLeft = Math.min(s.depth, 30) * 14 + 4 + 'px';
      const nk = s.children.length;
      r.tog.textContent = nk ? (this.collapsed[i] ? '▸' : '▾') : '';
      r.svcbar.style.background = serviceColor(s.service);
      r.err.style.display = s.error ? '' : 'none';
      r.svc.textContent = s.service;
      r.op.textContent = s.name;
      r.cnt.style.display = nk && this.collapsed[i] ? '' : 'none';
      if (nk && this.collapsed[i]) r.cnt.textContent = fmtNum(subtreeSize(tr, i));
      r.crit.style.display = s.critical ? '' : 'none';
      const span = this.t1 - this.t0;
      const st = this.start(i) - this.t0;
      const left = (st / span) * 100;
      const width = Math.max((s.dur / span) * 100, 0.05);
      r.tbar.style.left = left + '%';
      r.tbar.style.width = width + '%';
      r.tbar.style.background = s.error ? 'var(--error)' : serviceColor(s.service);
      r.tbar.className = 'bar' + (s.critical ? ' crit' : '') + (s.error ? ' errb' : '');
      r.dur.textContent = fmtDur(s.dur);
      if (left + width > 82 && width > 14) {
        r.dur.style.left = '';
        r.dur.style.right = 100 - left - width + 0.6 + '%';
        r.dur.style.color = '#fff';
      } else if (left + width > 82) {
        r.dur.style.left = '';
        r.dur.style.right = 100 - left + 0.4 + '%';
        r.dur.style.color = '';
      } else {
        r.dur.style.color = '';
        r.dur.style.right = '';
        r.dur.style.left = left + width + 0.4 + '%';
      }
    };
    let pending = false;
    const draw = () => {
      pending = false;
      const n = this.rows.length;
      inner.style.height = n * ROW + 'px';
      const top = scroll.scrollTop;
      const last = Math.min(n, Math.ceil((top + scroll.clientHeight) / ROW) + 4);
      const first = Math.max(0, Math.min(last, Math.floor(top / ROW) - 4));
      while (pool.length < last - first) pool.push(makeRow());
      for (let k = first; k < last; k++) fill(pool[k - first], k);
      for (let j = last - first; j < pool.length; j++) {
        pool[j].el.style.transform = 'translateY(-1000px)';
        pool[j].k = -1;
      }
      const total = n * ROW;
      const mh = minimap.clientHeight;
      mmView.style.top = (total ? (top / total) * mh : 0) + 'px';
      mmView.style.height = Math.max(3, total ? (scroll.clientHeight / total) * mh : mh) + 'px';
    };
    const schedule = () => {
      if (!pending) {
        pending = true;
        requestAnimationFrame(draw);
      }
    };
    const drawTicks = () => {
      clear(ticksEl);
      const w = ticksEl.clientWidth || 600;
      for (const t of ticks(this.t0, this.t1, Math.max(2, Math.floor(w / 110)))) {
        const x = ((t - this.t0) / (this.t1 - this.t0)) * 100;
        if (x < 2 || x > 98) continue;
        ticksEl.appendChild(h('span', { class: 'tick', style: { left: x + '%' } }, fmtDur(t)));
      }
    };
    this.refreshRows = () => {
      drawTicks();
      draw();
    };
    scroll.addEventListener('scroll', schedule);
    inner.addEventListener('click', (e) => {
      const rowEl = (e.target as Element).closest('.wf-row') as HTMLElement | null;
      const r = pool.find((p) => p.el === rowEl);
      if (!r || r.k < 0) return;
      const i = this.rows[r.k];
      if ((e.target as Element).classList.contains('tog')) {
        this.toggle(i);
      } else {
        this.select(i);
      }
    });
    inner.addEventListener('dblclick', (e) => {
      const rowEl = (e.target as Element).closest('.wf-row') as HTMLElement | null;
      const r = pool.find((p) => p.el === rowEl);
      if (!r || r.k < 0 || (e.target as Element).classList.contains('tog')) return;
      const i = this.rows[r.k];
      const s = sp[i];
      this.t0 = this.start(i);
      this.t1 = this.t0 + Math.max(s.dur, 1);
      const pad = (this.t1 - this.t0) * 0.02;
      this.t0 = Math.max(0, this.t0 - pad);
      this.t1 += pad;
      zoomReset.style.display = '';
      this.refresh();
    });
    scroll.addEventListener('keydown', (e) => {
      if (this.sel < 0) return;
      let k = this.rowOf(this.sel);
      if (e.key === 'ArrowDown') k = Math.min(this.rows.length - 1, k + 1);
      else if (e.key === 'ArrowUp') k = Math.max(0, k - 1);
      else if (e.key === 'ArrowLeft' && sp[this.sel].children.length && !this.collapsed[this.sel]) return this.toggle(this.sel), e.preventDefault();
      else if (e.key === 'ArrowRight' && this.collapsed[this.sel]) return this.toggle(this.sel), e.preventDefault();
      else return;
      e.preventDefault();
      this.select(this.rows[k]);
      this.scrollToRow(k, false);
    });

    // Minimap: each visible row is a line at its time, squeezed to the minimap's height. The pixels are set in an
    // image rather than drawn as one rectangle per row, and in slices of rows between which the page answers
    // input: 100,000 rows take some tens of milliseconds and never hold a scroll or a click.
    let mmTimer = 0;
    const mmDraw = () => {
      clearTimeout(mmTimer);
      const dpr = window.devicePixelRatio || 1;
      const W = Math.max(1, Math.round(minimap.clientWidth * dpr));
      const H = Math.max(1, Math.round(minimap.clientHeight * dpr));
      const img = new ImageData(W, H);
      const px = new Uint32Array(img.data.buffer);
      const rows = this.rows;
      const n = rows.length;
      const full = Math.max(tr.end - tr.start, 1);
      const adjusted = this.clock === 'adjusted';
      const colors = new Map<string, number>(); // by service
      const rgba = (c: string) => {
        const x = parseInt(c.slice(1), 16); // '#rrggbb'; bytes in memory are r, g, b, a
        return (0xff000000 | ((x & 0xff) << 16) | (x & 0xff00) | ((x >> 16) & 0xff)) >>> 0;
      };
      const errColor = rgba('#d93843');
      const slice = (from: number) => {
        const to = Math.min(n, from + 20000);
        for (let k = from; k < to; k++) {
          const s = sp[rows[k]];
          let color = errColor;
          if (!s.error) {
            color = colors.get(s.service) ?? 0;
            if (!color) colors.set(s.service, (color = rgba(serviceColor(s.service))));
          }
          const st = s.start - tr.start + (adjusted ? s.offset : 0);
          const x0 = Math.max(0, Math.min(W - 1, Math.floor((st / full) * W)));
          const x1 = Math.min(W, Math.max(x0 + 1, Math.round(((st + s.dur) / full) * W)));
          const y0 = Math.min(H - 1, Math.floor((k / n) * H));
          const y1 = Math.min(H, Math.max(y0 + 1, Math.floor(((k + 1) / n) * H)));
          for (let y = y0; y < y1; y++) px.fill(color, y * W + x0, y * W + x1);
        }
        if (to < n) {
          mmTimer = window.setTimeout(() => slice(to), 0);
          return;
        }
        mmCanvas.width = W;
        mmCanvas.height = H;
        mmCanvas.getContext('2d')!.putImageData(img, 0, 0);
        performance.mark('weft:minimap');
      };
      slice(0);
    };
    this.cleanups.push(() => clearTimeout(mmTimer));
    this.minimapDraw = mmDraw;
    const mmScroll = (ev: MouseEvent) => {
      const r = minimap.getBoundingClientRect();
      const f = (ev.clientY - r.top) / r.height;
      scroll.scrollTop = f * this.rows.length * ROW - scroll.clientHeight / 2;
    };
    let mmDrag = false;
    minimap.addEventListener('mousedown', (e) => {
      mmDrag = true;
      mmScroll(e);
    });
    const onMove = (e: MouseEvent) => mmDrag && mmScroll(e);
    const onUp = () => (mmDrag = false);
    window.addEventListener('mousemove', onMove);
    window.addEventListener('mouseup', onUp);
    let sized = false;
    const ro = new ResizeObserver(() => {
      // The first call comes with the first layout; the initial frame draws then.
      if (!sized) {
        sized = true;
        return;
      }
      mmDraw();
      this.refreshRows?.();
    });
    ro.observe(wf);
    this.cleanups.push(() => {
      ro.disconnect();
      window.removeEventListener('mousemove', onMove);
      window.removeEventListener('mouseup', onUp);
    });

    // Find: highlight matching rows; Enter goes to the next one, opening collapsed ancestors.
    let findTimer = 0;
    let findWaits = false;
    const runFind = () => {
      const q = find.value.trim().toLowerCase();
      if (!q) {
        this.matches = null;
        this.matchList = [];
        findCount.textContent = '';
        schedule();
        return;
      }
      const m = new Uint8Array(sp.length);
      const list: number[] = [];
      for (const s of sp) {
        if (s.name.toLowerCase().includes(q) || s.service.toLowerCase().includes(q) || s.spanID === q || tagsMatch(s.tags, q)) {
          m[s.i] = 1;
          list.push(s.i);
        }
      }
      this.matches = m;
      this.matchList = list;
      this.matchPos = -1;
      findCount.textContent = (list.length ? `${list.length.toLocaleString()} matches` : 'no match') + (this.tr.partial ? ' (attributes loading…)' : '');
      schedule();
      // Attributes come with the rest of the spans: find again when they are here.
      if (this.tr.partial && !findWaits) {
        findWaits = true;
        this.whenFull(() => {
          findWaits = false;
          if (find.value.trim()) runFind();
        });
      }
    };
    find.addEventListener('input', () => {
      clearTimeout(findTimer);
      findTimer = window.setTimeout(runFind, 150);
    });
    find.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      runFind();
      if (!this.matchList.length) return;
      this.matchPos = (this.matchPos + (e.shiftKey ? -1 : 1) + this.matchList.length) % this.matchList.length;
      const i = this.matchList[this.matchPos];
      this.reveal(i);
      this.select(i);
      findCount.textContent = `${this.matchPos + 1} of ${this.matchList.length.toLocaleString()}`;
    });

    requestAnimationFrame(() => {
      drawTicks();
      if (this.sel >= 0) {
        this.reveal(this.sel);
      }
      draw();
      performance.mark('weft:rows');
      // The minimap draws every span, and the analysis is asked for: after the first rows are on screen.
      setTimeout(() => {
        mmDraw();
        this.onFirstRows();
      }, 0);
    });
    this.scrollEl = scroll;
    return wf;
  }

  private scrollEl: HTMLElement | null = null;

  private rowOf(i: number): number {
    const r = this.rows;
    for (let k = 0; k < r.length; k++) if (r[k] === i) return k;
    return -1;
  }

  private scrollToRow(k: number, center: boolean): void {
    const el = this.scrollEl;
    if (!el || k < 0) return;
    const y = k * ROW;
    if (center) el.scrollTop = y - el.clientHeight / 2;
    else if (y < el.scrollTop) el.scrollTop = y;
    else if (y + ROW > el.scrollTop + el.clientHeight) el.scrollTop = y + ROW - el.clientHeight;
  }

  /** reveal opens the ancestors of span i and scrolls it into the middle of the view. */
  private reveal(i: number): void {
    let changed = false;
    for (let p = this.tr.spans[i].parent; p >= 0; p = this.tr.spans[p].parent) {
      if (this.collapsed[p]) {
        this.collapsed[p] = 0;
        changed = true;
      }
    }
    if (changed) this.rowsChanged();
    this.scrollToRow(this.rowOf(i), true);
  }

  private toggle(i: number): void {
    this.collapsed[i] = this.collapsed[i] ? 0 : 1;
    this.rowsChanged();
  }

  private setCollapse(how: 'none' | 'services' | 'level2'): void {
    const sp = this.tr.spans;
    for (const s of sp) {
      let c = 0;
      if (s.children.length) {
        if (how === 'level2') c = s.depth >= 1 ? 1 : 0;
        // Collapse below each span that another service called, keeping the calls between services in view.
        if (how === 'services') c = s.parent >= 0 && sp[s.parent].service !== s.service ? 1 : 0;
      }
      this.collapsed[s.i] = c;
    }
    this.rowsChanged();
  }

  private rowsChanged(): void {
    this.rows = preorder(this.tr, this.collapsed);
    this.refreshRows?.();
    this.minimapDraw?.();
  }

  // --- details ---

  private showDetails(i: number): void {
    const d = this.detailsEl;
    if (!d) return;
    const tr = this.tr;
    const s = tr.spans[i];
    clear(d);
    d.style.display = '';
    // A span of a trace read in the waterfall form shows what the waterfall has at once and the rest when its own
    // answer arrives ('ready' then).
    if (!s.full) void this.loadSpan(i);
    d.classList.toggle('ready', s.full);
    if (s.full) performance.mark('weft:details');
    const kvTable = (rows: [string, unknown][]) =>
      h('table', { class: 'kv' }, ...rows.map(([k, v]) => h('tr', null, h('td', null, k), h('td', null, fmtValue(v)))));
    const parent = s.parent >= 0 ? tr.spans[s.parent] : null;
    const cp = this.critical;
    const onPath = cp ? cp.span.indexOf(i) : -1;
    const summary: [string, unknown][] = [
      ['duration', fmtDur(s.dur)],
      ['start (from trace start)', fmtDur(s.start - tr.start)],
      ['start (raw)', fmtTime(s.start)],
    ];
    if (this.clockInfo) {
      summary.push(['start (clock-adjusted)', fmtTime(s.start + s.offset) + (s.offset ? ` (${s.offset > 0 ? '+' : ''}${fmtDur(s.offset)})` : ' (no offset)')]);
    }
    if (s.meta) summary.push(...s.meta);
    summary.push(['span ID', s.spanID], ['kind', s.kind || (s.full ? '–' : '…')], ['status', s.error ? 'error' + (s.statusMessage ? ': ' + s.statusMessage : '') : 'ok / unset']);
    if (cp && onPath >= 0) summary.push(['on critical path', fmtDur(cp.critical[onPath]) + ' (self ' + fmtDur(cp.self[onPath]) + ')']);
    else if (s.critical) summary.push(['on critical path', 'yes']);
    summary.push(['children', s.children.length + (s.children.length ? ` (${subtreeSize(tr, i).toLocaleString()} descendants)` : '')]);
    const causal: [string, unknown][] = [];
    if (s.unit) {
      causal.push(['execution unit', s.unit], ['start event', `${s.unit}:${s.seqStart}`], ['end event', `${s.unitEnd || s.unit}:${s.seqEnd}`]);
      if (s.cause) causal.push(['waited for', s.cause]);
    }
    d.append(...([
      h('div', { class: 'd-head' },
        h('button', { class: 'close', title: 'Close', onclick: () => { this.sel = -1; d.style.display = 'none'; this.saveURL(); this.refreshRows?.(); this.secondary?.update(); } }, '×'),
        h('div', { class: 'd-title' }, h('span', { style: { color: serviceColor(s.service) } }, s.service), ' · ', s.name),
        h('div', { style: { marginTop: '4px', display: 'flex', gap: '6px', flexWrap: 'wrap' } },
          s.error ? h('span', { class: 'badge-err' }, 'error') : null,
          s.critical ? h('span', { class: 'badge', style: { background: '#fff2cc', color: '#8a6100' } }, 'critical path') : null,
          s.kind ? h('span', { class: 'badge' }, s.kind) : null,
          h('span', { class: 'badge' }, fmtDur(s.dur)),
          parent ? h('a', { href: '#', onclick: (e: Event) => { e.preventDefault(); this.reveal(parent.i); this.select(parent.i); } }, '↑ parent: ' + parent.name) : null,
        ),
      ),
      h('section', null, h('h3', null, 'Span'), kvTable(summary)),
      causal.length ? h('section', null, h('h3', null, 'Causality'), kvTable(causal)) : null,
      s.full ? null : h('section', { class: 'd-loading' }, h('h3', null, 'Attributes'), h('div', { class: 'faint' }, 'Loading attributes, events, links and resource…')),
      ...(s.full ? this.detailSections(s, kvTable) : []),
    ].filter(Boolean) as Node[]));
  }

  private detailSections(s: Span, kvTable: (rows: [string, unknown][]) => HTMLElement): (Node | null)[] {
    const numeric = s.tags.filter((t) => t.type === 'int64' || t.type === 'float64');
    const other = s.tags.filter((t) => t.type !== 'int64' && t.type !== 'float64');
    const links = s.refs.filter((r) => !(r.refType === 'CHILD_OF' && r.spanID === s.parentID));
    return [
      h('section', null, h('h3', null, `Attributes (${other.length})`), other.length ? kvTable(other.map((t) => [t.key, t.value])) : h('div', { class: 'faint' }, 'none')),
      numeric.length ? h('section', null, h('h3', null, `Counters (${numeric.length})`), kvTable(numeric.map((t) => [t.key, t.value]))) : null,
      h('section', null, h('h3', null, `Events (${s.logs.length})`),
        s.logs.length ? s.logs.map((l) => {
          const name = l.fields.find((f) => f.key === 'event');
          return h('div', { class: 'ev' },
            h('div', null, h('b', null, name ? String(name.value) : 'log'), ' ', h('span', { class: 't' }, '+' + fmtDur(l.timestamp - s.start))),
            kvTable(l.fields.filter((f) => f.key !== 'event').map((f) => [f.key, f.value])));
        }) : h('div', { class: 'faint' }, 'none')),
      links.length ? h('section', null, h('h3', null, `Links (${links.length})`),
        kvTable(links.map((r) => [r.refType.toLowerCase(), h('a', { href: `/trace/${r.traceID}${query({ span: r.spanID })}` }, `${r.traceID.slice(0, 12)}…/${r.spanID}`)]))) : null,
      h('section', null, h('h3', null, 'Process and resource'), kvTable([['service.name', s.service], ...(s.process.tags || []).map((t): [string, unknown] => [t.key, t.value])])),
    ];
  }

  // --- download ---

  private async download(): Promise<void> {
    const id = this.tr.id;
    let blob: Blob | null = null;
    try {
      const resp = await fetch(`/api/weft/v1/traces/${encodeURIComponent(id)}/otlp`);
      if (resp.ok) blob = await resp.blob();
    } catch {
      // fall back to converting here
    }
    if (!blob && this.jt) blob = new Blob([JSON.stringify(toOTLP(this.jt))], { type: 'application/json' });
    if (!blob) return;
    const a = h('a', { href: URL.createObjectURL(blob), download: `trace-${id}.otlp.json` });
    document.body.appendChild(a);
    a.click();
    setTimeout(() => {
      URL.revokeObjectURL(a.href);
      a.remove();
    }, 1000);
  }
}

function tagsMatch(tags: JKeyValue[], q: string): boolean {
  for (const t of tags) if (String(t.value).toLowerCase().includes(q) || t.key.toLowerCase() === q) return true;
  return false;
}

function fmtValue(v: unknown): Node | string {
  if (v instanceof Node) return v;
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}
