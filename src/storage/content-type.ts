import { lookup } from 'mime-types';

/** The content type an object gets when the uploader did not say: from the key's extension, else octet-stream. */
export function contentTypeFor(key: string): string {
  return lookup(key) || 'application/octet-stream';
}
