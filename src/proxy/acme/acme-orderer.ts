import type * as AcmeClient from 'acme-client';
import { TLS_ALPN_CHALLENGE } from '../tls/served-certificates.js';
import type { AcmeConfig } from './acme.config.js';
import type { AcmeStore } from './acme.store.js';

/** acme-client, with the x509, forge and axios it pulls in, loads with a host's first order: a sixth of every start before. */
let acmeClient: Promise<typeof AcmeClient> | undefined;
const loadAcmeClient = () => (acmeClient ??= import('acme-client'));

/**
 * Where challenges go while an order runs: the catalog's key/value store, which every host's proxy
 * answers from. HTTP-01: the token and its key authorization; TLS-ALPN-01: `tls-alpn-01:<domain>` and
 * the PEM key and certificate to answer with (served-certificates.ts).
 */
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
 * CSR for the domain, the challenge (`challenge`: HTTP-01 or TLS-ALPN-01)
 * published on the board, the order finalized and the chain downloaded.
 */
export class AcmeOrderer {
  constructor(
    private readonly config: AcmeConfig,
    private readonly store: AcmeStore,
    private readonly board: ChallengeBoard,
  ) {}

  async order(domain: string): Promise<IssuedCertificate> {
    const acme = await loadAcmeClient();
    const client = await this.client();
    const [keyBuffer, csr] = await acme.crypto.createCsr({ commonName: domain, altNames: [domain] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const certPem = await client.auto({
      csr,
      email: this.config.email,
      termsOfServiceAgreed: true,
      challengePriority: [this.config.challenge],
      // acme-client's own check fetches the challenge through public DNS before telling the CA; the board
      // already waits until this host's proxy serves it, and the CA's own validation is what counts.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        if (challenge.type !== this.config.challenge) throw new Error(`the CA offered no ${this.config.challenge} challenge (got ${challenge.type})`);
        if (challenge.type === 'http-01') return void (await this.board.publish(challenge.token, keyAuthorization));
        // RFC 8737: a self-signed certificate for the domain carrying the key authorization's SHA-256 (acmeIdentifier).
        const [keyPem, certPem] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, await acme.crypto.createPrivateEcdsaKey('P-256'));
        await this.board.publish(TLS_ALPN_CHALLENGE + authz.identifier.value, keyPem.toString() + certPem.toString());
      },
      challengeRemoveFn: async (authz, challenge) => {
        await this.board.withdraw(challenge.type === 'http-01' ? challenge.token : TLS_ALPN_CHALLENGE + authz.identifier.value);
      },
    });
    return { certPem, keyPem: keyBuffer.toString() };
  }

  /** The account of this directory: registered on first use and kept (key sealed) for every host. */
  private async client(): Promise<AcmeClient.Client> {
    const acme = await loadAcmeClient();
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
