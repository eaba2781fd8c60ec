// Clients of the cache invalidation streams for the integration tests: a
// WebSocket (undici's; Node 20 has no global one without a flag), an SSE
// reader over fetch, and raw sockets that stop reading, to make the server
// cut a slow subscriber.

import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { WebSocket } from 'undici';

const WAIT_MS = 10_000;

/** Messages in arrival order, read with a cursor; next() waits for one not yet read. */
export class Inbox<T> {
  readonly all: T[] = [];
  private read = 0;
  private waiters: (() => void)[] = [];
  done: string | null = null;

  push(item: T): void {
    this.all.push(item);
    for (const wake of this.waiters.splice(0)) wake();
  }

  finish(why: string): void {
    this.done = why;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** The next unread item; rejects after timeoutMs, or when the stream ended with nothing left. */
  async next(timeoutMs = WAIT_MS, what = 'a message'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.read >= this.all.length) {
      if (this.done !== null) throw new Error(`stream ended (${this.done}) while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms (read ${this.read}: ${JSON.stringify(this.all.slice(-5))})`);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
    return this.all[this.read++];
  }

  /** Reads until an item matches; returns the items read on the way, the match last. */
  async until(match: (item: T) => boolean, timeoutMs = WAIT_MS, what = 'a matching message'): Promise<T[]> {
    const deadline = Date.now() + timeoutMs;
    const seen: T[] = [];
    for (;;) {
      const item = await this.next(Math.max(1, deadline - Date.now()), what);
      seen.push(item);
      if (match(item)) return seen;
    }
  }

  /** Items not read yet (no waiting). */
  unread(): T[] {
    return this.all.slice(this.read);
  }
}

export type StreamMessage = { readonly type: string; readonly [field: string]: unknown };

export type WsClient = {
  readonly inbox: Inbox<StreamMessage>;
  send(data: string | Uint8Array): void;
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): void;
};

export function wsUrl(base: string): string {
  return `${base.replace(/^http/, 'ws')}/ws`;
}

export async function openWs(base: string): Promise<WsClient> {
  const ws = new WebSocket(wsUrl(base));
  const inbox = new Inbox<StreamMessage>();
  ws.addEventListener('message', (e) => inbox.push(JSON.parse(String(e.data)) as StreamMessage));
  const closed = new Promise<{ code: number; reason: string }>((done) =>
    ws.addEventListener('close', (e) => {
      inbox.finish(`close ${e.code}`);
      done({ code: e.code, reason: e.reason });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error(`WebSocket ${wsUrl(base)} did not open`)));
  });
  return { inbox, send: (data) => ws.send(data), closed, close: () => ws.close() };
}

/** Sends a subscribe message and waits for its answer. */
export async function wsSubscribe(client: WsClient, prefix?: string, action: 'subscribe' | 'unsubscribe' = 'subscribe'): Promise<StreamMessage> {
  client.send(JSON.stringify(prefix === undefined ? { [action]: 'invalidations' } : { [action]: 'invalidations', prefix }));
  return client.inbox.next(WAIT_MS, `the ${action} answer`);
}

export type SseEvent = { readonly id: string | null; readonly event: string; readonly data: StreamMessage };

export type SseClient = {
  readonly status: number;
  readonly headers: Headers;
  readonly inbox: Inbox<SseEvent>;
  /** Comment lines (": ping"), in order. */
  readonly comments: string[];
  /** Resolves 'end' when the body ended cleanly, or the error message. */
  readonly ended: Promise<string>;
  close(): void;
};

export function sseUrl(base: string, prefix?: string): string {
  return `${base}/api/v1/cache/invalidations/stream${prefix === undefined ? '' : `?prefix=${encodeURIComponent(prefix)}`}`;
}

/** Opens the stream; with a 200, waits for the subscribed event. */
export async function openSse(base: string, prefix?: string): Promise<SseClient> {
  const abort = new AbortController();
  const response = await fetch(sseUrl(base, prefix), { signal: abort.signal });
  const inbox = new Inbox<SseEvent>();
  const comments: string[] = [];
  const body = response.body;
  if (body === null) throw new Error('SSE response has no body');
  const ended = (async (): Promise<string> => {
    const decoder = new TextDecoder();
    let text = '';
    try {
      for await (const chunk of body) {
        text += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = text.indexOf('\n\n')) !== -1) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          parseBlock(block, inbox, comments);
        }
      }
      inbox.finish('end');
      return 'end';
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      inbox.finish(message);
      return message;
    }
  })();
  const client: SseClient = { status: response.status, headers: response.headers, inbox, comments, ended, close: () => abort.abort() };
  if (response.status === 200) {
    const first = await inbox.next(WAIT_MS, 'the subscribed event');
    if (first.event !== 'subscribed') throw new Error(`first SSE event is ${JSON.stringify(first)}`);
  }
  return client;
}

