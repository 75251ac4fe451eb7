// The only module that talks to the server. Types come from the OpenAPI schema (src/api/schema.d.ts is
// generated from frontend/openapi.yml, which a Python test keeps equal to the server's schema).
import type {
  Annotation,
  AnnotationDetail,
  Assignment,
  Agreement,
  Comment,
  Dashboard,
  EvaluationInputRequest,
  Evaluations,
  DatasetVersion,
  DatasetVersionDetail,
  ExportInputRequest,
  Exports,
  ImportFormat,
  Imports,
  NextTask,
  Transition,
  Image,
  ImageTask,
  Job,
  LabelClass,
  LabelClassInputRequest,
  Me,
  Membership,
  Project,
  ProjectInputRequest,
  Revision,
  RoleEnum,
  SaveInputRequest,
  SaveOutput,
  Segment as api_Segment,
  Superpixels,
  TrainedModel,
  UploadResponse,
  VersionInputRequest,
} from "./schema";

export type {
  Annotation,
  AnnotationDetail,
  Assignment,
  Agreement,
  Comment,
  Dashboard,
  Evaluations,
  DatasetVersion,
  DatasetVersionDetail,
  Exports,
  ImportFormat,
  Imports,
  NextTask,
  Transition,
  Image,
  ImageTask,
  Job,
  LabelClass,
  Me,
  Membership,
  Project,
  Revision,
  SaveInputRequest,
  SaveOutput,
  Superpixels,
  TrainedModel,
  UploadResponse,
  VersionInputRequest,
};
export type { Segment, SegmentInputRequest, TaskStateEnum, ProjectKindEnum, ClassKindEnum, ReviewStateEnum, RoleEnum, ExportInputRequest } from "./schema";

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** Every API error has this shape: {message, code, extra}; `status` 0 means the network failed. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  get isNetwork(): boolean {
    return this.status === 0;
  }
}

function csrfToken(): string {
  // No document in a Web Worker; workers here only read (GET), which needs no token.
  const match = typeof document !== "undefined" ? document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/) : null;
  return match ? decodeURIComponent(match[1]) : "";
}

async function toError(response: Response): Promise<ApiError> {
  try {
    const body = await response.json();
    return new ApiError(response.status, body.code ?? "error", body.message ?? response.statusText, body.extra ?? {});
  } catch {
    return new ApiError(response.status, "error", response.statusText || `HTTP ${response.status}`);
  }
}

/** The one fetch of the app: CSRF header on writes, JSON bodies, same-origin credentials, errors as ApiError. */
export async function request(
  method: string, url: string, body?: unknown, accept = "application/json", signal?: AbortSignal,
  extraHeaders: Record<string, string> = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...extraHeaders, Accept: accept };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body: payload, credentials: "same-origin", signal });
  } catch (err) {
    throw new ApiError(0, "network", `network error: ${(err as Error).message}`);
  }
  if (!response.ok) throw await toError(response);
  return response;
}

export async function json<T>(method: string, url: string, body?: unknown): Promise<T> {
  const response = await request(method, url, body);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

function query(params: Record<string, string | number | undefined>): string {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== "");
  if (!entries.length) return "";
  return "?" + new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString();
}

// --- auth
export const me = () => json<Me>("GET", "/api/auth/me/");
export const login = (username: string, password: string) =>
  json<Me>("POST", "/api/auth/login/", { username, password });
export const logout = () => json<void>("POST", "/api/auth/logout/");

// --- projects, classes, members
export const listProjects = (page = 1, pageSize?: number) =>
  json<Page<Project>>("GET", `/api/projects/${query({ page, page_size: pageSize })}`);
export const getProject = (id: number) => json<Project>("GET", `/api/projects/${id}/`);
export const createProject = (data: ProjectInputRequest) => json<Project>("POST", "/api/projects/", data);
export const updateProject = (id: number, data: Partial<ProjectInputRequest>) =>
  json<Project>("PATCH", `/api/projects/${id}/`, data);
export const deleteProject = (id: number) => json<void>("DELETE", `/api/projects/${id}/`);

export const listClasses = (projectId: number) => json<LabelClass[]>("GET", `/api/projects/${projectId}/classes/`);
export const createClass = (projectId: number, data: LabelClassInputRequest) =>
  json<LabelClass>("POST", `/api/projects/${projectId}/classes/`, data);
