// The overload phase's request path: plain keep-alive sockets (node:net), one
// request at a time on each, the request written as one string (plus the value
// for a PUT) and the response parsed just enough to know its status, its
// length and, when it is not a success, its error code. On the 2-core machine
// the harness shares with the server, undici costs about as much CPU per
// request as the server spends serving it, so a phase "past capacity" would
// saturate the harness first and never reach the server; this path costs a
// fraction of that, so the excess reaches the server, which is what the
// overload phase is about. Plain HTTP only (no TLS).
//
// Free connections are used in turn (first freed, first used), so none sits
// idle past the server's keep-alive timeout while others work; a request whose
// connection the server closed before answering anything (an idle connection
// closed just as it was used) is sent again once, on another connection.

import { connect, type Socket } from 'node:net';
import { errorCodeOf } from './http-sender.js';
import type { Op, Send } from './open-loop.js';
import { keyOf } from './target-server.js';

const HEADER_END = Buffer.from('\r\n\r\n');
const CONNECT_TIMEOUT_MS = 30_000;

type Waiter = { readonly op: Op; readonly head: string; readonly resolve: (code: string | null) => void; retried: boolean };

/** One keep-alive connection with at most one request outstanding. */
class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private current: Waiter | null = null;
  closed = false;

  constructor(
    readonly socket: Socket,
    private readonly done: (conn: Connection, waiter: Waiter, code: string | null) => void,
    /** The connection closed; `unanswered` is its request when nothing of the answer had arrived. */
    private readonly lost: (conn: Connection, unanswered: Waiter | null) => void,
    private readonly valueBytes: number,
    private readonly preloaded: boolean,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      const w = this.current;
      this.current = null;
      if (w !== null && this.buffer.length > 0) w.resolve('CONNECTION_FAILED');
      this.lost(this, w !== null && this.buffer.length === 0 ? w : null);
    });
  }

  send(w: Waiter, value: Buffer): void {
    this.current = w;
    if (w.op === 'get') {
      this.socket.write(w.head);
      return;
    }
    this.socket.cork();
    this.socket.write(w.head);
    this.socket.write(value);
    this.socket.uncork();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = this.buffer.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.buffer.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const match = /\r\ncontent-length: *(\d+)/i.exec(head);
    const length = match === null ? 0 : Number(match[1]);
    const total = end + 4 + length;
    if (this.buffer.length < total) return;
    const body = this.buffer.subarray(end + 4, total);
    this.buffer = this.buffer.length === total ? Buffer.alloc(0) : this.buffer.subarray(total);
    const w = this.current;
    this.current = null;
    if (w === null) return;
    this.done(this, w, this.outcome(w.op, status, body));
  }

  private outcome(op: Op, status: number, body: Buffer): string | null {
    if (status === 200) return op === 'get' && body.length !== this.valueBytes ? 'BAD_VALUE' : null;
    if (op === 'get' && status === 404) return this.preloaded ? 'KEY_MISSING' : null;
    return errorCodeOf(status, body);
  }
}

export class RawSender {
  private readonly host: string;
  private readonly port: number;
  /** Free connections, first freed first (a queue: idleHead is its front). */
  private readonly idle: Connection[] = [];
  private idleHead = 0;
  private readonly all = new Set<Connection>();
  private readonly waiting: Waiter[] = [];
  private waitingHead = 0;
  private closing = false;
  /** Connections the server closed (each is replaced). */
  reconnects = 0;

  constructor(
    url: string,
    private readonly connections: number,
    private readonly value: Buffer,
    private readonly preloaded: boolean,
  ) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:') throw new Error(`the overload phase sends plain HTTP; ${url} is not http://`);
    this.host = parsed.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(parsed.port || 80);
  }

  /** Opens every connection before the measurement (a few at a time). */
  async warm(): Promise<void> {
    let opened = 0;
    const lane = async (): Promise<void> => {
      while (opened < this.connections) {
        opened++;
        this.release(await this.open());
      }
    };
    await Promise.all(Array.from({ length: Math.min(64, this.connections) }, () => lane()));
  }

  private open(): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.host, port: this.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connecting to ${this.host}:${this.port} took over ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        const conn = new Connection(socket, (c, w, code) => this.finished(c, w, code), (c, w) => this.lost(c, w), this.value.length, this.preloaded);
        this.all.add(conn);
        resolve(conn);
      });
    });
  }

  readonly send: Send = (op, i) =>
    new Promise<string | null>((resolve) => {
      const path = `/api/v1/kv/${keyOf(i)}`;
      const head = op === 'get'
        ? `GET ${path} HTTP/1.1\r\nHost: mantisdb\r\n\r\n`
        : `PUT ${path} HTTP/1.1\r\nHost: mantisdb\r\nContent-Type: application/octet-stream\r\nContent-Length: ${this.value.length}\r\n\r\n`;
      this.dispatch({ op, head, resolve, retried: false });
    });

  private dispatch(w: Waiter): void {
    const conn = this.takeIdle();
    if (conn !== null) conn.send(w, this.value);
    else this.waiting.push(w);
  }

  private takeIdle(): Connection | null {
    while (this.idleHead < this.idle.length) {
      const conn = this.idle[this.idleHead++];
      if (this.idleHead > 1024 && this.idleHead * 2 > this.idle.length) {
        this.idle.splice(0, this.idleHead);
        this.idleHead = 0;
      }
      if (!conn.closed) return conn;
    }
    return null;
  }

  private finished(conn: Connection, w: Waiter, code: string | null): void {
    this.release(conn);
    w.resolve(code);
  }

  /** A free connection takes the oldest waiting request, or waits itself. */
  private release(conn: Connection): void {
    if (conn.closed) return;
    if (this.waitingHead < this.waiting.length) {
      const next = this.waiting[this.waitingHead++];
      if (this.waitingHead > 4096 && this.waitingHead * 2 > this.waiting.length) {
        this.waiting.splice(0, this.waitingHead);
        this.waitingHead = 0;
      }
      conn.send(next, this.value);
      return;
    }
    this.idle.push(conn);
  }

  private lost(conn: Connection, unanswered: Waiter | null): void {
    this.all.delete(conn);
    if (unanswered !== null) {
      if (unanswered.retried || this.closing) unanswered.resolve('CONNECTION_FAILED');
      else {
        unanswered.retried = true;
        this.dispatch(unanswered);
      }
    }
    if (this.closing) return;
    this.reconnects++;
    this.open().then(
      (fresh) => this.release(fresh),
      () => undefined,
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const w of this.waiting.splice(this.waitingHead)) w.resolve('CONNECTION_FAILED');
    this.waitingHead = 0;
    this.waiting.length = 0;
    await Promise.all(
      [...this.all].map(
        (conn) =>
          new Promise<void>((resolve) => {
            if (conn.closed) return resolve();
            conn.socket.once('close', () => resolve());
            conn.socket.end();
          }),
      ),
    );
  }
}
