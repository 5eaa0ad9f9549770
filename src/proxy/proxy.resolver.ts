import { Args, Context, Field, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import type { FastifyRequest } from 'fastify';
import { principalOf } from '../common/principal.js';
import { refusePersonalTokenMaker } from '../common/token-maker.js';
import { badInputFromZod } from '../common/errors.js';
import { appParam, keyIdParam } from './dto/proxy.dto.js';
import { policyInputSchema } from './policy.js';
import { ProxyPolicyService, type PolicyView } from './proxy-policy.service.js';
import { CertificateBook } from './tls/certificate-book.js';

@ObjectType('ProxyPolicy', { description: "An app's balancer, API auth and HTTPS at the proxy" })
class ProxyPolicyType {
  @Field() app!: string;
  @Field({ description: 'random, ip-hash, url-hash or least-load' }) balancer!: string;
  @Field() hashQuery!: boolean;
  @Field({ description: 'none, api-key or jwt' }) auth!: string;
  @Field({ nullable: true, description: 'the jwt settings as JSON (the HS256 secret redacted)' }) jwt?: string;
  @Field({ description: 'auto, files or off: where HTTPS certificates come from' }) tls!: string;
  @Field({ description: 'plain HTTP gets 301 to https' }) redirectHttp!: boolean;
  @Field({ nullable: true, description: 'Strict-Transport-Security as JSON {maxAge, includeSubDomains}' }) hsts?: string;
}

@ObjectType('ProxyApiKey')
class ProxyApiKeyType {
  @Field() id!: string;
  @Field() app!: string;
  @Field() name!: string;
  @Field({ description: 'the first characters of the key' }) hint!: string;
  @Field() createdAt!: string;
  @Field({ nullable: true }) revokedAt?: string;
  @Field({ nullable: true, description: 'the key itself: only in the answer to createProxyApiKey' }) key?: string;
}

@ObjectType('ProxyCertificate', { description: "A domain's HTTPS certificate as the proxy serves it" })
class ProxyCertificateType {
  @Field() domain!: string;
  @Field({ nullable: true, description: "the issuer's common name; null when no certificate is held" }) issuer?: string;
  @Field({ nullable: true, description: 'ISO time the certificate expires' }) notAfter?: string;
  @Field({ description: 'files or acme' }) source!: string;
  @Field({ nullable: true, description: 'why the last load or renewal failed' }) lastError?: string;
}

/** GraphQL for people (the console): the same operations as REST /proxy/apps/:app/... and /proxy/certificates */
@Resolver()
export class ProxyResolver {
  constructor(
    private readonly policies: ProxyPolicyService,
    private readonly book: CertificateBook,
  ) {}

  @Query(() => [ProxyCertificateType])
  proxyCertificates(): ProxyCertificateType[] {
    return this.book.list().map((info) => ({ domain: info.domain, issuer: info.issuer ?? undefined, notAfter: info.notAfter ?? undefined, source: info.source, lastError: info.lastError ?? undefined }));
  }

  @Query(() => ProxyPolicyType)
  async proxyPolicy(@Args('app') app: string): Promise<ProxyPolicyType> {
    return toType(await this.policies.policy(parse(appParam, app, 'app')));
  }

  @Mutation(() => ProxyPolicyType, { description: 'policy is the JSON body of PUT /proxy/apps/:app/policy' })
  async setProxyPolicy(@Args('app') app: string, @Args('policy') policy: string): Promise<ProxyPolicyType> {
    let json: unknown;
    try {
      json = JSON.parse(policy);
    } catch {
      json = undefined;
    }
    return toType(await this.policies.setPolicy(parse(appParam, app, 'app'), parse(policyInputSchema, json, 'policy')));
  }

  @Query(() => [ProxyApiKeyType])
  async proxyApiKeys(@Args('app') app: string): Promise<ProxyApiKeyType[]> {
    return (await this.policies.listKeys(parse(appParam, app, 'app'))).map((key) => ({ ...key, revokedAt: key.revokedAt ?? undefined }));
  }

  @Mutation(() => ProxyApiKeyType)
  async createProxyApiKey(@Context() context: { reply: { request: FastifyRequest } }, @Args('app') app: string, @Args('name', { defaultValue: 'key' }) name: string): Promise<ProxyApiKeyType> {
    refusePersonalTokenMaker(principalOf(context.reply.request.raw), 'proxy API keys');
    const key = await this.policies.createKey(parse(appParam, app, 'app'), name);
    return { ...key, revokedAt: undefined };
  }

  @Mutation(() => ProxyApiKeyType)
  async revokeProxyApiKey(@Args('app') app: string, @Args('id') id: string): Promise<ProxyApiKeyType> {
    const key = await this.policies.revokeKey(parse(appParam, app, 'app'), parse(keyIdParam, id, 'id'));
    return { ...key, revokedAt: key.revokedAt ?? undefined };
  }
}

function parse<T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: import('zod').ZodError } }, value: unknown, field: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw badInputFromZod(result.error, field);
  return result.data;
}

function toType(view: PolicyView): ProxyPolicyType {
  return {
    app: view.app,
    balancer: view.balancer,
    hashQuery: view.hashQuery,
    auth: view.auth,
    jwt: view.jwt ? JSON.stringify(view.jwt) : undefined,
    tls: view.tls,
    redirectHttp: view.redirectHttp,
    hsts: view.hsts ? JSON.stringify(view.hsts) : undefined,
  };
}
