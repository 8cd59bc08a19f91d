// The browser's calls to the control API: reads without a token, actions with the bearer token the
// user typed (kept in sessionStorage for the tab), and problem details turned into readable errors.

const TOKEN_KEY = "dmremap-token";

/** The token the user entered ("" when none). */
export function token(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

/** Remember the token for this tab. */
export function setToken(value: string): void {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A refused API call: the problem's detail as message, with its status and code. */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiCallError";
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && token()) headers.authorization = `Bearer ${token()}`;
  const res = await fetch(path, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  const json = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const p = (json ?? {}) as { detail?: string; title?: string; code?: string };
    const hint =
      res.status === 401 || res.status === 403 ? " (enter the API token at the top of the page)" : "";
    throw new ApiCallError(res.status, p.code ?? "", `${p.detail ?? p.title ?? `HTTP ${res.status}`}${hint}`);
  }
  return json as T;
}

/** GET a JSON resource. */
export const get = <T>(path: string): Promise<T> => call<T>("GET", path);
/** POST (an action; sends the token). */
export const post = <T>(path: string, body?: unknown): Promise<T> => call<T>("POST", path, body ?? {});
/** DELETE (an action; sends the token). */
export const del = <T>(path: string): Promise<T> => call<T>("DELETE", path);

/** Path segment of a target name. */
export const seg = (name: string): string => encodeURIComponent(name);
