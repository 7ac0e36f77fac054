// The critical path of a trace as the trace page keeps it: the analysis API's answer
// (GET /api/weft/v1/traces/{id}/critical-path, 5 MB for a 100,000-span trace) turned into a few typed arrays
// indexed like the trace's spans. cpworker.ts does it away from the page's thread for a large trace; the page does
// it itself for a small one.

/** CriticalPathAnswer is the analysis API's answer. */
export interface CriticalPathAnswer {
  method: string;
  complete: boolean;
  length: number;
  duration: number;
  spans: { spanID: string; critical: number; self: number }[];
  segments: { spanID: string; unit?: string; kind: string; start: number; end: number }[];
}

/** CriticalPath is the answer in columns: path span k is the trace's span span[k] (-1 when the trace lacks it);
 * segment k ran on execution unit strings[segUnit[k]] ('' for none) from segStart[k] to segEnd[k] (Unix µs). */
export interface CriticalPath {
  method: string;
  complete: boolean;
  length: number;
  duration: number;
  span: Int32Array;
  critical: Float64Array; // µs of the path in the span and its descendants
  self: Float64Array; // µs of the path in the span itself
  strings: string[];
  segUnit: Int32Array;
  segKind: Int32Array;
  segStart: Float64Array;
  segEnd: Float64Array;
}

/** criticalColumns turns the answer into columns; index finds a span ID's index in the trace (-1: absent). */
export function criticalColumns(a: CriticalPathAnswer | null, index: (spanID: string) => number): CriticalPath | null {
  if (!a || !Array.isArray(a.spans)) return null;
  const spans = a.spans, segs = Array.isArray(a.segments) ? a.segments : [];
  const strings: string[] = [''];
  const at = new Map<string, number>([['', 0]]);
  const str = (s: string | undefined) => {
    s = s || '';
    let k = at.get(s);
    if (k === undefined) {
      k = strings.length;
      strings.push(s);
      at.set(s, k);
    }
    return k;
  };
  return {
    method: String(a.method || ''), complete: a.complete !== false, length: Number(a.length) || 0, duration: Number(a.duration) || 0,
    span: Int32Array.from(spans, (s) => index(s.spanID)), critical: Float64Array.from(spans, (s) => s.critical),
    self: Float64Array.from(spans, (s) => s.self), strings, segUnit: Int32Array.from(segs, (s) => str(s.unit)),
    segKind: Int32Array.from(segs, (s) => str(s.kind)), segStart: Float64Array.from(segs, (s) => s.start),
    segEnd: Float64Array.from(segs, (s) => s.end),
  };
}

/** spanIndex makes index for criticalColumns from the trace's span IDs: one string of 16 hex digits per span, or
 * a list. The last of duplicate IDs wins. */
export function spanIndex(ids: string | string[]): (spanID: string) => number {
  const m = new Map<string, number>();
  if (typeof ids === 'string') for (let i = 0, k = 0; k < ids.length; i++, k += 16) m.set(ids.substr(k, 16), i);
  else ids.forEach((id, i) => m.set(id, i));
  return (id) => m.get(id) ?? -1;
}
