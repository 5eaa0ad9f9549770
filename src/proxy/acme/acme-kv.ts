/** Where ACME keys live in the catalog's key/value store. */
export const ACME_KV = {
  /** `<prefix><token>` = key authorization, while an order waits for the CA. */
  challenges: 'dozen/acme/challenges/',
  /** Rewritten after each issue or failure: every host's loader re-reads the certificates table. */
  certificatesChanged: 'dozen/acme/certificates-changed',
  /** One host orders at a time (catalog-lock.ts). */
  lock: 'dozen/acme/lock',
} as const;
