// Task: a DAP-18 task as a Client sees it, and the upload of measurements to its Leader.
// Measurements are checked by the core before any request; reports are built by the core
// (Prio3 sharding, HPKE sealing) and sent as one UploadRequest; an `outdated_config`
// answer makes the Task refetch both HPKE configurations and resend those reports once.

import { call } from './core.js';
import { clearHpkeConfigCache, hpkeConfigList } from './hpke_config.js';
import { errorAnswer, join, mediaType, policy, send, type HttpOptions, type HttpPolicy } from './http.js';
import { measurementsJson, type Measurement } from './json.js';
import { WasmClient, WasmTask, uploadErrors } from './wasm/edap_js.js';

/** The VDAF of a task and its parameters (the options of `edap task new --vdaf`). */
export type VdafParams =
  | { type: 'count' }
  | { type: 'sum'; maxMeasurement: number }
  | { type: 'sumvec'; length: number; maxMeasurement: number; chunkLength?: number }
  | { type: 'histogram'; length: number; chunkLength?: number }
  | { type: 'multihot'; length: number; maxWeight: number; chunkLength?: number };

/** A task's parameters; they must be the ones its aggregators were provisioned with. */
export interface TaskParams {
  /** The task ID, base64url; derived from the configuration (taskprov rule) when absent. */
  id?: string;
  /** The Leader's DAP API base URL. */
  leader: string;
  /** The Helper's DAP API base URL. */
  helper: string;
  vdaf: VdafParams;
  /** Seconds per time unit (report times are rounded down to it). */
  timePrecisionSeconds: number;
  /** Fewest reports a batch holds before the Collector may read it. */
  minBatchSize: number;
  batchMode: 'time_interval' | 'leader_selected';
  /** The task's `task_info` text. */
  taskInfo: string;
  /** Reports before this time (POSIX seconds) are refused. */
  taskStart?: number;
  /** Reports from this time (POSIX seconds) on are refused. */
  taskEnd?: number;
}

/** A task from its encoded `TaskConfiguration` (base64url), as `edap task new` prints it. */
export interface EncodedTask {
  encodedConfig: string;
  /** The task ID, base64url; derived from the configuration when absent. */
  id?: string;
}

/** The configuration's fields, as `edap task show --json` prints them. */
export interface TaskConfigFields {
  task_info: string;
  leader_endpoint: string;
  helper_endpoint: string;
  time_precision: number;
  min_batch_size: number;
  batch_mode: 'time_interval' | 'leader_selected';
  vdaf: { type: string; [param: string]: unknown };
  task_start?: number;
  task_end?: number;
}

/** The DAP-18 `ReportError` names. */
export type ReportErrorName =
  | 'batch_collected'
  | 'report_replayed'
  | 'report_dropped'
  | 'hpke_unknown_config_id'
  | 'hpke_decrypt_error'
  | 'vdaf_verify_error'
  | 'task_expired'
  | 'invalid_message'
  | 'report_too_early'
  | 'task_not_started'
  | 'outdated_config';

/** A report the Leader refused. */
export interface RejectedReport {
  /** The measurement's position in the array sent. */
  index: number;
  /** The report ID, base64url. */
  reportId: string;
  error: ReportErrorName;
}

/** What the Leader did with an upload. */
export interface UploadResult {
  /** Reports it accepted. */
  accepted: number;
  /** Reports it refused, with the reason (the `upload-errors` answer). */
  rejected: RejectedReport[];
}

/** Per-call options of sendMeasurement(s). */
export interface SendOptions {
  /** The reports' time, POSIX seconds (default: now). */
  time?: number;
}

interface Sealing {
  leader: Uint8Array;
  helper: Uint8Array;
  client: WasmClient;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A DAP-18 task: sends measurements to its Leader. */
export class Task {
  /** The task ID, base64url. */
  readonly id: string;
  /** The `TaskConfiguration`, base64url of its DAP encoding. */
  readonly encodedConfig: string;
  /** The configuration's fields. */
  readonly config: TaskConfigFields;
  readonly #core: WasmTask;
  readonly #http: HttpPolicy;
  #sealing: Sealing | undefined;

  /**
   * A task from its parameters, or from its encoded configuration. Throws
   * InvalidTaskError when they do not make a valid DAP-18 task.
   */
  constructor(params: TaskParams | EncodedTask, options: HttpOptions = {}) {
    this.#http = policy(options);
    this.#core = call(() =>
      'encodedConfig' in params
        ? WasmTask.fromEncoded(params.encodedConfig, params.id)
        : WasmTask.fromParams(JSON.stringify(params)),
    );
    this.id = this.#core.id;
    this.encodedConfig = this.#core.encodedConfig;
    this.config = JSON.parse(this.#core.describe()) as TaskConfigFields;
  }

