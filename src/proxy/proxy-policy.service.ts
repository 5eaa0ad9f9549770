import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type Repository } from 'typeorm';
import { BadInput, NotFound } from '../common/errors.js';
import { SecretsBox } from '../common/secrets-box.js';
import { newApiKey } from './auth/api-key.js';
import { DEFAULT_POLICY, REDACTED_SECRET, type AppPolicy, type HstsPolicy, type JwtPolicy, type PolicyInput, type PolicySet, type TlsMode } from './policy.js';
import { ProxyApiKeyEntity, ProxyAppPolicyEntity } from './proxy.entity.js';

/** A policy as the admin API shows it: the HS256 secret is never returned. */
export interface PolicyView {
  app: string;
  balancer: string;
  hashQuery: boolean;
  auth: string;
  jwt: (Omit<JwtPolicy, 'secret'> & { secret?: typeof REDACTED_SECRET }) | null;
  tls: TlsMode;
  redirectHttp: boolean;
  hsts: HstsPolicy | null;
}

export interface KeyView {
  id: string;
  app: string;
  name: string;
  hint: string;
  createdAt: string;
  revokedAt: string | null;
}

/**
 * The apps' proxy policies and API keys, in this module's tables. Every change
 * rebuilds the PolicySet and tells the listeners (ProxyService pushes it to
 * the workers; AcmeService reads which apps want certificates), so a revoked key stops working within one IPC round.
 */
@Injectable()
export class ProxyPolicyService implements OnModuleInit {
  private readonly listeners: ((policies: PolicySet) => void)[] = [];

  constructor(
    @InjectRepository(ProxyAppPolicyEntity) private readonly policies: Repository<ProxyAppPolicyEntity>,
    @InjectRepository(ProxyApiKeyEntity) private readonly keys: Repository<ProxyApiKeyEntity>,
    private readonly box: SecretsBox,
  ) {}

  /** Seals the HS256 secrets an earlier version stored in the clear (a database copy or backup gave them away). */
  async onModuleInit(): Promise<void> {
    for (const row of await this.policies.find()) {
      const stored = row.jwt ? (JSON.parse(row.jwt) as StoredJwt) : null;
      if (!stored?.secret) continue;
      row.jwt = this.sealed(stored as JwtPolicy);
      await this.policies.save(row);
    }
  }

  /** The jwt settings as stored: the HS256 secret sealed (`sealedSecret`), never in the clear. */
  private sealed(jwt: JwtPolicy): string {
    const { secret, ...rest } = jwt;
    return JSON.stringify(secret ? { ...rest, sealedSecret: this.box.seal(secret) } : rest);
  }

  private opened(text: string): JwtPolicy {
    const { sealedSecret, ...rest } = JSON.parse(text) as StoredJwt;
    return sealedSecret ? { ...rest, secret: this.box.open(sealedSecret) } : rest;
  }

  onChange(listener: (policies: PolicySet) => void): void {
    this.listeners.push(listener);
  }

  async policy(app: string): Promise<PolicyView> {
    const row = await this.policies.findOneBy({ app });
    return row ? view(row) : { app, balancer: DEFAULT_POLICY.balancer, hashQuery: false, auth: 'none', jwt: null, tls: DEFAULT_POLICY.tls, redirectHttp: false, hsts: null };
  }

  /** Replaces the app's policy; an HS256 secret given as `[redacted]` or left out is kept (`withStoredSecret`). */
  async setPolicy(app: string, input: PolicyInput): Promise<PolicyView> {
    const jwt = input.jwt && (await this.withStoredSecret(app, input.jwt));
    const row = this.policies.create({ app, balancer: input.balancer, hashQuery: input.hashQuery, auth: input.auth, jwt: jwt ? this.sealed(jwt) : null, tls: input.tls, redirectHttp: input.redirectHttp, hsts: input.hsts ? JSON.stringify(input.hsts) : null, updatedAt: Date.now() });
    await this.policies.save(row);
    await this.publish();
    return view(row);
  }

