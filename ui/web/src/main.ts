// The UI's entry point: the top bar and the page for the current URL.
import './style.css';
import { h, clear, colorsReady } from './dom';
import { setRenderer, navigate, type Page } from './router';
import { searchPage } from './pages/search';
import { tracePage } from './pages/trace';
import { aggregatePage } from './pages/aggregate';
import { comparePage } from './pages/compare';
import { servicesPage } from './pages/services';

const pages: Record<string, [Page, string]> = {
  search: [searchPage, 'Search'],
  trace: [tracePage, 'Trace'],
  aggregate: [aggregatePage, 'Aggregate'],
  compare: [comparePage, 'Compare'],
  services: [servicesPage, 'Services'],
};

const app = document.getElementById('app')!;
let cleanup: (() => void) | void;

function topBar(active: string): HTMLElement {
  const link = (name: string, href: string, label: string) =>
    h('a', { href, class: 'nav-link' + (active === name ? ' active' : '') }, label);
  const jump = h('input', {
    class: 'jump', placeholder: 'Trace ID', spellcheck: 'false', 'aria-label': 'Open trace by ID',
    onkeydown: (e: KeyboardEvent) => {
      const v = (e.target as HTMLInputElement).value.trim().toLowerCase();
      if (e.key === 'Enter' && /^[0-9a-f]{1,32}$/.test(v)) navigate('/trace/' + v);
    },
  });
  return h('header', { class: 'topbar' },
    h('a', { href: '/search', class: 'brand' }, h('span', { class: 'brand-mark' }), 'weft'),
    h('nav', null,
      link('search', '/search', 'Search'),
      link('aggregate', '/aggregate', 'Aggregate'),
      link('compare', '/compare', 'Compare'),
      link('services', '/services', 'Services'),
    ),
    h('div', { class: 'spacer' }),
    jump,
  );
}

let renders = 0;

async function render(): Promise<void> {
  const my = ++renders;
  if (cleanup) cleanup();
  cleanup = undefined;
  // The trace page waits for colors itself, in parallel with fetching the trace.
  if (!location.pathname.startsWith('/trace/')) await colorsReady();
  if (my !== renders) return;
  const path = location.pathname;
  const seg = path.split('/')[1] || 'search';
  const [page, title] = pages[seg] || [notFound, 'Not found'];
  document.title = title + ' · weft';
  clear(app);
  app.appendChild(topBar(seg));
  const main = h('main', { class: 'page page-' + seg });
  app.appendChild(main);
  cleanup = page(main, path, new URLSearchParams(location.search));
}

const notFound: Page = (root) => {
  root.appendChild(h('div', { class: 'empty' }, h('div', { class: 'empty-title' }, 'No such page'), h('a', { href: '/search' }, 'Search traces')));
};

if (location.pathname === '/') history.replaceState(null, '', '/search');
setRenderer(() => void render());
// Colors follow the server's sorted service list, so that a service has the same color on every page. Pages
// that draw services wait for colorsReady (the list is small and answers long before a large trace does).
void render();