export const updateClass = (id: number, data: Partial<LabelClassInputRequest>) =>
  json<LabelClass>("PATCH", `/api/classes/${id}/`, data);
export const deleteClass = (id: number) => json<void>("DELETE", `/api/classes/${id}/`);

export const listMembers = (projectId: number) => json<Membership[]>("GET", `/api/projects/${projectId}/members/`);
export const addMember = (projectId: number, username: string, role: RoleEnum) =>
  json<Membership>("POST", `/api/projects/${projectId}/members/`, { username, role });
export const updateMember = (id: number, role: RoleEnum) => json<Membership>("PATCH", `/api/members/${id}/`, { role });
export const removeMember = (id: number) => json<void>("DELETE", `/api/members/${id}/`);

// --- images
export interface ImageFilters {
  page?: number;
  page_size?: number;
  state?: string;
  split?: string;
  search?: string;
  /** id (default), -id, uncertainty or -uncertainty (most uncertain first; unscored images last). */
  ordering?: string;
}
export const listImages = (projectId: number, filters: ImageFilters = {}) =>
  json<Page<Image>>("GET", `/api/projects/${projectId}/images/${query({ ...filters })}`);
export const getImage = (id: number) => json<Image>("GET", `/api/images/${id}/`);
export const updateImage = (id: number, data: { split: "" | "train" | "val" | "test" }) =>
  json<Image>("PATCH", `/api/images/${id}/`, data);
export const thumbnailUrl = (id: number) => `/api/images/${id}/thumbnail/`;
export const pyramidTileUrl = (id: number, level: number, x: number, y: number) =>
  `/api/images/${id}/tiles/${level}/${x}/${y}/`;

/** Load one display-pyramid tile (the renderer decodes it off the main thread with createImageBitmap). */
export async function fetchImageTile(url: string, signal: AbortSignal): Promise<Blob> {
  const response = await fetch(url, { credentials: "same-origin", signal });
  if (!response.ok) throw new ApiError(response.status, "tile_error", `tile ${url}: HTTP ${response.status}`);
  return response.blob();
}

/**
 * POST a multipart form with upload progress: fetch cannot report upload progress, XMLHttpRequest can. The one
 * form upload of the app (images, label imports): CSRF header, JSON answer, errors as ApiError.
 */
export function postForm<T>(url: string, form: FormData, onProgress: (fraction: number) => void = () => {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "network error during upload"));
    xhr.onload = () => {
      let body: any = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON: handled below */
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body as T);
      else reject(new ApiError(xhr.status, body?.code ?? "error", body?.message ?? `HTTP ${xhr.status}`, body?.extra));
    };
    xhr.send(form);
  });
}

/** Upload files (images and ZIPs) with progress. */
export function uploadImages(
  projectId: number,
  files: File[],
  onProgress: (fraction: number) => void,
): Promise<UploadResponse> {
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  return postForm<UploadResponse>(`/api/projects/${projectId}/images/`, form, onProgress);
}

// --- annotations (label maps)
export const openAnnotation = (imageId: number) =>
  json<AnnotationDetail>("POST", `/api/images/${imageId}/annotations/`);
export const getAnnotation = (id: number) => json<AnnotationDetail>("GET", `/api/annotations/${id}/`);

