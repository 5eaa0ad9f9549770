import * as acme from 'acme-client';
import type { AcmeConfig } from './acme.config.js';
import type { AcmeStore } from './acme.store.js';

/** Where HTTP-01 challenges go while an order runs: the catalog's key/value store, which every host's proxy answers from. */
export interface ChallengeBoard {
  /** Publishes the answer for `token` and resolves once this host's proxy serves it. */
  publish(token: string, keyAuthorization: string): Promise<void>;
  withdraw(token: string): Promise<void>;
}

export interface IssuedCertificate {
  /** PEM chain, leaf first. */
  certPem: string;
  keyPem: string;
}

/**
 * One ACME order with acme-client (RFC 8555): the account (made once per
 * directory, its key kept sealed in the database), a new ECDSA P-256 key and
 * CSR for the domain, the HTTP-01 challenge published on the board, the
 * order finalized and the chain downloaded.
 */
export class AcmeOrderer {
  constructor(
    private readonly config: AcmeConfig,
    private readonly store: AcmeStore,
    private readonly board: ChallengeBoard,
  ) {}

  async order(domain: string): Promise<IssuedCertificate> {
    const client = await this.client();
    const [keyBuffer, csr] = await acme.crypto.createCsr({ commonName: domain, altNames: [domain] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const certPem = await client.auto({
      csr,
      email: this.config.email,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // acme-client's own check fetches the challenge through public DNS before telling the CA; the board
      // already waits until this host's proxy serves it, and the CA's own validation is what counts.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new Error(`the CA offered no http-01 challenge (got ${challenge.type})`);
        await this.board.publish(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        await this.board.withdraw(challenge.token);
      },
    });
    return { certPem, keyPem: keyBuffer.toString() };
  }

  /** The account of this directory: registered on first use and kept (key sealed) for every host. */
  private async client(): Promise<acme.Client> {
    const { directory, email, eab } = this.config;
    const options = {
      directoryUrl: directory,
      ...(eab ? { externalAccountBinding: { kid: eab.kid, hmacKey: eab.hmacKey } } : {}),
      // Poll the order and challenges from 1 s (acme-client's default starts at 5 s) up to 10 s, 10 times.
      backoffAttempts: 10,
      backoffMin: 1000,
      backoffMax: 10_000,
    };
    const stored = await this.store.account(directory);
    if (stored?.url) return new acme.Client({ ...options, accountKey: stored.keyPem, accountUrl: stored.url });
    const accountKey = stored?.keyPem ?? (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    const client = new acme.Client({ ...options, accountKey });
    await client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${email}`] });
    await this.store.saveAccount(directory, email, accountKey, client.getAccountUrl());
    return client;
  }
}
