// The WebAssembly core (edap-js compiled by wasm-bindgen): whether it is initialised, and
// the translation of its errors (JavaScript Errors whose `name` tells the kind) into this
// package's error classes.

import {
  CollectorKeyError,
  DapError,
  DecryptError,
  InvalidMeasurementError,
  InvalidQueryError,
  InvalidTaskError,
  NotInitializedError,
  ProtocolError,
} from './errors.js';

let initialised = false;

/** Called by the entry points once the module is instantiated. */
export function markInitialised(): void {
  initialised = true;
}

/** Whether the WebAssembly module is ready. */
export function isInitialised(): boolean {
  return initialised;
}

/** Throws unless the module is ready (it always is through the default entry points). */
export function requireCore(): void {
  if (!initialised) {
    throw new NotInitializedError(
      'the edap WebAssembly module is not initialised: with "@edap/dap/manual", call and await init() first',
    );
  }
}

function prop(e: object, name: string): unknown {
  return (e as Record<string, unknown>)[name];
}

/** The package error for an error thrown by the WebAssembly core; anything else unchanged. */
export function translate(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof DapError) return e;
  switch (e.name) {
    case 'InvalidTask':
      return new InvalidTaskError(e.message);
    case 'InvalidMeasurement':
      return new InvalidMeasurementError(
        e.message,
        Number(prop(e, 'index') ?? 0),
        String(prop(e, 'value') ?? ''),
        String(prop(e, 'reason') ?? e.message),
      );
    case 'HpkeConfig':
    case 'Protocol':
      return new ProtocolError(e.message);
    case 'CollectorKey':
      return new CollectorKeyError(e.message);
    case 'InvalidQuery':
      return new InvalidQueryError(e.message);
    case 'Decrypt':
      return new DecryptError(e.message);
    default:
      return e;
  }
}

/** Runs `f` against the core, with its errors translated. */
export function call<T>(f: () => T): T {
  requireCore();
  try {
    return f();
  } catch (e) {
    throw translate(e);
  }
}