  /** A task from its base64url `TaskConfiguration` (and ID, when not derived). */
  static fromEncoded(encodedConfig: string, id?: string, options: HttpOptions = {}): Task {
    return new Task(id === undefined ? { encodedConfig } : { encodedConfig, id }, options);
  }

  /** The core's task (for the Collector). @internal */
  get core(): WasmTask {
    return this.#core;
  }

  /** Throws InvalidMeasurementError for the first measurement that does not fit the VDAF. */
  checkMeasurements(measurements: readonly Measurement[]): void {
    call(() => this.#core.checkMeasurements(measurementsJson(measurements))).free();
  }

  /** Sends one measurement; see sendMeasurements. */
  sendMeasurement(measurement: Measurement, options: SendOptions = {}): Promise<UploadResult> {
    return this.sendMeasurements([measurement], options);
  }

  /**
   * Checks every measurement (throwing InvalidMeasurementError before anything is sent),
   * then sends them to the Leader in one request. Resolves with the Leader's verdict per
   * report; throws NetworkError, TimeoutError or HttpError when the upload itself failed.
   */
  async sendMeasurements(measurements: readonly Measurement[], options: SendOptions = {}): Promise<UploadResult> {
    if (!Array.isArray(measurements)) throw new TypeError('sendMeasurements takes an array of measurements');
    const batch = call(() => this.#core.checkMeasurements(measurementsJson(measurements)));
    try {
      const result: UploadResult = { accepted: 0, rejected: [] };
      if (measurements.length === 0) return result;
      const time = options.time ?? Math.floor(Date.now() / 1000);
      const url = join(this.config.leader_endpoint, `/tasks/${this.id}/reports`);
      let pending = measurements.map((_, i) => i);
      let sealing = await this.#sealingFor(false);
      for (let round = 0; pending.length > 0; round++) {
        const upload = call(() => sealing.client.upload(batch, Uint32Array.from(pending), time));
        const body = upload.body;
        const ids = upload.reportIds;
        upload.free();
        const a = await send(
          'uploading to the Leader',
          url,
          { method: 'POST', headers: { 'content-type': mediaType('upload-req') }, body: body as BodyInit },
          this.#http,
        );
        if (a.status < 200 || a.status > 299) {
          throw errorAnswer('uploading to the Leader', a, {
            unrecognizedTask: `the Leader does not know task ${this.id}: check the task ID and the parameters`,
          });
        }
        const index = new Map(ids.map((id, k) => [id, pending[k] as number]));
        const refused = JSON.parse(call(() => uploadErrors(a.body))) as [string, ReportErrorName][];
        const retry: number[] = [];
        let refusedHere = 0;
        for (const [reportId, error] of refused) {
          const i = index.get(reportId);
          if (i === undefined) continue; // not one of ours
          index.delete(reportId);
          if (error === 'outdated_config' && round === 0) {
            retry.push(i);
          } else if (error === 'report_replayed' && a.attempts > 1) {
            // A retried request: the first attempt stored it.
            continue;
          } else {
            result.rejected.push({ index: i, reportId, error });
          }
          refusedHere++;
        }
        result.accepted += pending.length - refusedHere;
        pending = retry.sort((x, y) => x - y);
        if (pending.length > 0) sealing = await this.#sealingFor(true);
      }
      result.rejected.sort((x, y) => x.index - y.index);
      return result;
    } finally {
      batch.free();
    }
  }

  /** A client sealing to the aggregators' current HPKE configurations. */
  async #sealingFor(fresh: boolean): Promise<Sealing> {
    if (fresh) {
      clearHpkeConfigCache(this.config.leader_endpoint);
      clearHpkeConfigCache(this.config.helper_endpoint);
    }
    const [leader, helper] = await Promise.all([
      hpkeConfigList('Leader', this.config.leader_endpoint, this.#http, fresh),
      hpkeConfigList('Helper', this.config.helper_endpoint, this.#http, fresh),
    ]);
    const s = this.#sealing;
    if (s !== undefined && sameBytes(s.leader, leader) && sameBytes(s.helper, helper)) return s;
    const client = call(() => new WasmClient(this.#core, leader, helper));
    s?.client.free();
    this.#sealing = { leader, helper, client };
    return this.#sealing;
  }
}
