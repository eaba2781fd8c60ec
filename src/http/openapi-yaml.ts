// The OpenAPI document as YAML. Writing 700 KB of JSON as YAML takes about a
// third of a second, so the server does it on a worker thread, once, when the
// YAML is first asked for; the event loop keeps serving meanwhile.

import { Worker } from 'node:worker_threads';
import { stringify } from 'yaml';

/**
 * A JSON value as YAML 1.2 (the `yaml` package). Shared objects are written out again rather than as
 * anchors and aliases, which some OpenAPI tools do not follow; lines are not folded.
 */
export function toYaml(value: unknown): string {
  return stringify(value, { aliasDuplicateObjects: false, lineWidth: 0 });
}

/** toYaml(JSON.parse(jsonText)) on a one-off worker thread (openapi-yaml-worker.ts). */
export function toYamlOffThread(jsonText: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./openapi-yaml-worker.js', import.meta.url), { workerData: jsonText });
    worker.once('message', (yaml: string) => resolve(yaml));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the YAML worker exited with code ${code} before answering`)));
  });
}
