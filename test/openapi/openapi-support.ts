// What the OpenAPI suites share: the document's shape as the tests read it,
// the concrete request each documented operation is tried with (path
// parameters and query parameters from their examples, the body example),
// the match of the routes listing ("GET /api/v1/kv/*", "ALL /api/v1/docs/*")
// against documented operations, and an Ajv (JSON Schema 2020-12, as OpenAPI
// 3.1 uses it) that resolves the document's #/components/schemas references.

import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

export type Schema = Record<string, unknown>;
export type Media = { schema?: Schema; example?: unknown };
export type Parameter = { name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema?: Schema; example?: unknown; $ref?: string };
export type Operation = {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
  security: unknown[];
  'x-mantis-permission': string;
  'x-mantis-route': string;
  'x-mantis-transport'?: 'sse' | 'websocket';
  'x-mantis-error-codes': string[];
};
export type OpenApiDoc = {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; parameters: Record<string, Parameter> };
};

export type DocumentedOp = { readonly method: string; readonly path: string; readonly op: Operation };

export function operationsOf(doc: OpenApiDoc): DocumentedOp[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, op })));
}

/** A parameter as written, or the component a $ref names. */
export function parameterOf(doc: OpenApiDoc, p: Parameter): Parameter {
  if (p.$ref === undefined) return p;
  return doc.components.parameters[p.$ref.slice('#/components/parameters/'.length)];
}

/** The concrete request for an operation: {x} replaced by the examples, query parameters with examples, the body example. */
export function sampleRequest(doc: OpenApiDoc, o: DocumentedOp): { path: string; query: string; body?: string; contentType?: string } {
  const params = (o.op.parameters ?? []).map((p) => parameterOf(doc, p));
  const path = o.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const p = params.find((q) => q.in === 'path' && q.name === name);
    if (p === undefined || p.example === undefined) throw new Error(`${o.method} ${o.path}: path parameter ${name} has no example`);
    return encodeURIComponent(String(p.example));
  });
  const query = new URLSearchParams();
  for (const p of params) if (p.in === 'query' && p.example !== undefined) query.set(p.name, String(p.example));
  const content = o.op.requestBody?.content ?? {};
  const json = content['application/json'];
  if (json?.example !== undefined) return { path, query: query.toString(), body: JSON.stringify(json.example), contentType: 'application/json' };
  const other = Object.values(content).find((m) => m.example !== undefined);
  if (other !== undefined) return { path, query: query.toString(), body: String(other.example), contentType: 'text/plain' };
  return { path, query: query.toString() };
}

/** The example value of each {name} in a permission ("docs:{c}:read" → "docs:users:read"). */
export function concretePermission(doc: OpenApiDoc, o: DocumentedOp): string {
  const params = (o.op.parameters ?? []).map((p) => parameterOf(doc, p));
  return o.op['x-mantis-permission'].replace(/\{([^}]+)\}/g, (_, name: string) => String(params.find((p) => p.name === name)?.example ?? ''));
}

/**
 * Does a routes-listing entry ("METHOD /pattern": ":name" one segment, "*" the rest of the path,
 * ALL any method, GET also HEAD) serve a documented operation (an OpenAPI path, "{name}" segments)?
 */
export function entryServes(entry: string, o: { method: string; path: string }): boolean {
  const [method, pattern] = entry.split(' ');
  if (!(method === 'ALL' || method === o.method || (method === 'GET' && o.method === 'HEAD'))) return false;
  const p = pattern.split('/');
  const d = o.path.split('/');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '*') return d.length > i;
    if (i >= d.length) return false;
    if (p[i].startsWith(':')) {
      if (!/^\{[^}]+\}$/.test(d[i])) return false;
      continue;
    }
    if (p[i] !== d[i]) return false;
  }
  return p.length === d.length;
}

/** The listing's entries that serve no documented operation. */
export function undocumented(listing: readonly string[], ops: readonly { method: string; path: string }[]): string[] {
  return listing.filter((entry) => !ops.some((o) => entryServes(entry, o)));
}

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** Rewrites "#/components/schemas/X" to the registered schema set, so any schema of the document compiles alone. */
function rebased(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rebased);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/') ? `urn:mantis:schemas#/$defs/${v.slice(21)}` : rebased(v)]),
  );
}

/** An Ajv 2020-12 validator factory for the document's schemas (strict: an unknown keyword is an error). */
export function schemaCompiler(doc: OpenApiDoc): (schema: Schema) => ValidateFunction {
  const ajv = new Ajv2020({ strict: true, strictTypes: false, strictTuples: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'urn:mantis:schemas', $defs: rebased(doc.components.schemas) as Record<string, Schema> });
  return (schema) => ajv.compile(rebased(schema) as Schema);
}

/** Every example of the document with the schema it must satisfy, named by where it is. */
export function examplesOf(doc: OpenApiDoc): { where: string; schema: Schema; example: unknown }[] {
  const out: { where: string; schema: Schema; example: unknown }[] = [];
  for (const [name, p] of Object.entries(doc.components.parameters)) {
    if (p.example !== undefined && p.schema !== undefined) out.push({ where: `components.parameters.${name}`, schema: p.schema, example: p.example });
  }
  for (const o of operationsOf(doc)) {
    const at = `${o.method} ${o.path}`;
    for (const p of o.op.parameters ?? []) {
      if (p.$ref === undefined && p.example !== undefined && p.schema !== undefined) out.push({ where: `${at} parameter ${p.name}`, schema: p.schema, example: p.example });
    }
    for (const [type, m] of Object.entries(o.op.requestBody?.content ?? {})) {
      if (m.example !== undefined && m.schema !== undefined) out.push({ where: `${at} request body (${type})`, schema: m.schema, example: m.example });
    }
    for (const [status, r] of Object.entries(o.op.responses)) {
      for (const [type, m] of Object.entries(r.content ?? {})) {
        if (m.example !== undefined && m.schema !== undefined) out.push({ where: `${at} response ${status} (${type})`, schema: m.schema, example: m.example });
      }
    }
  }
  return out;
}
