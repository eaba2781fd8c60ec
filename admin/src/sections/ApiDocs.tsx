// API docs: the server's OpenAPI description (GET /api/docs/openapi.json)
// rendered by Swagger UI, served by this server from /admin/vendor (no CDN: the
// CSP allows only 'self' scripts). Its try-it-out console calls this server
// with the signed-in credential, added to every request it makes.
//
// Swagger UI is loaded only here, by a <script src> added at runtime (1.7 MiB:
// kept out of the app's bundle). Its own look is light-only, so it is drawn on
// a light surface in either colour scheme, with a few colours darkened for
// contrast (ApiDocs.css); after each render some of its controls get names
// for assistive technology.

import { useEffect, useRef, useState } from 'react';
import { authHeaders, requestRaw } from '../api';
import { EmptyState, Loading, PageHeader, Panel } from '../components';
import { notify } from '../toast';
import './ApiDocs.css';

const VENDOR = '/admin/vendor/swagger-ui';
const SPEC_URL = '/api/docs/openapi.json';

type SwaggerRequest = { url: string; method?: string; headers: Record<string, string> };
type SwaggerConfig = {
  domNode: HTMLElement;
  url: string;
  validatorUrl: null;
  tryItOutEnabled: boolean;
  deepLinking: boolean;
  docExpansion: 'list' | 'full' | 'none';
  defaultModelsExpandDepth: number;
  displayRequestDuration: boolean;
  filter: boolean;
  syntaxHighlight: { activated: boolean };
  requestInterceptor: (req: SwaggerRequest) => SwaggerRequest;
  onComplete?: () => void;
};
declare global {
  interface Window {
    SwaggerUIBundle?: (config: SwaggerConfig) => unknown;
  }
}

let loading: Promise<void> | null = null;

/** Adds Swagger UI's script and stylesheet once; resolves when the script has run. */
function loadSwagger(): Promise<void> {
  if (window.SwaggerUIBundle !== undefined) return Promise.resolve();
  loading ??= new Promise<void>((resolve, reject) => {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = `${VENDOR}/swagger-ui.css`;
    document.head.append(css);
    const script = document.createElement('script');
    script.src = `${VENDOR}/swagger-ui-bundle.js`;
    script.async = true;
    script.onload = () => (window.SwaggerUIBundle === undefined ? reject(new Error('Swagger UI loaded but did not start')) : resolve());
    script.onerror = () => {
      loading = null;
      script.remove();
      reject(new Error(`${VENDOR}/swagger-ui-bundle.js could not be loaded: run npm run build (admin/build.mjs copies it there)`));
    };
    document.head.append(script);
  });
  return loading;
}

/** Names Swagger UI leaves out, given after each render (it re-renders as operations open). */
function fixAccessibility(root: HTMLElement): void {
  // The tag filter gets a visible label.
  const filter = root.querySelector<HTMLInputElement>('.filter .operation-filter-input');
  if (filter !== null && filter.id === '') {
    filter.id = 'swagger-tag-filter';
    const label = document.createElement('label');
    label.htmlFor = filter.id;
    label.className = 'swagger-filter-label';
    label.textContent = 'Filter operations by tag';
    filter.before(label);
  }
  // Expand/collapse buttons drawn as an arrow only.
  for (const b of root.querySelectorAll<HTMLButtonElement>('button:not([aria-label])')) {
    if ((b.textContent ?? '').trim() !== '') continue;
    const block = b.closest('.opblock');
    const path = block?.querySelector('.opblock-summary-path')?.textContent ?? block?.querySelector('.opblock-summary-method')?.textContent;
    const open = b.getAttribute('aria-expanded') === 'true';
    b.setAttribute('aria-label', path !== undefined && path !== null ? `${open ? 'Collapse' : 'Expand'} ${path.trim()}` : b.classList.contains('models-control') ? 'Show or hide the schemas' : 'Expand or collapse');
  }
  // Its selects sit in labels with no text of their own (the servers list) or in none.
  for (const s of root.querySelectorAll<HTMLSelectElement>('select:not([aria-label])')) {
    if (s.id === 'servers') s.setAttribute('aria-label', 'Server');
    else if (s.closest('.response-controls, .response-control-media-type') !== null) s.setAttribute('aria-label', 'Response media type');
    else if (s.closest('.body-param-content-type, .content-type-wrapper, .opblock-section-request-body') !== null) s.setAttribute('aria-label', 'Request media type');
    else {
      const name = s.closest('tr')?.querySelector('.parameter__name')?.textContent?.replace(/\*.*$/s, '').trim();
      s.setAttribute('aria-label', name !== undefined && name !== '' ? name : 'Choice');
    }
  }
  // The page has one h1 and one main (the dashboard's): the description's title becomes an h2
  // under it (its children moved, so Swagger UI's later text updates still land), and its
  // operations list a named region.
  for (const h of root.querySelectorAll('h1')) {
    const h2 = document.createElement('h2');
    h2.className = h.className;
    h2.append(...h.childNodes);
    h.replaceWith(h2);
  }
  for (const m of root.querySelectorAll('main')) {
    m.setAttribute('role', 'region');
    m.setAttribute('aria-label', 'Operations');
  }
  for (const t of root.querySelectorAll<HTMLTextAreaElement>('textarea:not([aria-label])')) {
    if (t.labels === null || t.labels.length === 0) t.setAttribute('aria-label', t.classList.contains('body-param__text') ? 'Request body' : t.closest('.curl-command') !== null ? 'Request as curl' : 'Text');
  }
  for (const i of root.querySelectorAll<HTMLInputElement>('input:not([aria-label]):not([type="hidden"])')) {
    if (i.labels !== null && i.labels.length > 0) continue;
    const row = i.closest('tr');
    const name = row?.querySelector('.parameter__name')?.textContent?.replace(/\*.*$/s, '').trim();
    i.setAttribute('aria-label', name !== undefined && name !== '' ? name : i.type === 'file' ? 'File' : 'Value');
  }
  // An operation's summary is a button holding a link to the same place (the deep link the button
  // sets anyway): a link inside a button is two nested controls, so the link becomes plain text.
  for (const a of root.querySelectorAll('.opblock-summary-control a[href]')) a.removeAttribute('href');
  // Scroll boxes (response bodies, curl) must be reachable by keyboard.
  for (const pre of root.querySelectorAll<HTMLElement>('pre, .microlight')) if (!pre.hasAttribute('tabindex')) pre.tabIndex = 0;
}

