// `npm run build` step for the dashboard: Vite builds admin/ into dist/admin
// (skipped when nothing under admin/ changed since the last build), then the
// API docs viewer (swagger-ui-dist, served locally: no CDN) is copied beside it.
// Prints the bundle's size.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
// MANTIS_ADMIN_OUT builds elsewhere (the server reads MANTIS_ADMIN_DIR): for working on the app beside a running suite.
const out = process.env.MANTIS_ADMIN_OUT ?? join(root, 'dist', 'admin');
const stampFile = join(out, '.build-stamp');

function files(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) found.push(...files(full));
    else found.push(full);
  }
  return found;
}

const sources = [...files(here), join(root, 'package-lock.json')];
const fingerprint = sources.map((f) => `${f}:${statSync(f).mtimeMs}:${statSync(f).size}`).sort().join('\n');
const upToDate = existsSync(stampFile) && readFileSync(stampFile, 'utf8') === fingerprint && existsSync(join(out, 'index.html'));

if (!upToDate || process.argv.includes('--force')) {
  const { build } = await import('vite');
  await build({ configFile: join(here, 'vite.config.ts'), logLevel: 'warn' });
  const vendor = join(out, 'vendor', 'swagger-ui');
  mkdirSync(vendor, { recursive: true });
  const swagger = join(root, 'node_modules', 'swagger-ui-dist');
  for (const name of ['swagger-ui-bundle.js', 'swagger-ui.css', 'LICENSE']) copyFileSync(join(swagger, name), join(vendor, name));
  writeFileSync(stampFile, fingerprint);
  let raw = 0;
  let gz = 0;
  for (const f of files(join(out, 'assets'))) {
    const body = readFileSync(f);
    raw += body.length;
    gz += gzipSync(body, { level: 9 }).length;
  }
  const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
  console.log(`dashboard built into dist/admin: app ${kib(raw)} (${kib(gz)} gzipped); API docs viewer ${kib(statSync(join(vendor, 'swagger-ui-bundle.js')).size)} loaded only by the API docs section`);
}
