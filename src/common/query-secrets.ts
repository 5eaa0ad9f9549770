/**
 * Query parameters whose values are credentials. A browser can give a WebSocket its token nowhere but the
 * URL (`/ws?token=`, as the broadcast hub takes it), OAuth flows put `access_token` there, presigned object
 * URLs their signature; logged as they came, the admin token and apps' tokens sat in every log line of
 * the request, and in the object store the logs are shipped to.
 */
const SECRET_VALUE = /([?&](?:token|access_token|id_token|refresh_token|api_key|apikey|password|secret|signature|x-amz-signature|x-oss-signature)=)[^&#]*/gi;

/** `url` (a request target) with the values of credential parameters replaced by `[redacted]`, for logs. */
export function redactQuerySecrets(url: string): string {
  return url.includes('?') ? url.replace(SECRET_VALUE, '$1[redacted]') : url;
}
