// The image grid's state lives in the URL query (?state=&split=&search=&ordering=&page=&page_size=) so reload and the
// back button show the same grid. Pure: parse <-> serialise, with defaults left out of the URL.

import type { ImageFilters } from "../api/client";
import { choiceParam, intParam } from "../ui/router";

export const STATES = ["new", "in_progress", "submitted", "approved", "rejected"] as const;
export const SPLITS = ["train", "val", "test"] as const;
export const PAGE_SIZES = [24, 48, 96, 192] as const;
// "" is the server's default (oldest first); "-uncertainty": the images a trained model is least sure of first.
export const ORDERINGS = ["-uncertainty"] as const;
export const DEFAULT_PAGE_SIZE = 48;

export interface ImageQuery {
  state: (typeof STATES)[number] | "";
  split: (typeof SPLITS)[number] | "";
  search: string;
  ordering: (typeof ORDERINGS)[number] | "";
  page: number;
  pageSize: number;
}

export function parseImageQuery(query: URLSearchParams): ImageQuery {
  const pageSize = intParam(query.get("page_size"), DEFAULT_PAGE_SIZE);
  return {
    state: choiceParam(query.get("state"), STATES),
    split: choiceParam(query.get("split"), SPLITS),
    search: (query.get("search") ?? "").trim().slice(0, 200),
    ordering: choiceParam(query.get("ordering"), ORDERINGS),
    page: intParam(query.get("page"), 1),
    pageSize: (PAGE_SIZES as readonly number[]).includes(pageSize) ? pageSize : DEFAULT_PAGE_SIZE,
  };
}

/** Query parameters for the URL: defaults are omitted so the plain project URL means "everything, page 1". */
export function imageQueryParams(q: ImageQuery): Record<string, string | number | undefined> {
  return {
    state: q.state || undefined,
    split: q.split || undefined,
    search: q.search || undefined,
    ordering: q.ordering || undefined,
    page: q.page > 1 ? q.page : undefined,
    page_size: q.pageSize !== DEFAULT_PAGE_SIZE ? q.pageSize : undefined,
  };
}

/** The same state as API filters. */
export function imageFilters(q: ImageQuery): ImageFilters {
  return {
    state: q.state || undefined,
    split: q.split || undefined,
    search: q.search || undefined,
    ordering: q.ordering || undefined,
    page: q.page,
    page_size: q.pageSize,
  };
}
