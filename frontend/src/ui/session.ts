// How pages turn errors into messages. A 401 anywhere means the session ended: the app sends the user to the
// login page (keeping where they were) instead of showing a message.
import { ApiError } from "../api/client";

let onUnauthorized: () => void = () => {};

export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export function isUnauthorized(error: unknown): boolean {
  return error instanceof ApiError && error.status === 401;
}

/** The message to show for `error`, or null when it was a 401 and the login page is taking over. */
export function errorMessage(error: unknown): string | null {
  if (isUnauthorized(error)) {
    onUnauthorized();
    return null;
  }
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * A page section's first load: `load()`, or null after showing why in `show` (nothing for a 401: the login page
 * takes over) and emptying `body`, which holds a spinner meanwhile.
 */
export async function loadSection<T>(load: () => Promise<T>, body: Element, show: (message: string | null) => void,
  signal?: AbortSignal): Promise<T | null> {
  try {
    const data = await load();
    return signal?.aborted ? null : data;
  } catch (err) {
    const message = errorMessage(err);
    if (message) show(message);
    body.replaceChildren();
    return null;
  }
}
