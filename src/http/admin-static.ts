// The dashboard's static files (issue 16), built by `npm run build` into
// dist/admin and served from memory (read on the first request) by the same server:
//
//   GET /                  → 302 /admin/
//   GET /admin             → 302 /admin/
//   GET /admin/assets/…    content-hashed files: cached for a year, immutable
//   GET /admin/<anything>  a file when one has that name, else index.html (deep links: the app routes)
//
// index.html is `no-cache` (revalidated by ETag), so a new build is picked up at
// once while the hashed assets it names stay cached. Text files are gzipped once,
// when first asked for with Accept-Encoding: gzip. The listener adds the security
// headers every answer carries (a CSP of 'self' scripts, nosniff, frame DENY).

import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Hono } from 'hono';
import { MantisError } from '../../shared/errors.js';
import type { Bindings } from './hono-app.js';
import { toResponse } from './hono-app.js';
import { errorReply } from './reply.js';
import { ADMIN_PATH } from './routes.js';
import { any, empty, raw, route, str, type RouteSpec } from './api-spec.js';
import { answerCached, cachedBytes, type CachedBytes } from './cached-reply.js';

/** dist/src/http/admin-static.js → dist/admin/ (MANTIS_ADMIN_DIR: another build, when working on the app). */
export const ADMIN_DIST_DIR = process.env.MANTIS_ADMIN_DIR ?? fileURLToPath(new URL('../../admin/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '': 'text/plain; charset=utf-8', // LICENSE
};


async function walk(dir: string, out: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue; // the build's stamp file
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await walk(full, out);
    else out.push(full);
  }
}

/**
 * Every file of the built dashboard by its path under /admin/ ("index.html", "assets/index-3f2a.js");
 * empty when not built. Read without blocking the event loop.
 */
export async function loadAdminFiles(dir = ADMIN_DIST_DIR): Promise<Map<string, CachedBytes>> {
  const files = new Map<string, CachedBytes>();
  const paths: string[] = [];
  try {
    await walk(dir, paths);
  } catch {
    return files;
  }
  for (const full of paths) {
    const rel = relative(dir, full).split(sep).join('/');
    const hashed = rel.startsWith('assets/');
    files.set(rel, cachedBytes(await readFile(full), TYPES[extname(rel)] ?? 'application/octet-stream', hashed ? 'public, max-age=31536000, immutable' : 'no-cache'));
  }
  return files;
}

function redirect(to: string): Response {
  return new Response(null, { status: 302, headers: { Location: to, 'Cache-Control': 'no-cache' } });
}

// ---- route specs (the OpenAPI description is built from these; see api-spec.ts) --------------

const TO_ADMIN = { Location: { description: '/admin/', schema: str() } };

const ROOT_SPEC: RouteSpec = {
  method: 'GET',
  path: '/',
  tag: 'Dashboard',
  summary: 'Redirect to the dashboard',
  responses: [empty(302, 'To /admin/.', TO_ADMIN)],
  errors: [],
  permission: 'public',
};

const ADMIN_SPEC: RouteSpec = { ...ROOT_SPEC, path: ADMIN_PATH, summary: 'Redirect to the dashboard (/admin/)' };

const ADMIN_FILES_SPEC: RouteSpec = {
  method: 'GET',
  path: `${ADMIN_PATH}/{path}`,
  tag: 'Dashboard',
  summary: 'The dashboard\'s files',
  description:
    'A file of the built dashboard (dist/admin) when one has that name, else index.html (the app routes deep links itself). Hashed assets under assets/ are cached for a year; index.html is no-cache, revalidated by ETag. Text files are gzipped when Accept-Encoding allows. A missing asset, or any path when the dashboard is not built, is 404 NOT_FOUND.',
  params: [{ name: 'path', in: 'path', rest: true, required: true, description: 'A file under /admin/ ("" is index.html).', schema: str(), example: 'index.html' }],
  responses: [
    raw(200, 'The file.', '*/*', any('the file\'s bytes'), undefined, {
      ETag: { description: 'The file\'s hash.', schema: str() },
      'Cache-Control': { description: 'public, max-age=31536000, immutable for hashed assets; no-cache otherwise.', schema: str() },
    }),
    empty(304, 'Not modified (If-None-Match named the current ETag).'),
  ],
  errors: ['NOT_FOUND', 'INVALID_PARAMETER'],
  permission: 'public',
};

/** Files are read on the first request for one (a server whose dashboard is never opened keeps none in memory). */
export function registerAdminStatic(app: Hono<{ Bindings: Bindings }>, load: () => Promise<Map<string, CachedBytes>> = loadAdminFiles): void {
  let loaded: Promise<Map<string, CachedBytes>> | null = null;
  const serve = async (c: Context<{ Bindings: Bindings }>): Promise<Response> => {
    const rest = c.env.rawPath.slice(ADMIN_PATH.length + 1);
    let name: string;
    try {
      name = decodeURIComponent(rest);
    } catch {
      return toResponse(errorReply(new MantisError('INVALID_PARAMETER', 'the path is not valid percent-encoding')));
    }
    const files = await (loaded ??= load());
    let file = files.get(name === '' ? 'index.html' : name);
    // A missing hashed asset is a real 404 (an old page asking for a file a new build replaced);
    // any other path is a section of the app, which routes on the client.
    if (file === undefined && !name.startsWith('assets/') && !name.startsWith('vendor/')) file = files.get('index.html');
    if (file === undefined) {
      const what = files.size === 0 ? 'the dashboard is not built; run `npm run build`' : `no dashboard file ${name}`;
      return toResponse(errorReply(new MantisError('NOT_FOUND', what)));
    }
    return answerCached(file, c.req.header('if-none-match'), c.req.header('accept-encoding'));
  };
  route(app, ROOT_SPEC, () => redirect(`${ADMIN_PATH}/`));
  // The query goes along ("/admin?x=1" → "/admin/?x=1"): a link's view state is in it.
  route(app, ADMIN_SPEC, (c) => redirect(`${ADMIN_PATH}/${c.env.rawQuery === '' ? '' : `?${c.env.rawQuery}`}`));
  route(app, ADMIN_FILES_SPEC, serve);
}
