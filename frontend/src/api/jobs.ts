// Following a background job (a Job row: status + progress) until it ends: the one polling loop of the app.
// No DOM, so the editor's SAM engine and pages share it.
import { getJob, type Job } from "./client";

export const FINISHED_JOB_STATUSES: readonly Job["status"][] = ["succeeded", "failed", "cancelled"];

export const isFinished = (job: Pick<Job, "status">): boolean => FINISHED_JOB_STATUSES.includes(job.status);

export interface FollowOptions {
  /** Stops following (the promise rejects with an AbortError). */
  signal?: AbortSignal;
  /** First wait between polls; it grows by half each time up to `maxIntervalMs`. */
  intervalMs?: number;
  maxIntervalMs?: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Poll job `start` (an id, or a job already fetched) until it is finished; `onUpdate` sees every state,
 * the first at once. Resolves with the finished job, whatever its status; API errors reject.
 */
export async function followJob(
  start: number | Job, onUpdate: (job: Job) => void = () => {}, options: FollowOptions = {},
): Promise<Job> {
  const { signal, intervalMs = 300, maxIntervalMs = 2000 } = options;
  let job = typeof start === "number" ? await getJob(start) : start;
  for (let delay = intervalMs; ; delay = Math.min(delay * 1.5, maxIntervalMs)) {
    if (signal?.aborted) throw signal.reason;
    onUpdate(job);
    if (isFinished(job)) return job;
    await sleep(delay, signal);
    job = await getJob(job.id);
  }
}
