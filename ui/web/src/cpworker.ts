// A worker that fetches and decodes the analysis API's critical path of a large trace away from the page's
// thread, so that scrolling and clicking are answered while it arrives, and posts it back in columns indexed like
// the trace's spans (critical.ts): a few typed arrays cost the page nothing to receive, where tens of thousands
// of objects would cost it as much as decoding them.
import { criticalColumns, spanIndex, type CriticalPath, type CriticalPathAnswer } from './critical';

/** CriticalPathMessage is what the worker posts: the HTTP status (0 when the request failed) and the path. */
export interface CriticalPathMessage {
  status: number;
  path: CriticalPath | null;
}

// The worker's own postMessage (the DOM library types self as a window).
const post = (self as unknown as { postMessage(m: CriticalPathMessage, transfer?: Transferable[]): void }).postMessage.bind(self);

self.onmessage = async (e: MessageEvent<{ url: string; ids: string | string[] }>) => {
  let a: CriticalPathAnswer;
  try {
    const resp = await fetch(e.data.url, { headers: { Accept: 'application/json' } });
    if (!resp.ok) return post({ status: resp.status, path: null });
    a = await resp.json();
  } catch {
    return post({ status: 0, path: null });
  }
  const path = criticalColumns(a, spanIndex(e.data.ids));
  const transfer = path ? [path.span, path.critical, path.self, path.segUnit, path.segKind, path.segStart, path.segEnd].map((x) => x.buffer) : [];
  post({ status: 200, path }, transfer);
};
