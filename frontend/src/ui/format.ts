// Pure formatting and list helpers shared by pages.

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function percent(fraction: number): string {
  return `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
}

export function formatDate(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export const STATE_LABELS: Record<string, string> = {
  new: "New",
  in_progress: "In progress",
  submitted: "Submitted",
  approved: "Approved",
  rejected: "Rejected",
};

export const SPLIT_LABELS: Record<string, string> = { train: "Train", val: "Validation", test: "Test" };

export const ROLE_LABELS: Record<string, string> = { manager: "Manager", annotator: "Annotator", reviewer: "Reviewer" };

/**
 * Page numbers to show for `current` of `last` pages: always the first and last, a window around the
 * current page, and "…" for gaps. pageNumbers(5, 10) -> [1, "…", 4, 5, 6, "…", 10]
 */
export function pageNumbers(current: number, last: number, around = 1): (number | "…")[] {
  if (last <= 1) return [1];
  const pages = new Set<number>([1, last]);
  for (let p = current - around; p <= current + around; p++) if (p >= 1 && p <= last) pages.add(p);
  const sorted = [...pages].sort((a, b) => a - b);
  const out: (number | "…")[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0) {
      const gap = sorted[i] - sorted[i - 1];
      if (gap === 2) out.push(sorted[i] - 1); // a gap of one page shows the page, not "…"
      else if (gap > 2) out.push("…");
    }
    out.push(sorted[i]);
  }
  return out;
}

export function lastPage(count: number, pageSize: number): number {
  return Math.max(1, Math.ceil(count / Math.max(1, pageSize)));
}
