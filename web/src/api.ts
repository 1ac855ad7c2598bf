// The one way the UI talks to the server: same-origin calls to /api/v1 with the bearer token
// kept for this browser tab. Errors come back as RFC 9457 problems; their `detail` is what the
// person sees, because the server writes it for people.
import { HttpError } from "react-admin";

const TOKEN_KEY = "datoferum.token";
const IDENTITY_KEY = "datoferum.identity";

export interface Identity {
  subject: string;
  name: string;
  role: Role;
}

export type Role = "admin" | "producer" | "consumer" | "auditor";

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  identity: (): Identity | null => {
    const raw = sessionStorage.getItem(IDENTITY_KEY);
    return raw ? (JSON.parse(raw) as Identity) : null;
  },
  save(token: string, identity: Identity): void {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(IDENTITY_KEY, JSON.stringify(identity));
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(IDENTITY_KEY);
  },
};

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  [extra: string]: unknown;
}

export interface Answer<T> {
  status: number;
  headers: Headers;
  json: T;
}

function authHeaders(token?: string | null): Record<string, string> {
  const value = token ?? session.token();
  return value ? { Authorization: `Bearer ${value}` } : {};
}

/** A call to the API; throws HttpError (status, problem detail, problem body) on failure. */
export async function api<T = unknown>(
  path: string,
  init: RequestInit & { token?: string | null } = {},
): Promise<Answer<T>> {
  const { token, headers, ...rest } = init;
  const response = await fetch(path, {
    ...rest,
    headers: { Accept: "application/json", ...authHeaders(token), ...(headers as Record<string, string>) },
  });
  const text = await response.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!response.ok) {
    const problem = (typeof body === "object" && body ? body : {}) as Problem;
    const message = problem.detail ?? problem.title ?? response.statusText ?? `HTTP ${response.status}`;
    throw new HttpError(message, response.status, problem);
  }
  return { status: response.status, headers: response.headers, json: body as T };
}

export function jsonBody(value: unknown): RequestInit {
  return { method: "POST", body: JSON.stringify(value), headers: { "Content-Type": "application/json" } };
}

/** Upload with progress: fetch cannot report upload progress, XMLHttpRequest can. */
export function upload(
  collection: string,
  path: string,
  file: Blob,
  metadata: Record<string, string>,
  onProgress: (sent: number, total: number) => void,
): { done: Promise<Record<string, unknown>>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const url = `/api/v1/data/${encodeURIComponent(collection)}/${path.split("/").map(encodeURIComponent).join("/")}`;
  const done = new Promise<Record<string, unknown>>((resolve, reject) => {
    xhr.open("PUT", url);
    const token = session.token();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    if (file.type) xhr.setRequestHeader("Content-Type", file.type);
    for (const [key, value] of Object.entries(metadata)) {
      if (key && value) xhr.setRequestHeader(`X-Meta-${key}`, value);
    }
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    xhr.onload = () => {
      let body: Problem = {};
      try {
        body = JSON.parse(xhr.responseText) as Problem;
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as Record<string, unknown>);
      else reject(new HttpError(body.detail ?? `HTTP ${xhr.status}`, xhr.status, body));
    };
    xhr.onerror = () => reject(new HttpError("the upload failed: the connection was lost", 0));
    xhr.onabort = () => reject(new HttpError("the upload was cancelled", 0));
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}

/** Downloads need the token, so they go through fetch and a temporary object URL. */
export async function download(collection: string, path: string, version?: number): Promise<void> {
  const query = version ? `?version=${version}` : "";
  const url = `/api/v1/data/${encodeURIComponent(collection)}/${path.split("/").map(encodeURIComponent).join("/")}${query}`;
  const response = await fetch(url, { headers: authHeaders() });
  if (!response.ok) {
    const problem = (await response.json().catch(() => ({}))) as Problem;
    throw new HttpError(problem.detail ?? `HTTP ${response.status}`, response.status, problem);
  }
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = path.split("/").pop() ?? "download";
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/**
 * Follows /api/v1/events/stream (Server-Sent Events). EventSource cannot send an
 * Authorization header, so the stream is read with fetch; after a break it reconnects with
 * Last-Event-ID and misses nothing. Returns a function that stops it.
 */
export function followEvents(
  onEvent: (event: Record<string, unknown>) => void,
  onLive: (live: boolean) => void,
): () => void {
  const controller = new AbortController();
  let lastId: string | null = null;
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  const frame = (text: string) => {
    let id: string | null = null;
    let data = "";
    for (const line of text.split("\n")) {
      if (line.startsWith("id: ")) id = line.slice(4);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    if (id) lastId = id;
    if (data) onEvent(JSON.parse(data) as Record<string, unknown>);
  };

  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        const headers: Record<string, string> = { Accept: "text/event-stream", ...authHeaders() };
        if (lastId) headers["Last-Event-ID"] = lastId;
        const response = await fetch("/api/v1/events/stream", { headers, signal: controller.signal });
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        onLive(true);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            frame(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch {
        /* reconnect below */
      }
      onLive(false);
      if (!controller.signal.aborted) await pause(3000);
    }
  };
  void run();
  return () => controller.abort();
}
