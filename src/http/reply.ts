// What a route answers, independent of the listener that writes it (the uWS
// fast path and the Hono app share every handler), and the JSON envelope:
// { success, data, meta } or { success: false, error: { code, message, retryable } }.

import { MantisError } from '../../shared/errors.js';

export type HttpReply = {
  readonly status: number;
  readonly contentType: string;
  readonly body: Uint8Array | string;
  readonly headers?: readonly (readonly [string, string])[];
  /** For HEAD: the Content-Length the GET would have, sent with no body. */
  readonly headLength?: number;
  /**
   * A body too large to hold in memory (a backup as a tar): written chunk by chunk as the socket
   * drains (`body` is ignored). A route asks for it with the X-Mantis-Stream: 1 header.
   */
  readonly stream?: AsyncIterable<Uint8Array>;
};

/** The response header a Hono route sets to have its body streamed rather than buffered. */
export const STREAM_HEADER = 'x-mantis-stream';

const JSON_TYPE = 'application/json; charset=utf-8';

export function okReply(data: unknown, meta: Record<string, unknown> = {}, status = 200): HttpReply {
  return { status, contentType: JSON_TYPE, body: JSON.stringify({ success: true, data, meta }) };
}

export function errorReply(error: MantisError): HttpReply {
  const body = JSON.stringify({
    success: false,
    error: { code: error.code, message: error.message, retryable: error.retryable, ...error.details },
  });
  const headers: (readonly [string, string])[] = error.retryable ? [['Retry-After', '1']] : [];
  return { status: error.status, contentType: JSON_TYPE, body, headers };
}

/** Runs a route's work; whatever it throws becomes the reply (replyForError), unexpected errors reported. */
export function guarded(report: (error: unknown) => void): (work: () => Promise<HttpReply>) => Promise<HttpReply> {
  return async (work) => {
    try {
      return await work();
    } catch (error) {
      return replyForError(error, report);
    }
  };
}

/** Any thrown value as a reply; unknown errors become INTERNAL and are reported. */
export function replyForError(error: unknown, report: (error: unknown) => void): HttpReply {
  if (error instanceof MantisError) return errorReply(error);
  report(error);
  return errorReply(new MantisError('INTERNAL', 'internal error; see the server log'));
}

export const STATUS_TEXT: Record<number, string> = {
  101: 'Switching Protocols', 200: 'OK', 201: 'Created', 204: 'No Content', 302: 'Found', 304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 410: 'Gone', 411: 'Length Required',
  413: 'Content Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type', 429: 'Too Many Requests',
  500: 'Internal Server Error', 503: 'Service Unavailable', 504: 'Gateway Timeout', 507: 'Insufficient Storage',
};

export function statusLine(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? 'Status'}`;
}
