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

export function csrfToken(): string | null {
  const match = /(?:^|;\s*)dozen_csrf=([^;]*)/.exec(document.cookie);
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

/** Upload with progress (fetch has no upload progress): PUT /storage/objects/<key>. */
export function upload(key: string, file: Blob, onProgress: (fraction: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('PUT', `/storage/objects/${key.split('/').map(encodeURIComponent).join('/')}`);
    for (const [name, value] of Object.entries(writeHeaders())) request.setRequestHeader(name, value);
    request.setRequestHeader('content-type', file.type || 'application/octet-stream');
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) {
        onProgress(1);
        resolve();
        return;
      }
      let body: { message?: string; field?: string } = {};
      try {
        body = JSON.parse(request.responseText);
      } catch {
        // not JSON
      }
      reject(new ApiError(body.message ?? `${request.status}`, body.field ?? 'file', request.status));
    };
    request.onerror = () => reject(new ApiError('network error', 'file', 0));
    request.send(file);
  });
}

export function objectUrl(key: string): string {
  return `/storage/objects/${key.split('/').map(encodeURIComponent).join('/')}`;
}
