// HTTP with the package's policy: a timeout per attempt, and up to `attempts` tries with
// exponential backoff for network errors and 5xx answers only. Error answers become
// HttpErrors carrying the RFC 9457 problem document.

import { HttpError, NetworkError, TimeoutError, type ProblemDocument } from './errors.js';

/** How the package talks HTTP; every field is optional. */
export interface HttpOptions {
  /** The fetch function (default: the global `fetch`). */
  fetch?: typeof fetch;
  /** Time allowed for one attempt, answer body included, in ms (default 30000). */
  timeoutMs?: number;
  /** Attempts per request for network errors and 5xx answers, the first included (default 3). */
  attempts?: number;
  /** The wait before the first retry in ms, doubled for each further one (default 250). */
  backoffMs?: number;
}

/** HttpOptions with every default filled in. */
export interface HttpPolicy {
  fetch: typeof fetch;
  timeoutMs: number;
  attempts: number;
  backoffMs: number;
}

/** The defaults applied to `options`. */
export function policy(options: HttpOptions = {}): HttpPolicy {
  if (typeof (options.fetch ?? globalThis.fetch) !== 'function') {
    throw new TypeError('no fetch function: pass options.fetch');
  }
  return {
    // Called unbound: browsers refuse a `fetch` whose `this` is not the global object.
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    timeoutMs: positive(options.timeoutMs, 30_000, 'timeoutMs'),
    attempts: Math.max(1, Math.floor(positive(options.attempts, 3, 'attempts'))),
    backoffMs: positive(options.backoffMs, 250, 'backoffMs', true),
  };
}

function positive(v: number | undefined, fallback: number, name: string, zeroOk = false): number {
  if (v === undefined) return fallback;
  if (!Number.isFinite(v) || v < 0 || (!zeroOk && v === 0)) {
    throw new RangeError(`options.${name} must be a ${zeroOk ? 'non-negative' : 'positive'} number, not ${v}`);
  }
  return v;
}

/** An HTTP answer, body read. */
export interface Answer {
  status: number;
  headers: Headers;
  body: Uint8Array;
  url: string;
  /** Attempts it took (1 unless retried). */
  attempts: number;
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isTimeout(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'TimeoutError';
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    const inner = cause instanceof Error ? `: ${cause.message}` : '';
    return `${e.message}${inner}`;
  }
  return String(e);
}

/**
 * Sends one request. Returns the last answer whatever its status (5xx after all attempts
 * included); throws NetworkError when no answer came, TimeoutError when an attempt ran out
 * of time (not retried: the server may be working on it).
 */
export async function send(what: string, url: string, init: RequestInit, p: HttpPolicy): Promise<Answer> {
  let last: unknown;
  for (let attempt = 1; attempt <= p.attempts; attempt++) {
    if (attempt > 1) await sleep(p.backoffMs * 2 ** (attempt - 2));
    const signal = AbortSignal.timeout(p.timeoutMs);
    try {
      const r = await p.fetch(url, { ...init, signal });
      const body = new Uint8Array(await r.arrayBuffer());
      if (r.status >= 500 && attempt < p.attempts) {
        last = new Error(`HTTP ${r.status}`);
        continue;
      }
      return { status: r.status, headers: r.headers, body, url: r.url || url, attempts: attempt };
    } catch (e) {
      if (isTimeout(e) || signal.aborted) {
        throw new TimeoutError(`${what}: no answer from ${url} within ${p.timeoutMs} ms`, url, p.timeoutMs);
      }
      last = e;
    }
  }
  throw new NetworkError(
    `${what}: cannot reach ${url} (${p.attempts} attempt${p.attempts === 1 ? '' : 's'}): ${describe(last)}`,
    url,
    p.attempts,
    last,
  );
}

function problemOf(a: Answer): ProblemDocument | undefined {
  if (a.body.length === 0) return undefined;
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(a.body));
    if (typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string') {
      return v as ProblemDocument;
    }
  } catch {
    // Not JSON: the status alone describes the failure.
  }
  return undefined;
}

function oneLine(s: string, max: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length <= max ? t : `${t.slice(0, max - 3)}...`;
}

/** The HttpError for an error answer, with a hint for the usual causes. */
export function errorAnswer(what: string, a: Answer, hints: Partial<Record<string, string>> = {}): HttpError {
  const problem = problemOf(a);
  let text: string;
  if (problem !== undefined) {
    const detail = problem.detail ?? problem.title;
    text = `${oneLine(problem.type, 200)}${detail ? `: ${oneLine(detail, 300)}` : ''}`;
  } else {
    text = oneLine(new TextDecoder().decode(a.body), 200) || 'no details';
  }
  const err = new HttpError(`${what}: HTTP ${a.status}, ${text}`, a.status, a.url, problem);
  const hint = (err.dapError !== undefined ? hints[err.dapError] : undefined) ?? hints[String(a.status)];
  if (hint !== undefined) err.message += ` (${hint})`;
  return err;
}

/** A DAP media type. */
export function mediaType(message: string): string {
  return `application/ppm-dap;message=${message}`;
}

/** Whether the answer's Content-Type is the DAP media type `message`. */
export function isMedia(a: Answer, message: string): boolean {
  const ct = a.headers.get('content-type');
  if (ct === null) return true;
  const [essence, ...params] = ct.split(';').map((s) => s.trim());
  if (essence?.toLowerCase() !== 'application/ppm-dap') return false;
  return params.some((p) => {
    const [k, v] = p.split('=');
    return k?.trim().toLowerCase() === 'message' && v?.trim().replace(/^"|"$/g, '') === message;
  });
}

/** `base` (with or without a trailing slash) joined with `path` (starting with `/`). */
export function join(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}
