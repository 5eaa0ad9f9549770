/**
 * Credentials written into URLs (`https://ci:ghp_…@git.example.net/…`): found, so input can refuse them,
 * and hidden wherever a URL is shown or recorded. An http(s) URL's whole user info is hidden (a token
 * may be the user name); another scheme's user name stays (`ssh://git@host` names an account, not a
 * secret), its password does not. The user info runs to the authority's LAST `@` (WHATWG URL, and ssh
 * splits user from host there too), so an `@` inside a password is hidden with the rest of it.
 */
// Greedy up to an `@` with no `/`, `?`, `#` (or space, quote) before it: the authority's last `@`.
const HTTP_USER_INFO = /\b(https?:\/\/)[^\s/?#"]*@/gi;
// The user name ends at the first `:`; the password runs to the last `@`.
const PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#:"]*):[^\s/?#"]*@/gi;
/** Any scheme's whole user info, account names included. */
const ANY_USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/gi;

/** True when `url` carries what `redactUrlCredentials` would hide. */
export function hasUrlCredentials(url: string): boolean {
  return redactUrlCredentials(url) !== url;
}

/** `text` with the credentials of every URL in it replaced by `***`. */
export function redactUrlCredentials(text: string): string {
  return text.replace(HTTP_USER_INFO, '$1***@').replace(PASSWORD, '$1:***@');
}

/** `text` with the whole user info of every URL in it replaced by `***`, for records nobody should read accounts from either (the audit trail). */
export function redactUrlUserInfo(text: string): string {
  return text.replace(ANY_USER_INFO, '$1***@');
}
