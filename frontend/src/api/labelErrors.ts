// The label-error finder: a trained model checks the approved labels (a job; no labels are written), and the
// approved images it disagrees with most are listed, worst first.
import { json } from "./client";
import type { LabelCheckInputRequest, LabelCheckResponse, LabelError, LabelErrorSegment } from "./schema";

export type { LabelError, LabelErrorSegment };

/** What a label check job's result holds. */
export interface LabelCheckResult {
  trained_model?: number;
  model_name?: string;
  images?: number;
  checked?: number;
  flagged?: number;
  failed?: number;
}

export const labelCheckUrl = (projectId: number) => `/api/projects/${projectId}/label-check/`;

/** Managers and reviewers: check the approved labels with a trained model (default: the best); 202, the job. */
export const startLabelCheck = (projectId: number, body: Partial<LabelCheckInputRequest> = {}) =>
  json<LabelCheckResponse>("POST", labelCheckUrl(projectId), body);

/** Approved images by the latest check, worst first; only those whose worst segment disagrees ≥ minScore. */
export const listLabelErrors = (projectId: number, limit = 20, minScore = 0) =>
  json<LabelError[]>("GET", `/api/projects/${projectId}/label-errors/?limit=${limit}&min_score=${minScore}`);