/** The fields of one SSE event block (lines up to a blank line): id, event, the data lines joined, the comment lines. */
export function sseFields(block: string): { id: string | null; event: string; data: string | null; comments: string[] } {
  let id: string | null = null;
  let event = 'message';
  const data: string[] = [];
  const comments: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      comments.push(line);
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return { id, event, data: data.length === 0 ? null : data.join('\n'), comments };
}

function parseBlock(block: string, inbox: Inbox<SseEvent>, comments: string[]): void {
  const f = sseFields(block);
  comments.push(...f.comments);
  if (f.data !== null) inbox.push({ id: f.id, event: f.event, data: JSON.parse(f.data) as StreamMessage });
}

/** A socket that reads nothing until resume(): what a stalled subscriber looks like to the server. */
export type StalledSocket = {
  readonly socket: Socket;
  /** Starts reading; resolves with every byte received once the server closes the connection. */
  drain(timeoutMs?: number): Promise<Buffer>;
};

function stalled(socket: Socket, head: Buffer[]): StalledSocket {
  return {
    socket,
    drain: (timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const parts = [...head];
        const timer = setTimeout(() => reject(new Error(`the server did not close the stalled connection within ${timeoutMs} ms`)), timeoutMs);
        socket.on('data', (chunk: Buffer) => parts.push(chunk));
        // A reset after the server gave up is an ending too.
        socket.on('error', () => undefined);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve(Buffer.concat(parts));
        });
        socket.resume();
      }),
  };
}

/**
 * Connects and sends `request`; `step` sees everything received so far (and may write more) and
 * says when the subscription is in place, at which point the socket stops reading.
 */
function openStalled(port: number, request: Buffer, step: (received: Buffer, socket: Socket) => boolean): Promise<StalledSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const head: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      head.push(chunk);
      let ready: boolean;
      try {
        ready = step(Buffer.concat(head), socket);
      } catch (error) {
        socket.destroy();
        reject(error);
        return;
      }
      if (!ready) return;
      socket.off('data', onData);
      socket.pause();
      resolve(stalled(socket, head));
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('connect', () => socket.write(request));
  });
}

/** An SSE subscription whose reader stalls once the subscribed event arrived. */
export function openStalledSse(port: number, prefix: string): Promise<StalledSocket> {
  const request = Buffer.from(`GET /api/v1/cache/invalidations/stream?prefix=${encodeURIComponent(prefix)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  return openStalled(port, request, (received) => received.includes('event: subscribed'));
}

/** A WebSocket subscription (raw frames) whose reader stalls once the subscribed answer arrived. */
export function openStalledWs(port: number, prefix: string): Promise<StalledSocket> {
  const key = randomBytes(16).toString('base64');
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  const request = Buffer.from(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let subscribed = false;
  return openStalled(port, request, (received, socket) => {
    const headEnd = received.indexOf('\r\n\r\n');
    if (headEnd === -1) return false;
    if (!subscribed) {
      const head = received.subarray(0, headEnd).toString('latin1');
      if (!head.startsWith('HTTP/1.1 101') || !head.includes(accept)) throw new Error(`upgrade refused: ${head}`);
      subscribed = true;
      socket.write(maskedTextFrame(JSON.stringify({ subscribe: 'invalidations', prefix })));
    }
    return received.includes('"type":"subscribed"');
  });
}

/** A client → server text frame (clients must mask). */
export function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x81, 0x80 | length]) : Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff]);
  const masked = Buffer.alloc(length);
  for (let i = 0; i < length; i++) masked[i] = payload[i] ^ mask[i % 4];
  return Buffer.concat([header, mask, masked]);
}

export type WsFrame = { readonly opcode: number; readonly payload: Buffer };

/** Server → client frames (unmasked) after the HTTP head; a truncated last frame is left out. */
export function parseWsFrames(received: Buffer): WsFrame[] {
  let at = received.indexOf('\r\n\r\n') + 4;
  const frames: WsFrame[] = [];
  while (at + 2 <= received.length) {
    const opcode = received[at] & 0x0f;
    let length = received[at + 1] & 0x7f;
    let start = at + 2;
    if (length === 126) {
      if (start + 2 > received.length) break;
      length = received.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      if (start + 8 > received.length) break;
      length = Number(received.readBigUInt64BE(start));
      start += 8;
    }
    if (start + length > received.length) break;
    frames.push({ opcode, payload: received.subarray(start, start + length) });
    at = start + length;
  }
  return frames;
}
