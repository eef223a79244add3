// Every error the package throws. All extend DapError, so `catch (e) { if (e instanceof
// DapError) ... }` tells the package's errors from bugs; each subclass carries what a
// caller needs to react (the index of a bad measurement, the HTTP status and problem
// document of a refusal, ...).

/** The base class of every error this package throws. */
export class DapError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The task's parameters, encoded configuration or task ID are invalid. */
export class InvalidTaskError extends DapError {}

/** A measurement does not fit the task's VDAF; nothing was sent. */
export class InvalidMeasurementError extends DapError {
  /** Its position in the array given to sendMeasurements (0 for sendMeasurement). */
  readonly index: number;
  /** The offending value, as JSON text (shortened). */
  readonly value: string;
  /** What is wrong with it, e.g. "11 is above max_measurement 10". */
  readonly reason: string;

  constructor(message: string, index: number, value: string, reason: string) {
    super(message);
    this.index = index;
    this.value = value;
    this.reason = reason;
  }
}

/** An aggregator could not be reached (connection refused, DNS, reset), after retries. */
export class NetworkError extends DapError {
  /** The URL requested. */
  readonly url: string;
  /** How many attempts were made. */
  readonly attempts: number;

  constructor(message: string, url: string, attempts: number, cause: unknown) {
    super(message, { cause });
    this.url = url;
    this.attempts = attempts;
  }
}

/** A request, or waiting for a collection result, took longer than allowed. */
export class TimeoutError extends DapError {
  /** The URL requested or polled. */
  readonly url: string;
  /** The limit that ran out, in milliseconds. */
  readonly timeoutMs: number;

  constructor(message: string, url: string, timeoutMs: number) {
    super(message);
    this.url = url;
    this.timeoutMs = timeoutMs;
  }
}

/** An RFC 9457 problem document, as aggregators send with error answers. */
export interface ProblemDocument {
  /** For DAP errors `urn:ietf:params:ppm:dap:error:<name>`. */
  type: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  /** The task the error concerns (DAP's `taskid` member). */
  taskid?: string;
}

const DAP_ERROR_PREFIX = 'urn:ietf:params:ppm:dap:error:';

/**
 * An aggregator answered with an error status (after retries, for 5xx): the upload, the
 * HPKE configuration request or the collection was refused.
 */
export class HttpError extends DapError {
  /** The HTTP status. */
  readonly status: number;
  /** The URL requested. */
  readonly url: string;
  /** The problem document, when the answer carried one. */
  readonly problem: ProblemDocument | undefined;

  constructor(message: string, status: number, url: string, problem: ProblemDocument | undefined) {
    super(message);
    this.status = status;
    this.url = url;
    this.problem = problem;
  }

  /** The DAP error name (e.g. "unrecognizedTask", "batchInvalid"), if the problem is one. */
  get dapError(): string | undefined {
    const t = this.problem?.type;
    return t !== undefined && t.startsWith(DAP_ERROR_PREFIX) ? t.slice(DAP_ERROR_PREFIX.length) : undefined;
  }
}

/** An aggregator's answer is not what DAP-18 prescribes (undecodable body, no Location). */
export class ProtocolError extends DapError {}

/** A Collector key file is not one `edap hpke-keygen` writes, or its keys do not match. */
export class CollectorKeyError extends DapError {}

/**
 * An aggregate share did not open with the Collector's key: the task was provisioned
 * with another collector HPKE configuration (or the result is for another task).
 */
export class DecryptError extends DapError {}

/** A collection query does not fit the task (an interval for a leader-selected task...). */
export class InvalidQueryError extends DapError {}

/** The package's WebAssembly module is not initialised (only with `@edap/dap/manual`). */
export class NotInitializedError extends DapError {}
