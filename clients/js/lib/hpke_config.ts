// The aggregators' HPKE configuration lists (GET {endpoint}/hpke_config), cached in memory
// per endpoint for as long as the answer's Cache-Control allows (max-age less Age; nothing
// for no-store or no-cache, or without a max-age). Shared by every Task of the page,
// worker or process.

import { ProtocolError } from './errors.js';
import { errorAnswer, isMedia, join, send, type Answer, type HttpPolicy } from './http.js';

interface Entry {
  list: Uint8Array;
  expiresAt: number;
}

const cache = new Map<string, Entry>();

/** How long (ms) an answer may be reused under its Cache-Control and Age headers. */
export function freshFor(headers: Headers): number {
  const cc = headers.get('cache-control');
  if (cc === null) return 0;
  let maxAge: number | undefined;
  for (const d of cc.toLowerCase().split(',')) {
    const [name, value] = d.trim().split('=', 2).map((s) => s.trim());
    if (name === 'no-store' || name === 'no-cache') return 0;
    if (name === 'max-age' && value !== undefined && /^\d+$/.test(value)) maxAge = Number(value);
  }
  if (maxAge === undefined) return 0;
  const age = Number(headers.get('age') ?? '0');
  return Math.max(0, maxAge - (Number.isFinite(age) ? age : 0)) * 1000;
}

/** Forgets every cached list (after an `outdated_config`, or for tests). */
export function clearHpkeConfigCache(endpoint?: string): void {
  if (endpoint === undefined) cache.clear();
  else cache.delete(endpoint);
}

/** The encoded HpkeConfigList of `endpoint`, from the cache unless `fresh`. */
export async function hpkeConfigList(
  who: 'Leader' | 'Helper',
  endpoint: string,
  p: HttpPolicy,
  fresh = false,
): Promise<Uint8Array> {
  const hit = cache.get(endpoint);
  if (!fresh && hit !== undefined && hit.expiresAt > Date.now()) return hit.list;
  const url = join(endpoint, '/hpke_config');
  const a: Answer = await send(`fetching the ${who}'s HPKE configuration`, url, { method: 'GET' }, p);
  if (a.status !== 200) {
    throw errorAnswer(`fetching the ${who}'s HPKE configuration`, a, {
      '404': `is ${endpoint} the ${who}'s DAP endpoint?`,
    });
  }
  if (!isMedia(a, 'hpke-config-list')) {
    throw new ProtocolError(
      `the ${who} answered GET ${url} with ${a.headers.get('content-type')}, not an HPKE configuration list`,
    );
  }
  const ttl = freshFor(a.headers);
  if (ttl > 0) cache.set(endpoint, { list: a.body, expiresAt: Date.now() + ttl });
  else cache.delete(endpoint);
  return a.body;
}
