// The package's API. The entry points (entry/*.ts) initialise the WebAssembly core for
// their platform and re-export this module.

export { Task } from './task.js';
export type {
  EncodedTask,
  RejectedReport,
  ReportErrorName,
  SendOptions,
  TaskConfigFields,
  TaskParams,
  UploadResult,
  VdafParams,
} from './task.js';
export { Collector, CollectorKeyPair } from './collector.js';
export type { Collection, CollectOptions, CollectorOptions, IntervalQuery } from './collector.js';
export type { Measurement } from './json.js';
export type { HttpOptions } from './http.js';
export { clearHpkeConfigCache } from './hpke_config.js';
export {
  CollectorKeyError,
  DapError,
  DecryptError,
  HttpError,
  InvalidMeasurementError,
  InvalidQueryError,
  InvalidTaskError,
  NetworkError,
  NotInitializedError,
  ProtocolError,
  TimeoutError,
} from './errors.js';
export type { ProblemDocument } from './errors.js';
