// The cache control routes from the integration tests: policies, explicit
// invalidation and dependencies, answered as the envelope's data.

import type { PolicyRule } from '../../shared/cache/policy.js';
import { expectOk } from './http-client.js';

const JSON_HEADERS = { 'content-type': 'application/json' };

export async function putPolicies(base: string, policies: readonly PolicyRule[]): Promise<{ policies: PolicyRule[]; source: string }> {
  const response = await fetch(`${base}/api/v1/cache/policies`, { method: 'PUT', headers: JSON_HEADERS, body: JSON.stringify({ policies }) });
  return (await expectOk<{ policies: PolicyRule[]; source: string }>(response)).data;
}

export async function getPolicies(base: string): Promise<{ policies: PolicyRule[]; source: string }> {
  return (await expectOk<{ policies: PolicyRule[]; source: string }>(await fetch(`${base}/api/v1/cache/policies`))).data;
}

export type InvalidateData = { invalidated: number; keys: number; dependents: number };

export async function invalidate(base: string, target: { key: string } | { prefix: string } | { tag: string }): Promise<InvalidateData> {
  const response = await fetch(`${base}/api/v1/cache/invalidate`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(target) });
  return (await expectOk<InvalidateData>(response)).data;
}

export function postJson(base: string, path: string, body: unknown, method = 'POST'): Promise<Response> {
  return fetch(`${base}${path}`, { method, headers: JSON_HEADERS, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

export async function addDependency(base: string, parent: string, child: string): Promise<Response> {
  return postJson(base, '/api/v1/cache/dependencies', { parent, child });
}
