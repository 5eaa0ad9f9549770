/** The admin API as the console uses it: GraphQL over POST /graphql, the session cookie, the CSRF double-submit header. */

export class ApiError extends Error {
  constructor(
    message: string,
    /** The input the error is about (from `{field}` or a GraphQL message "field: ..."), so the form shows it there. */
    readonly field: string | null,
    readonly status: number,
  ) {
    super(message);
  }
}

/** The CSRF cookie's value: `__Host-dozen_csrf` over HTTPS (the one the server reads there), `dozen_csrf` over plain HTTP. */
export function csrfToken(): string | null {
  const match = /(?:^|;\s*)__Host-dozen_csrf=([^;]*)/.exec(document.cookie) ?? /(?:^|;\s*)dozen_csrf=([^;]*)/.exec(document.cookie);
  return match ? decodeURIComponent(match[1]) : null;
}

/** Headers every mutating request carries: the CSRF token read from its cookie. */
export function writeHeaders(): Record<string, string> {
  const csrf = csrfToken();
  return csrf ? { 'x-dozen-csrf': csrf } : {};
}

let onUnauthorized: () => void = () => {};
/** Called when the API answers 401: the session ended, the app shows the login page. */
export function whenUnauthorized(listener: () => void): void {
  onUnauthorized = listener;
}

async function failure(response: Response): Promise<ApiError> {
  let body: { error?: string; message?: string; field?: string } = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  if (response.status === 401) onUnauthorized();
  return new ApiError(body.message ?? `${response.status} ${response.statusText}`, body.field ?? null, response.status);
}

export async function rest<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(method === 'GET' ? {} : writeHeaders()) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? (undefined as T) : ((await response.json()) as T);
}

/** Field of a GraphQL error: dozen's bad-input messages start with "field: ". */
export function fieldOf(message: string): string | null {
  const match = /^([A-Za-z][\w.]*): /.exec(message);
  return match ? match[1] : null;
}

export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch('/graphql', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', ...writeHeaders() },
    body: JSON.stringify({ query, variables }),
  });
  if (!response.ok && response.status !== 400) throw await failure(response);
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length) {
    const message = body.errors[0].message;
    if (/unauthori[sz]ed|not logged in/i.test(message) && response.status === 401) onUnauthorized();
    throw new ApiError(message, fieldOf(message), response.status);
  }
  return body.data as T;
}

/** Files from this size go up in parts through a resumable upload; smaller ones in one PUT. */
export const RESUMABLE_FROM = 32 * 1024 * 1024;
/** The part size of the console's resumable uploads (the same on every attempt, so a retry can keep the parts stored). */
export const PART_SIZE = 8 * 1024 * 1024;

function keyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** One request with upload progress (fetch has none): resolves with the parsed JSON answer. */
function send(method: string, path: string, body: Blob, onProgress: (loaded: number) => void): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, path);
    for (const [name, value] of Object.entries(writeHeaders())) request.setRequestHeader(name, value);
    request.setRequestHeader('content-type', body.type || 'application/octet-stream');
    request.upload.onprogress = (event) => onProgress(event.loaded);
    request.onload = () => {
      let answer: { message?: string; field?: string } = {};
      try {
        answer = JSON.parse(request.responseText);
      } catch {
        // not JSON
      }
      if (request.status >= 200 && request.status < 300) resolve(answer);
      else reject(new ApiError(answer.message ?? `${request.status}`, answer.field ?? 'file', request.status));
    };
    request.onerror = () => reject(new ApiError('network error', 'file', 0));
    request.send(body);
  });
}

/**
 * Uploads a file with progress: one PUT /storage/objects/<key>, or for big files a resumable upload
 * (POST /storage/uploads, PUT parts, complete). A retry after a failure finds the upload in progress
 * for the same key and sends only the parts the store does not have.
 */
export async function upload(key: string, file: Blob, onProgress: (fraction: number) => void): Promise<void> {
  if (file.size < RESUMABLE_FROM) {
    await send('PUT', `/storage/objects/${keyPath(key)}`, file, (loaded) => onProgress(loaded / file.size));
    onProgress(1);
    return;
  }
  const parts = Math.ceil(file.size / PART_SIZE);
  const sizeOf = (part: number) => Math.min(PART_SIZE, file.size - (part - 1) * PART_SIZE);
  const pending = (await rest<{ uploads: { uploadId: string; created: string }[] }>('GET', `/storage/uploads?key=${encodeURIComponent(key)}`)).uploads;
  const resumed = pending.sort((a, b) => (a.created < b.created ? 1 : -1))[0];
  let uploadId: string;
  const stored = new Set<number>();
  if (resumed) {
    uploadId = resumed.uploadId;
    const described = await rest<{ parts: { partNumber: number; size: number }[] }>('GET', `/storage/uploads/${uploadId}`);
    for (const part of described.parts) if (part.partNumber <= parts && part.size === sizeOf(part.partNumber)) stored.add(part.partNumber);
  } else {
    uploadId = (await rest<{ uploadId: string }>('POST', '/storage/uploads', { key, partSize: PART_SIZE, ...(file.type ? { contentType: file.type } : {}) })).uploadId;
  }
  let done = [...stored].reduce((sum, part) => sum + sizeOf(part), 0);
  onProgress(done / file.size);
  for (let part = 1; part <= parts; part++) {
    if (stored.has(part)) continue;
    const body = file.slice((part - 1) * PART_SIZE, (part - 1) * PART_SIZE + sizeOf(part));
    await send('PUT', `/storage/uploads/${uploadId}/parts/${part}`, body, (loaded) => onProgress((done + loaded) / file.size));
    done += sizeOf(part);
  }
  await rest('POST', `/storage/uploads/${uploadId}/complete`);
  onProgress(1);
}

export function objectUrl(key: string): string {
  return `/storage/objects/${keyPath(key)}`;
}