/** One label-map tile as zlib bytes (decode with core/tileCodec). */
export async function getLabelTile(annotationId: number, tx: number, ty: number): Promise<Uint8Array> {
  const response = await request("GET", `/api/annotations/${annotationId}/tiles/${tx}/${ty}/`, undefined, "*/*");
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Save a diff. `idempotencyKey` names one logical save: sending the same body again with the same key (after a
 * timeout or a dropped connection) answers the first result (header `Idempotent-Replayed: true`) and writes nothing.
 */
export async function saveAnnotation(id: number, body: SaveInputRequest, idempotencyKey?: string): Promise<SaveOutput> {
  const headers: Record<string, string> = idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {};
  const response = await request("POST", `/api/annotations/${id}/save/`, body, "application/json", undefined, headers);
  return (await response.json()) as SaveOutput;
}

/** A fresh idempotency key: a random UUID (crypto.randomUUID needs a secure context; getRandomValues does not). */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
export const listRevisions = (id: number) => json<Page<Revision>>("GET", `/api/annotations/${id}/revisions/`);

export const listImageAnnotations = (imageId: number) =>
  json<Annotation[]>("GET", `/api/images/${imageId}/annotations/`);

// --- workflow: task states, review decisions, comments, assignments
export const submitAnnotation = (id: number) => json<Annotation>("POST", `/api/annotations/${id}/submit/`);
export const approveImage = (id: number, body: { annotation?: number | null; reason?: string } = {}) =>
  json<Image>("POST", `/api/images/${id}/approve/`, body);
export const rejectImage = (id: number, body: { reason: string; annotations?: number[] | null }) =>
  json<Image>("POST", `/api/images/${id}/reject/`, body);
export const reopenImage = (id: number, reason: string) => json<Image>("POST", `/api/images/${id}/reopen/`, { reason });
export const reopenImageUrl = (id: number) => `/api/images/${id}/reopen/`;
/** What opening the image gives the caller, claiming nothing: their annotation, or whether they may start one. */
export const getImageTask = (id: number) => json<ImageTask>("GET", `/api/images/${id}/task/`);
/** The methods of an API route the caller's scopes allow (its OPTIONS answer): how the UI asks what one may do. */
export async function allowedMethods(url: string): Promise<string[]> {
  return (await json<{ allowed_methods: string[] }>("OPTIONS", url)).allowed_methods;
}
export const listTransitions = (imageId: number) => json<Transition[]>("GET", `/api/images/${imageId}/transitions/`);
export const reviewSegments = (annotationId: number, segmentIds: number[], reviewState: "pending" | "accepted" | "rejected") =>
  json<api_Segment[]>("POST", `/api/annotations/${annotationId}/segment-reviews/`, { segment_ids: segmentIds, review_state: reviewState });
export const listComments = (annotationId: number) => json<Comment[]>("GET", `/api/annotations/${annotationId}/comments/`);
export const createComment = (annotationId: number, body: { body: string; x?: number | null; y?: number | null; segment_id?: number | null }) =>
  json<Comment>("POST", `/api/annotations/${annotationId}/comments/`, body);
export const setCommentResolved = (id: number, resolved: boolean) => json<Comment>("PATCH", `/api/comments/${id}/`, { resolved });
export const nextTask = (projectId: number) => json<NextTask>("POST", `/api/projects/${projectId}/next-task/`);
export const nextReview = (projectId: number) => json<{ image: Image | null }>("POST", `/api/projects/${projectId}/next-review/`);
export const assignImages = (projectId: number, body: { image_ids: number[]; user_ids: number[]; unassign?: boolean }) =>
  json<{ assigned: number; unassigned: number }>("POST", `/api/projects/${projectId}/assignments/`, body);
export const getAgreement = (imageId: number) => json<Agreement>("GET", `/api/images/${imageId}/agreement/`);
/** The disagreement heat map (magenta, opacity = share of annotators outside the per-pixel majority), decoded. */
export async function getDisagreementMap(imageId: number): Promise<ImageBitmap> {
  const response = await request("GET", `/api/images/${imageId}/agreement/heatmap/`, undefined, "*/*");
  return createImageBitmap(await response.blob());
}
export const approveMerge = (imageId: number) => json<Image>("POST", `/api/images/${imageId}/approve/`, { merge: true });
export const listExports = (projectId: number) => json<Exports>("GET", `/api/projects/${projectId}/exports/`);
export const startExport = (projectId: number, body: ExportInputRequest) =>
  json<Job>("POST", `/api/projects/${projectId}/exports/`, body);
export const exportDownloadUrl = (jobId: number) => `/api/jobs/${jobId}/download/`;
// Label imports (COCO instances / panoptic, mask PNGs) become pre-labels.
/** A multipart form, not JSON. `skip_invalid`: apply every valid item and list the rest; `void_value`: a mask
 * PNG value that means no label (formats with `takes_void_value`). */
export interface ImportInput { format: string; file: File; dry_run: boolean; skip_invalid?: boolean; void_value?: number | null }
export const listImports = (projectId: number) => json<Imports>("GET", `/api/projects/${projectId}/imports/`);
/** Send a label file (a ZIP, or a COCO JSON) with upload progress; the server answers 202 with the import job. */
export function startImport(projectId: number, input: ImportInput, onProgress?: (fraction: number) => void): Promise<Job> {
  const form = new FormData();
  form.append("format", input.format);
  form.append("dry_run", input.dry_run ? "true" : "false");
  form.append("skip_invalid", input.skip_invalid ? "true" : "false");
  if (input.void_value != null) form.append("void_value", String(input.void_value));
  form.append("file", input.file, input.file.name);
  return postForm<Job>(`/api/projects/${projectId}/imports/`, form, onProgress);
}
// Dataset versions: succeeded exports frozen with their checksums and split.
export const listVersions = (projectId: number) => json<DatasetVersion[]>("GET", `/api/projects/${projectId}/versions/`);
export const createVersion = (projectId: number, body: VersionInputRequest) =>
  json<DatasetVersionDetail>("POST", `/api/projects/${projectId}/versions/`, body);
export const getVersion = (id: number) => json<DatasetVersionDetail>("GET", `/api/versions/${id}/`);
export const deleteVersion = (id: number) => json<void>("DELETE", `/api/versions/${id}/`);
export const versionDownloadUrl = (id: number) => `/api/versions/${id}/download/`;
/** SHA256SUMS text of the zip's members, for `sha256sum -c` in the folder the zip was extracted to. */
export const versionManifestUrl = (id: number) => `/api/versions/${id}/manifest/`;
export const listEvaluations = (projectId: number) => json<Evaluations>("GET", `/api/projects/${projectId}/evaluations/`);
export const startEvaluation = (projectId: number, body: EvaluationInputRequest) =>
  json<Job>("POST", `/api/projects/${projectId}/evaluations/`, body);
export const getDashboard = (projectId: number) => json<Dashboard>("GET", `/api/projects/${projectId}/dashboard/`);
export const setImageGold = (id: number, gold: boolean) => json<Image>("POST", `/api/images/${id}/gold/`, { gold });
export const listAssignments = (projectId: number, imageId?: number) =>
  json<Page<Assignment>>("GET", `/api/projects/${projectId}/assignments/${query({ image: imageId, page_size: 100 })}`);

// --- jobs
export const getJob = (id: number) => json<Job>("GET", `/api/jobs/${id}/`);
export const listJobs = (projectId: number) => json<Page<Job>>("GET", `/api/projects/${projectId}/jobs/`);
export const cancelJob = (id: number) => json<Job>("POST", `/api/jobs/${id}/cancel/`);
/** Managers: give the project's images the derived data they lack (`all`: rebuild it for every image). */
export const reprocessProject = (projectId: number, all = false) =>
  json<{ jobs: Job[] }>("POST", `/api/projects/${projectId}/reprocess/`, { all });
export const reprocessImage = (imageId: number) => json<{ jobs: Job[] }>("POST", `/api/images/${imageId}/reprocess/`);

// --- superpixels (grids in the label-map tile codec; see core/superpixelFill)
export const listSuperpixels = (imageId: number) => json<Superpixels[]>("GET", `/api/images/${imageId}/superpixels/`);
export const requestSuperpixels = (imageId: number) => json<Job>("POST", `/api/images/${imageId}/superpixels/`);
/** One grid's zlib bytes (`url` from listSuperpixels); decode with core/tileCodec as one gh x gw tile. */
export async function getSuperpixelGrid(url: string): Promise<Uint8Array> {
  const response = await request("GET", url, undefined, "*/*");
  return new Uint8Array(await response.arrayBuffer());
}

// --- own models (TorchScript / ONNX + manifest) and pre-label jobs
export const listModels = (projectId: number) => json<TrainedModel[]>("GET", `/api/projects/${projectId}/models/`);
export const deleteModel = (id: number) => json<void>("DELETE", `/api/models/${id}/`);
export function uploadModel(projectId: number, file: File, name: string, manifest: string): Promise<TrainedModel> {
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("name", name);
  form.append("manifest", manifest);
  return json<TrainedModel>("POST", `/api/projects/${projectId}/models/`, form);
}
export const runPrelabel = (id: number, body: { image_ids?: number[]; all?: boolean; state?: string }) =>
  json<{ job: Job }>("POST", `/api/models/${id}/prelabel/`, body);
