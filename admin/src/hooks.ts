// Data hooks: every section reads and writes through these, so each request
// has a loading state and each failure becomes an error toast with the
// server's code and message.

import { useCallback, useEffect, useRef, useState } from 'react';
import { api, authHeaders, errorOf, type Meta, type Query, urlOf } from './api';
import { notify } from './toast';

export type ApiState<T> = {
  readonly data: T | undefined;
  readonly meta: Meta;
  readonly error: Error | undefined;
  /** True while a request is in flight (the first one and every reload). */
  readonly loading: boolean;
  readonly reload: () => void;
};

export type UseApiOptions = {
  readonly query?: Query;
  /** Polls every N ms while mounted (0: never). */
  readonly refreshMs?: number;
  /** Failures are shown as toasts unless false. */
  readonly toast?: boolean;
};

/** GET a JSON route; null path: nothing is fetched. Re-fetches when path or query change. */
export function useApi<T>(path: string | null, options: UseApiOptions = {}): ApiState<T> {
  const [state, setState] = useState<{ data: T | undefined; meta: Meta; error: Error | undefined; loading: boolean }>({
    data: undefined,
    meta: {},
    error: undefined,
    loading: path !== null,
  });
  const [generation, setGeneration] = useState(0);
  const queryKey = JSON.stringify(options.query ?? {});
  const toast = options.toast !== false;
  useEffect(() => {
    if (path === null) {
      setState({ data: undefined, meta: {}, error: undefined, loading: false });
      return;
    }
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = (first: boolean): void => {
      if (first) setState((s) => ({ ...s, loading: true }));
      api
        .get<T>(path, { query: JSON.parse(queryKey) as Query, signal: controller.signal })
        .then(
          (answer) => setState({ data: answer.data, meta: answer.meta, error: undefined, loading: false }),
          (error: Error) => {
            if (controller.signal.aborted) return;
            if (toast) notify.error(error);
            setState((s) => ({ ...s, error, loading: false }));
          },
        )
        .finally(() => {
          if (!controller.signal.aborted && options.refreshMs !== undefined && options.refreshMs > 0) timer = setTimeout(() => load(false), options.refreshMs);
        });
    };
    load(true);
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [path, queryKey, generation, options.refreshMs, toast]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}

export type Action = {
  /** Runs work; on success shows `success` (when given) and returns its value; on failure an error toast and undefined. */
  readonly run: <R>(work: () => Promise<R>, success?: string | ((value: R) => string)) => Promise<R | undefined>;
  readonly busy: boolean;
  readonly error: Error | undefined;
};

/** A write (create, edit, delete…): busy while it runs, a toast for its outcome. */
export function useAction(): Action {
  const [busy, setBusy] = useState(0);
  const [error, setError] = useState<Error | undefined>(undefined);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  const run = useCallback(async <R,>(work: () => Promise<R>, success?: string | ((value: R) => string)): Promise<R | undefined> => {
    setBusy((b) => b + 1);
    setError(undefined);
    try {
      const value = await work();
      if (success !== undefined) notify.success(typeof success === 'string' ? success : success(value));
      return value;
    } catch (e) {
      notify.error(e);
      if (mounted.current) setError(e as Error);
      return undefined;
    } finally {
      if (mounted.current) setBusy((b) => b - 1);
    }
  }, []);
  return { run, busy: busy > 0, error };
}

export type StreamEvent = { readonly event: string; readonly data: string; readonly id?: string };

/** Parses Server-Sent Events from text chunks (fields per the HTML spec; comments ignored). */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;

  push(chunk: string): StreamEvent[] {
    this.buffer += chunk;
    const out: StreamEvent[] = [];
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      if (line === '') {
        if (this.data.length > 0) out.push({ event: this.event === '' ? 'message' : this.event, data: this.data.join('\n'), ...(this.id === undefined ? {} : { id: this.id }) });
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
      else if (field === 'id') this.id = value;
    }
    return out;
  }
}

export type StreamState = {
  readonly connected: boolean;
  readonly error: Error | undefined;
};

/**
 * Follows an SSE route with the signed-in credential (EventSource cannot send one): calls onEvent
 * for each event, reconnects after a failure (1 s, doubling to 15 s). null path: not connected.
 */
export function useEventStream(path: string | null, onEvent: (event: StreamEvent) => void, query?: Query): StreamState {
  const [state, setState] = useState<StreamState>({ connected: false, error: undefined });
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const queryKey = JSON.stringify(query ?? {});
  useEffect(() => {
    if (path === null) return;
    const controller = new AbortController();
    let delay = 1000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let reported = false;
    const connect = async (): Promise<void> => {
      try {
        const response = await fetch(urlOf(path, JSON.parse(queryKey) as Query), {
          headers: { Accept: 'text/event-stream', ...authHeaders() },
          signal: controller.signal,
          credentials: 'same-origin',
        });
        if (!response.ok) throw await errorOf(response);
        if (response.body === null) throw new Error('the stream has no body');
        setState({ connected: true, error: undefined });
        delay = 1000;
        reported = false;
        const parser = new SseParser();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const event of parser.push(value)) handler.current(event);
        }
        throw new Error('the server closed the stream');
      } catch (error) {
        if (controller.signal.aborted) return;
        // One toast per outage, not one per retry.
        if (!reported) notify.error(error);
        reported = true;
        setState({ connected: false, error: error as Error });
        timer = setTimeout(() => void connect(), delay);
        delay = Math.min(delay * 2, 15_000);
      }
    };
    void connect();
    return () => {
      controller.abort();
      clearTimeout(timer);
      setState({ connected: false, error: undefined });
    };
  }, [path, queryKey]);
  return state;
}
