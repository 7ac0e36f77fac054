// The client-side router: every page has a shareable URL and keeps its state in the query string, so the
// browser's back and forward buttons and copied links work.

export type Page = (root: HTMLElement, path: string, params: URLSearchParams) => (() => void) | void;

let render: () => void = () => {};

/** setRenderer installs the function that draws the page for the current location. */
export function setRenderer(f: () => void): void {
  render = f;
  window.addEventListener('popstate', () => render());
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element).closest?.('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const href = a.getAttribute('href');
    if (!href || !href.startsWith('/') || href.startsWith('/api/')) return;
    e.preventDefault();
    navigate(href);
  });
}

/** navigate moves to a URL of the UI and draws its page. */
export function navigate(url: string): void {
  if (url === location.pathname + location.search) return;
  history.pushState(null, '', url);
  render();
}

/** replaceQuery updates the current URL's query string without drawing the page again. */
export function replaceQuery(params: URLSearchParams): void {
  const q = params.toString();
  history.replaceState(null, '', location.pathname + (q ? '?' + q : ''));
}

/** query builds a query string from the non-empty entries of an object. */
export function query(o: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const k in o) {
    const v = o[k];
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? '?' + s : '';
}
