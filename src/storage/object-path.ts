/** The URL path of an object; dots are encoded too so no HTTP layer folds `.`/`..` segments before dozen sees them. */
export function objectPath(key: string): string {
  return '/storage/objects/' + key.split('/').map((segment) => encodeURIComponent(segment).replaceAll('.', '%2E')).join('/');
}
