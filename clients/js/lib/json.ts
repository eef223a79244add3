// Measurements as JSON text for the core: booleans, numbers, bigints (written as exact
// integer literals) and arrays of them. Other values are written as JSON too, so that the
// core can name what is wrong with them; only values JSON cannot represent are refused here.

import { InvalidMeasurementError } from './errors.js';

/** A measurement: see the README for the shape each VDAF takes. */
export type Measurement = boolean | number | bigint | ReadonlyArray<boolean | number | bigint>;

function write(v: unknown, index: number): string {
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v.toString();
    case 'number':
      if (!Number.isFinite(v)) {
        throw new InvalidMeasurementError(
          `measurement ${index} (${v}): must be a finite number`,
          index,
          String(v),
          'must be a finite number',
        );
      }
      // Integers up to 2^64 print without an exponent only below 1e21; larger ones fail
      // in the core as "not an integer", which they are not, as u64.
      return Number.isInteger(v) && Math.abs(v) < 1e21 ? BigInt(v).toString() : String(v);
    case 'undefined':
      return 'null';
    case 'object':
      if (Array.isArray(v)) return `[${v.map((x) => write(x, index)).join(',')}]`;
      return v === null ? 'null' : safeJson(v);
    default:
      return JSON.stringify(String(v));
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'null';
  } catch {
    return '"[unserialisable value]"';
  }
}

/** The JSON array text of `ms`. */
export function measurementsJson(ms: readonly unknown[]): string {
  return `[${ms.map((m, i) => write(m, i)).join(',')}]`;
}
