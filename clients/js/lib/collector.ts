// The Collector: its HPKE key pair (the key file format of `edap hpke-keygen`), and
// collections: create the job (POST), poll it honouring Retry-After, decrypt both
// aggregate shares and unshard them, all in the core.

import { call } from './core.js';
import { InvalidQueryError, ProtocolError, TimeoutError } from './errors.js';
import { errorAnswer, isMedia, join, mediaType, policy, send, sleep, type Answer, type HttpOptions, type HttpPolicy } from './http.js';
import type { Task } from './task.js';
import { CollectorKey, collectionRequest, finishCollection } from './wasm/edap_js.js';

/** A Collector's X25519 HPKE key pair. */
export class CollectorKeyPair {
  readonly #core: CollectorKey;

  private constructor(core: CollectorKey) {
    this.#core = core;
  }

  /** A new key pair (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM). */
  static generate(options: { configId?: number } = {}): CollectorKeyPair {
    const id = options.configId ?? 0;
    if (!Number.isInteger(id) || id < 0 || id > 255) {
      throw new RangeError(`configId must be an integer from 0 to 255, not ${id}`);
    }
    return new CollectorKeyPair(call(() => CollectorKey.generate(id)));
  }

  /** A key pair from the key file `edap hpke-keygen` writes (its text or parsed JSON). */
  static fromKeyFile(keyFile: string | object): CollectorKeyPair {
    const text = typeof keyFile === 'string' ? keyFile : JSON.stringify(keyFile);
    return new CollectorKeyPair(call(() => CollectorKey.fromJson(text)));
  }

  /** The key file text, as `edap hpke-keygen` writes it (keep it secret). */
  toKeyFile(): string {
    return this.#core.toJson();
  }

  /** The public HpkeConfig, base64url: give it to both aggregators when provisioning. */
  get publicConfig(): string {
    return this.#core.publicConfig;
  }

  /** The HPKE config ID. */
  get configId(): number {
    return this.#core.configId;
  }

  /** @internal */
  get core(): CollectorKey {
    return this.#core;
  }
}

/** A time-interval batch: POSIX seconds; the start is rounded down and the end up to the task's time precision. */
export interface IntervalQuery {
  start: number;
  duration: number;
}

/** A collected aggregate. */
export interface Collection {
  /** Reports in the batch. */
  reportCount: number;
  /** The smallest interval (POSIX seconds) holding the batch's reports. */
  interval: { start: number; duration: number };
  /** The aggregate: a number (Count, Sum) or one per entry (SumVec, Histogram, MultihotCountVec). */
  result: number | number[];
  /** The same, exact (the numbers above are exact up to 2^53 - 1). */
  exact: bigint | bigint[];
}

/** Options of the Collector. */
export interface CollectorOptions extends HttpOptions {
  /** How long collect() waits for a result, in ms (default 300000). */
  pollTimeoutMs?: number;
}

/** Per-call options of collect(). */
export interface CollectOptions {
  /** Leave the collection job on the Leader (default: delete it after reading the result). */
  keepJob?: boolean;
}

function retryAfterMs(a: Answer): number {
  const v = Number.parseInt(a.headers.get('retry-after') ?? '', 10);
  return Math.min(Math.max(Number.isFinite(v) ? v : 1, 1), 300) * 1000;
}

/** Reads aggregates of a task from its Leader. */
export class Collector {
  readonly task: Task;
  readonly #key: CollectorKeyPair;
  readonly #token: string;
  readonly #http: HttpPolicy;
  readonly #pollTimeoutMs: number;

  constructor(params: { task: Task; key: CollectorKeyPair; token: string } & CollectorOptions) {
    const { task, key, token, pollTimeoutMs, ...http } = params;
    if (typeof token !== 'string' || token === '') throw new TypeError('the Collector needs its bearer token');
    this.task = task;
    this.#key = key;
    this.#token = token;
    this.#http = policy(http);
    this.#pollTimeoutMs = pollTimeoutMs ?? 300_000;
  }

  /**
   * Collects a batch: `{start, duration}` for a time-interval task, nothing for a
   * leader-selected one (the next batch the Leader has ready). Throws HttpError when the
   * Leader refuses (its problem document's type and detail in the message), DecryptError
   * for a wrong collector key, TimeoutError when no result came within pollTimeoutMs.
   */
  async collect(query?: IntervalQuery, options: CollectOptions = {}): Promise<Collection> {
    const q =
      query === undefined
        ? { type: 'leader_selected' }
        : { type: 'time_interval', start: whole(query.start, 'start'), duration: whole(query.duration, 'duration') };
    const req = call(() => collectionRequest(this.task.core, JSON.stringify(q)));
    const auth = { authorization: `Bearer ${this.#token}` };
    const hints = {
      unrecognizedTask: `the Leader does not know task ${this.task.id}: check the task ID`,
      '401': 'check the collector token',
      '403': 'check the collector token',
    };
    const createUrl = join(this.task.config.leader_endpoint, `/tasks/${this.task.id}/collection_jobs`);
    const created = await send(
      'creating the collection job',
      createUrl,
      { method: 'POST', headers: { ...auth, 'content-type': mediaType('collection-job-req') }, body: req as BodyInit },
      this.#http,
    );
    if (created.status < 200 || created.status > 299) {
      throw errorAnswer('the Leader refused the collection', created, hints);
    }
    const location = created.headers.get('location');
    if (location === null) {
      throw new ProtocolError(`the Leader created the collection job (HTTP ${created.status}) without a Location header`);
    }
    const jobUrl = new URL(location, created.url).toString();
    let body = created.body;
    let wait = retryAfterMs(created);
    const deadline = Date.now() + this.#pollTimeoutMs;
    while (body.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TimeoutError(
          `the collection job at ${jobUrl} has no result after ${this.#pollTimeoutMs} ms (the batch may not hold min_batch_size reports yet)`,
          jobUrl,
          this.#pollTimeoutMs,
        );
      }
      await sleep(Math.min(wait, left));
      const polled = await send('polling the collection job', jobUrl, { method: 'GET', headers: auth }, this.#http);
      if (polled.status < 200 || polled.status > 299) throw errorAnswer('the collection job failed', polled, hints);
      body = polled.body;
      wait = retryAfterMs(polled);
      if (body.length > 0 && !isMedia(polled, 'collection-job-resp')) {
        throw new ProtocolError(`the collection job answered with ${polled.headers.get('content-type')}, not a collection-job-resp`);
      }
    }
    const out = JSON.parse(call(() => finishCollection(this.task.core, this.#key.core, req, body))) as {
      reportCount: number;
      intervalStart: number;
      intervalDuration: number;
      result: string | string[];
    };
    if (options.keepJob !== true) {
      // Best effort: the result is read; a job left behind only costs the Leader storage.
      await send('deleting the collection job', jobUrl, { method: 'DELETE', headers: auth }, this.#http).catch(() => undefined);
    }
    const exact = typeof out.result === 'string' ? BigInt(out.result) : out.result.map((x) => BigInt(x));
    return {
      reportCount: out.reportCount,
      interval: { start: out.intervalStart, duration: out.intervalDuration },
      result: typeof exact === 'bigint' ? Number(exact) : exact.map((x) => Number(x)),
      exact,
    };
  }
}

function whole(v: number, name: string): number {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new InvalidQueryError(`the query's ${name} must be a non-negative integer number of seconds, not ${v}`);
  }
  return v;
}