type Phase = { kind: 'loading' } | { kind: 'ready' } | { kind: 'failed'; title: string; detail: string };

export default function ApiDocsSection() {
  const host = useRef<HTMLDivElement>(null);
  const [phase, setPhase] = useState<Phase>({ kind: 'loading' });

  useEffect(() => {
    let cancelled = false;
    let observer: MutationObserver | null = null;
    const start = async (): Promise<void> => {
      // The description first: a failure is shown as the server's error, before loading the viewer.
      try {
        await requestRaw('GET', SPEC_URL);
      } catch (error) {
        if (cancelled) return;
        notify.error(error);
        setPhase({ kind: 'failed', title: 'The API description is not available', detail: `GET ${SPEC_URL} failed (${(error as { code?: string }).code ?? 'error'}: ${(error as Error).message}).` });
        return;
      }
      try {
        await loadSwagger();
      } catch (error) {
        if (cancelled) return;
        notify.error(error);
        setPhase({ kind: 'failed', title: 'The API docs viewer could not be loaded', detail: (error as Error).message });
        return;
      }
      const dom = host.current;
      if (cancelled || dom === null || window.SwaggerUIBundle === undefined) return;
      observer = new MutationObserver(() => {
        observer?.disconnect();
        fixAccessibility(dom);
        observer?.observe(dom, { childList: true, subtree: true, attributes: true, attributeFilter: ['aria-expanded'] });
      });
      observer.observe(dom, { childList: true, subtree: true, attributes: true, attributeFilter: ['aria-expanded'] });
      window.SwaggerUIBundle({
        domNode: dom,
        url: SPEC_URL,
        validatorUrl: null,
        tryItOutEnabled: true,
        // Opened operations go in the URL's fragment, so a reload or a shared link opens the same one.
        deepLinking: true,
        docExpansion: 'none',
        defaultModelsExpandDepth: -1,
        displayRequestDuration: true,
        filter: true,
        syntaxHighlight: { activated: true },
        // Every request (the description and try-it-out calls) carries the dashboard's credential,
        // unless the user set one in Swagger UI's own Authorize dialog.
        requestInterceptor: (req) => {
          if (req.headers.Authorization === undefined) {
            for (const [name, value] of Object.entries(authHeaders(String(req.method ?? 'GET').toUpperCase()))) req.headers[name] = value;
          }
          return req;
        },
        onComplete: () => {
          if (!cancelled) setPhase({ kind: 'ready' });
        },
      });
    };
    void start();
    return () => {
      cancelled = true;
      observer?.disconnect();
      if (host.current !== null) host.current.replaceChildren();
    };
  }, []);

  return (
    <>
      <PageHeader
        title="API docs"
        description={
          <>
            Every route of this server, from <a href={SPEC_URL}>{SPEC_URL}</a> (also <a href="/api/docs/openapi.yaml">YAML</a>). Try it out sends real requests to this server with your credential.
          </>
        }
      />
      {phase.kind === 'loading' && <Loading label="Loading the API description…" />}
      {phase.kind === 'failed' && (
        <Panel title="API description">
          <EmptyState title={phase.title}>
            {phase.detail} The server builds the description from its route definitions; check that this server version serves <code>{SPEC_URL}</code>, then reload. Meanwhile <code>docs/api.md</code> in the repository describes every route with an example.
          </EmptyState>
        </Panel>
      )}
      <div className="swagger-scope" hidden={phase.kind === 'failed'}>
        <div ref={host} />
      </div>
    </>
  );
}
