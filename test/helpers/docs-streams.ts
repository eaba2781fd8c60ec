// Change-stream clients for the document store's integration tests: SSE on
// GET /api/v1/docs/<c>/changes (optionally resuming from a token) and the
// WebSocket /ws subscription {"subscribe":"changes","collection":"c"}, both
// read through one inbox with a cursor, and the change events parsed into one
// shape (op, _id, document, updated fields, removed fields, resume token).

import { expect } from 'vitest';
import { Inbox, openWs, sseFields, type StreamMessage, type WsClient } from './stream-clients.js';
import { docsUrl, type Json, type JsonDoc } from './docs-client.js';

const WAIT_MS = 10_000;

export { Inbox };

/** A change event as the tests compare it. */
export type Change = {
  readonly op: 'insert' | 'update' | 'replace' | 'delete';
  readonly id: Json;
  readonly doc?: JsonDoc;
  readonly updated?: JsonDoc;
  readonly removed?: string[];
  readonly token: string;
};

/** The wire shape: MongoDB's change event plus `type`, with the resume token as `_id`. */
type RawChange = {
  type: string;
  _id: string;
  operationType: Change['op'];
  ns: { coll: string };
  documentKey: { _id: Json };
  fullDocument?: JsonDoc;
  updateDescription?: { updatedFields: JsonDoc; removedFields: string[] };
  wallTime: Json;
};

/** A change message (SSE data or WebSocket message) as a Change; fails on anything else. */
export function changeOf(message: unknown): Change {
  const raw = message as RawChange;
  expect(raw.type, JSON.stringify(message)).toBe('change');
  expect(['insert', 'update', 'replace', 'delete']).toContain(raw.operationType);
  expect(typeof raw._id, JSON.stringify(message)).toBe('string');
  expect(raw.wallTime, JSON.stringify(message)).toEqual({ $date: expect.any(String) });
  const change: { -readonly [K in keyof Change]: Change[K] } = { op: raw.operationType, id: raw.documentKey._id, token: raw._id };
  if (raw.fullDocument !== undefined) change.doc = raw.fullDocument;
  if (raw.updateDescription !== undefined) {
    change.updated = raw.updateDescription.updatedFields;
    change.removed = raw.updateDescription.removedFields;
  }
  return change;
}

export type ChangeStream = {
  readonly changes: Inbox<Change>;
  /** The next change (waits for it). */
  next(timeoutMs?: number): Promise<Change>;
  /** Reads `count` changes. */
  take(count: number, timeoutMs?: number): Promise<Change[]>;
  close(): void;
};

function streamOf(changes: Inbox<Change>, close: () => void): ChangeStream {
  const next = (timeoutMs = WAIT_MS): Promise<Change> => changes.next(timeoutMs, 'a change event');
  return {
    changes,
    next,
    take: async (count, timeoutMs = WAIT_MS) => {
      const deadline = Date.now() + timeoutMs;
      const out: Change[] = [];
      while (out.length < count) out.push(await next(Math.max(1, deadline - Date.now())));
      return out;
    },
    close,
  };
}

export type SseOptions = { readonly resumeAfter?: string; readonly filter?: JsonDoc };

/** Opens the SSE change stream of `coll`; resolves once the server answered 200 and the subscribed event came. */
export async function openChangesSse(base: string, coll: string, options: SseOptions = {}): Promise<ChangeStream> {
  const query = new URLSearchParams();
  if (options.resumeAfter !== undefined) query.set('resume_after', options.resumeAfter);
  if (options.filter !== undefined) query.set('filter', JSON.stringify(options.filter));
  const abort = new AbortController();
  const qs = query.size > 0 ? `?${query}` : '';
  const response = await fetch(docsUrl(base, `/${encodeURIComponent(coll)}/changes${qs}`), { signal: abort.signal });
  if (response.status !== 200) throw new Error(`change stream answered ${response.status}: ${await response.text()}`);
  expect(response.headers.get('content-type')).toBe('text/event-stream');
  const body = response.body;
  if (body === null) throw new Error('SSE response has no body');
  const changes = new Inbox<Change>();
  const subscribed = new Inbox<string>();
  void (async () => {
    const decoder = new TextDecoder();
    let text = '';
    try {
      for await (const chunk of body) {
        text += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = text.indexOf('\n\n')) !== -1) {
          const block = parseBlock(text.slice(0, end));
          text = text.slice(end + 2);
          if (block === null) continue;
          if (block.event === 'subscribed') subscribed.push(block.data);
          else if (block.event === 'change') {
            const change = changeOf(JSON.parse(block.data));
            expect(block.id, 'an SSE change carries its resume token as the event id').toBe(change.token);
            changes.push(change);
          }
        }
      }
      changes.finish('end');
    } catch (error) {
      changes.finish(error instanceof Error ? error.message : String(error));
    }
    subscribed.finish('stream over');
  })();
  await subscribed.next(WAIT_MS, 'the subscribed event');
  return streamOf(changes, () => abort.abort());
}

function parseBlock(block: string): { id: string | null; event: string; data: string } | null {
  const f = sseFields(block);
  return f.data === null ? null : { id: f.id, event: f.event, data: f.data };
}

/** Subscribes a (new) WebSocket to the changes of `coll`; resolves after the subscribed answer. */
export async function openChangesWs(base: string, coll: string, options: { readonly resumeAfter?: string } = {}): Promise<ChangeStream & { readonly ws: WsClient }> {
  const ws = await openWs(base);
  const subscribe: Record<string, string> = { subscribe: 'changes', collection: coll };
  if (options.resumeAfter !== undefined) subscribe.resume_after = options.resumeAfter;
  ws.send(JSON.stringify(subscribe));
  const answer = await ws.inbox.next(WAIT_MS, 'the subscribe answer');
  expect(answer).toMatchObject({ type: 'subscribed', stream: 'changes', collection: coll });
  const changes = new Inbox<Change>();
  void (async () => {
    for (;;) {
      let message: StreamMessage;
      try {
        message = await ws.inbox.next(24 * 3600_000);
        changes.push(changeOf(message));
      } catch (error) {
        // The socket closed, or a message that is not a change: the reader sees why.
        changes.finish(error instanceof Error ? error.message : String(error));
        return;
      }
    }
  })();
  return { ...streamOf(changes, () => ws.close()), ws };
}