  /**
   * The jwt settings to store. GET shows the secret as `[redacted]`: a client that saves back what it
   * read (the console's form) sends that, or leaves the secret out; either keeps the stored one.
   */
  private async withStoredSecret(app: string, jwt: JwtPolicy): Promise<JwtPolicy> {
    if ((jwt.secret && jwt.secret !== REDACTED_SECRET) || jwt.publicKey || jwt.jwksUrl) return jwt;
    const stored = await this.policies.findOneBy({ app });
    const secret = stored?.jwt ? this.opened(stored.jwt).secret : undefined;
    if (!secret) throw new BadInput('jwt.secret', jwt.secret ? `no HS256 secret is stored for ${app} to keep: give the secret itself` : 'give exactly one of secret, publicKey, jwksUrl');
    return { ...jwt, secret };
  }

  async resetPolicy(app: string): Promise<void> {
    await this.policies.delete({ app });
    await this.publish();
  }

  /** Creates a key; the returned `key` is the only time it is ever visible. */
  async createKey(app: string, name: string): Promise<KeyView & { key: string }> {
    const { key, digest } = newApiKey();
    const row = this.keys.create({ id: randomUUID(), app, name, digest, hint: key.slice(0, 10), createdAt: Date.now(), revokedAt: null });
    await this.keys.save(row);
    await this.publish();
    return { ...keyView(row), key };
  }

  async listKeys(app: string): Promise<KeyView[]> {
    return (await this.keys.find({ where: { app }, order: { createdAt: 'ASC' } })).map(keyView);
  }

  async revokeKey(app: string, id: string): Promise<KeyView> {
    const row = await this.keys.findOneBy({ app, id });
    if (!row) throw new NotFound('API key', id);
    if (row.revokedAt === null) {
      row.revokedAt = Date.now();
      await this.keys.save(row);
      await this.publish();
    }
    return keyView(row);
  }

  /** Every app's policy with the digests of its live keys, as the workers need it. */
  async policySet(): Promise<PolicySet> {
    const set: PolicySet = {};
    for (const row of await this.policies.find()) {
      set[row.app] = {
        balancer: row.balancer as AppPolicy['balancer'],
        hashQuery: row.hashQuery,
        auth: row.auth as AppPolicy['auth'],
        jwt: row.jwt ? this.opened(row.jwt) : undefined,
        tls: row.tls as TlsMode,
        redirectHttp: row.redirectHttp,
        hsts: row.hsts ? (JSON.parse(row.hsts) as HstsPolicy) : undefined,
        keys: [],
      };
    }
    for (const key of await this.keys.findBy({ revokedAt: IsNull() })) {
      set[key.app] ??= { ...DEFAULT_POLICY, keys: [] };
      set[key.app].keys.push({ id: key.id, digest: key.digest });
    }
    return set;
  }

  private async publish(): Promise<void> {
    if (!this.listeners.length) return;
    const set = await this.policySet();
    for (const listener of this.listeners) listener(set);
  }
}

/** The jwt column: the settings, with the HS256 secret sealed (rows of earlier versions: in the clear, until the start seals them). */
type StoredJwt = Omit<JwtPolicy, 'secret'> & { secret?: string; sealedSecret?: string };

function view(row: ProxyAppPolicyEntity): PolicyView {
  const stored = row.jwt ? (JSON.parse(row.jwt) as StoredJwt) : null;
  let jwt: PolicyView['jwt'] = null;
  if (stored) {
    const { secret, sealedSecret, ...rest } = stored;
    jwt = { ...rest, secret: secret || sealedSecret ? REDACTED_SECRET : undefined };
  }
  return {
    app: row.app,
    balancer: row.balancer,
    hashQuery: row.hashQuery,
    auth: row.auth,
    jwt,
    tls: row.tls as TlsMode,
    redirectHttp: row.redirectHttp,
    hsts: row.hsts ? (JSON.parse(row.hsts) as HstsPolicy) : null,
  };
}

function keyView(row: ProxyApiKeyEntity): KeyView {
  return {
    id: row.id,
    app: row.app,
    name: row.name,
    hint: row.hint,
    createdAt: new Date(Number(row.createdAt)).toISOString(),
    revokedAt: row.revokedAt === null ? null : new Date(Number(row.revokedAt)).toISOString(),
  };
}
