import { BadInput } from '../common/errors.js';

const OBJECTS = '/storage/objects/';

/** The URL path of an object; dots are encoded too so no HTTP layer folds `.`/`..` segments before dozen sees them. */
export function objectPath(key: string): string {
  return OBJECTS + key.split('/').map((segment) => encodeURIComponent(segment).replaceAll('.', '%2E')).join('/');
}

/** The key a request path names: the rest after /storage/objects/, percent-decoded (so `%2F` and `/` are the same). */
export function keyOfPath(path: string): string {
  try {
    return decodeURIComponent(path.slice(OBJECTS.length));
  } catch {
    throw new BadInput('key', 'is not valid percent-encoding');
  }
}
