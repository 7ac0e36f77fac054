// Calls to the server's APIs on the same origin: the Jaeger-compatible query API under /api/ and weft's own
// API under /api/weft/v1/. Pages use weft's endpoints when the server offers them and fall back to computing
// from Jaeger's answers, so the UI also works against a plain Jaeger query service.

export interface JKeyValue {
  key: string;
  type?: string;
  value: unknown;
}
export interface JLog {
  timestamp: number;
  fields: JKeyValue[];
}
export interface JRef {
  refType: string;
  traceID: string;
  spanID: string;
}
export interface JSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: JRef[];
  flags?: number;
  startTime: number;
  duration: number;
  tags?: JKeyValue[];
  logs?: JLog[];
  processID: string;
  warnings?: string[] | null;
}
export interface JProcess {
  serviceName: string;
  tags?: JKeyValue[];
}
export interface JTrace {
  traceID: string;
  spans: JSpan[];
  processes: Record<string, JProcess>;
  warnings?: string[] | null;
}
export interface JDependency {
  parent: string;
  child: string;
  callCount: number;
}

/** HTTPError is a failed API call with the server's message. */
export class HTTPError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

declare global {
  interface Window {
    weftEarly?: { url: string; resp: Promise<Response> };
  }
}

/** earlyFetch hands over, once, the request that index.html started for url before the bundle loaded. */
function earlyFetch(url: string): Promise<Response> | undefined {
  const e = window.weftEarly;
  if (!e || e.url !== url) return undefined;
  window.weftEarly = undefined;
  return e.resp;
}

/** getJSON fetches and decodes a JSON answer, turning Jaeger's {errors:[...]} and non-2xx into HTTPError. */
export async function getJSON<T>(url: string, signal?: AbortSignal): Promise<T> {
  const resp = await (earlyFetch(url) || fetch(url, { signal, headers: { Accept: 'application/json' } }));
  if (resp.ok && (resp.headers.get('Content-Type') || '').includes('json')) {
    // Decoding straight from the bytes skips a copy of a large answer as one string.
    const body = await resp.json().catch(() => {
      throw new HTTPError(resp.status, `${url}: the answer is not JSON`);
    });
    performance.mark('weft:json ' + url.replace(/^\/api\/(weft\/v1\/)?/, '').replace(/[0-9a-f]{16,}/, '{id}').replace(/\?.*/, ''));
    const errs = (body as { errors?: { msg?: string }[] } | undefined)?.errors;
    if (Array.isArray(errs) && errs.length > 0) throw new HTTPError(resp.status, errs.map((e) => e.msg).join('; '));
    return body as T;
  }
  const text = await resp.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    if (!resp.ok) throw new HTTPError(resp.status, `${resp.status} ${resp.statusText}: ${text.slice(0, 200)}`);
    throw new HTTPError(resp.status, `${url}: the answer is not JSON`);
  }
  const errs = (body as { errors?: { msg?: string; message?: string }[] } | undefined)?.errors;
  if (!resp.ok || (Array.isArray(errs) && errs.length > 0)) {
    const msg =
      (Array.isArray(errs) && errs.map((e) => e.msg || e.message).join('; ')) ||
      (body as { error?: string } | undefined)?.error ||
      text.slice(0, 200) ||
      resp.statusText;
    throw new HTTPError(resp.status, `${resp.status}: ${msg}`);
  }
  return body as T;
}

/** optional fetches a weft endpoint, answering null when the server does not offer it (404, 405, 501). */
export async function optional<T>(url: string, signal?: AbortSignal): Promise<T | null> {
  try {
    return await getJSON<T>(url, signal);
  } catch (e) {
    if (e instanceof HTTPError && (e.status === 404 || e.status === 405 || e.status === 501)) return null;
    throw e;
  }
}

/** services lists the service names the store has seen. */
export async function services(): Promise<string[]> {
  const r = await getJSON<{ data: string[] | null }>('/api/services');
  return (r.data || []).slice().sort();
}

const opCache = new Map<string, Promise<string[]>>();

/** operations lists a service's span names. */
export function operations(service: string): Promise<string[]> {
  let p = opCache.get(service);
  if (!p) {
    p = getJSON<{ data: string[] | null }>(`/api/services/${encodeURIComponent(service)}/operations`).then((r) =>
      (r.data || []).slice().sort(),
    );
    p.catch(() => opCache.delete(service));
    opCache.set(service, p);
  }
  return p;
}

/** SearchParams is a trace search in the Jaeger API's terms (times in microseconds). */
export interface SearchParams {
  service?: string;
  operation?: string;
  tags?: Record<string, string>;
  minDuration?: string;
  maxDuration?: string;
  start?: number;
  end?: number;
  limit?: number;
}

/** findTraces runs a Jaeger search and returns whole traces. */
export async function findTraces(p: SearchParams, signal?: AbortSignal): Promise<JTrace[]> {
  const q = new URLSearchParams();
  if (p.service) q.set('service', p.service);
  if (p.operation) q.set('operation', p.operation);
  if (p.tags && Object.keys(p.tags).length) q.set('tags', JSON.stringify(p.tags));
  if (p.minDuration) q.set('minDuration', p.minDuration);
  if (p.maxDuration) q.set('maxDuration', p.maxDuration);
  if (p.start) q.set('start', String(Math.floor(p.start)));
  if (p.end) q.set('end', String(Math.floor(p.end)));
  q.set('limit', String(p.limit || 20));
  const r = await getJSON<{ data: JTrace[] | null }>('/api/traces?' + q.toString(), signal);
  return r.data || [];
}

/** getTrace fetches one trace by ID. */
export async function getTrace(id: string, signal?: AbortSignal): Promise<JTrace> {
  const r = await getJSON<{ data: JTrace[] | null }>('/api/traces/' + encodeURIComponent(id), signal);
  if (!r.data || r.data.length === 0) throw new HTTPError(404, `trace ${id} not found`);
  return r.data[0];
}

/** dependencies fetches the service call graph for the lookback before endTs (milliseconds). */
export async function dependencies(endTs: number, lookback: number): Promise<JDependency[]> {
  const r = await getJSON<{ data: JDependency[] | null }>(`/api/dependencies?endTs=${endTs}&lookback=${lookback}`);
  return r.data || [];
}

/** getWeftTrace fetches a trace from weft's own API (smaller than Jaeger's, with events on execution units), or
 * answers null when the server has no such API. */
export async function getWeftTrace<T>(id: string, signal?: AbortSignal, format?: string): Promise<T | null> {
  return optional<T>('/api/weft/v1/traces/' + encodeURIComponent(id) + (format ? '?format=' + format : ''), signal);
}
