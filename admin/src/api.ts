// The dashboard's HTTP client: every call goes to the server that served the
// page, with the signed-in credential (a bearer token or API key kept in
// sessionStorage). Answers are the server's envelope
// {success, data, meta} | {success: false, error: {code, message, …}}.

export type Meta = Record<string, unknown>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const CREDENTIAL_KEY = 'mantis.credential';
const listeners = new Set<() => void>();

/** The credential sent as `Authorization: Bearer …` (a session token or an mk_ API key). */
export const credential = {
  get(): string | null {
    try {
      return sessionStorage.getItem(CREDENTIAL_KEY);
    } catch {
      return null;
    }
  },
  set(value: string | null): void {
    if (value === null) sessionStorage.removeItem(CREDENTIAL_KEY);
    else sessionStorage.setItem(CREDENTIAL_KEY, value);
    for (const l of listeners) l();
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

/** Called when the server answers 401: the app shows its sign-in form. */
let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export type RequestOptions = {
  readonly query?: Query;
  /** A JSON body (serialized here). */
  readonly json?: unknown;
  /** Any other body, with its content type. */
  readonly body?: BodyInit;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
};

export function urlOf(path: string, query?: Query): string {
  if (query === undefined) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const text = params.toString();
  return text === '' ? path : `${path}${path.includes('?') ? '&' : '?'}${text}`;
}

/** Path segments are percent-encoded one by one ("user:1/x" stays one segment). */
export const seg = (value: string): string => encodeURIComponent(value);

/** The CSRF cookie set beside the (HttpOnly) session cookie by a login, e.g. after an OAuth2 sign-in. */
function csrfCookie(): string | null {
  const match = /(?:^|;\s*)mantis_csrf=([^;]*)/.exec(typeof document === 'undefined' ? '' : document.cookie);
  return match === null ? null : decodeURIComponent(match[1]);
}

/**
 * The signed-in credential as a bearer header. Without one (a session from an OAuth2 sign-in lives
 * in the session cookie), writes carry the CSRF cookie's value in X-CSRF-Token, as the server asks.
 */
export function authHeaders(method = 'GET'): Record<string, string> {
  const token = credential.get();
  if (token !== null) return { Authorization: `Bearer ${token}` };
  const csrf = method === 'GET' || method === 'HEAD' ? null : csrfCookie();
  return csrf === null ? {} : { 'X-CSRF-Token': csrf };
}

/** The raw response; a non-2xx answer is turned into an ApiError from its error envelope. */
export async function requestRaw(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders(method), ...options.headers };
  let body: BodyInit | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['Content-Type'] = 'application/json';
  } else if (options.contentType !== undefined) headers['Content-Type'] = options.contentType;
  let response: Response;
  try {
    response = await fetch(urlOf(path, options.query), { method, headers, body, signal: options.signal, credentials: 'same-origin' });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'NETWORK_ERROR', `the server did not answer (${(error as Error).message})`);
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function errorOf(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`;
  let message = response.statusText || 'request failed';
  let details: Record<string, unknown> = {};
  try {
    const parsed = (await response.json()) as { error?: { code?: string; message?: string } & Record<string, unknown> };
    if (parsed.error !== undefined) {
      code = parsed.error.code ?? code;
      message = parsed.error.message ?? message;
      const { code: _c, message: _m, ...rest } = parsed.error;
      details = rest;
    }
  } catch {
    // not an envelope: keep the status line
  }
  if (response.status === 401) onUnauthorized?.();
  return new ApiError(response.status, code, message, details);
}

export type Answer<T> = { readonly data: T; readonly meta: Meta; readonly status: number };

/** A JSON route: the envelope's data and meta. */
export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<Answer<T>> {
  const response = await requestRaw(method, path, options);
  const text = await response.text();
  if (text === '') return { data: undefined as T, meta: {}, status: response.status };
  const parsed = JSON.parse(text) as { data?: T; meta?: Meta };
  return { data: parsed.data as T, meta: parsed.meta ?? {}, status: response.status };
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>('GET', path, options),
  post: <T>(path: string, json?: unknown, options?: RequestOptions) => request<T>('POST', path, { ...options, json: json ?? {} }),
  put: <T>(path: string, json?: unknown, options?: RequestOptions) => request<T>('PUT', path, { ...options, json: json ?? {} }),
  patch: <T>(path: string, json?: unknown, options?: RequestOptions) => request<T>('PATCH', path, { ...options, json: json ?? {} }),
  delete: <T>(path: string, options?: RequestOptions) => request<T>('DELETE', path, options),
};

/** Saves a response body as a file the browser downloads (with the credential, unlike a plain link). */
export async function download(path: string, query: Query, fallbackName: string): Promise<number> {
  const response = await requestRaw('GET', path, { query, headers: { Accept: '*/*' } });
  const blob = await response.blob();
  const disposition = response.headers.get('content-disposition') ?? '';
  saveBlob(blob, /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName);
  return blob.size;
}

/** Hands bytes to the browser as a downloaded file. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
