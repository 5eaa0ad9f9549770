import { Args, Field, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { badInputFromZod } from '../../common/errors.js';
import { domainSchema } from '../../registry/domains.js';
import { AcmeService } from './acme.service.js';

@ObjectType('ProxyAcmeDomain', { description: "A domain's ACME certificate in the shared database" })
class ProxyAcmeDomainType {
  @Field() domain!: string;
  @Field(() => String, { nullable: true, description: 'ISO time' }) notBefore!: string | null;
  @Field(() => String, { nullable: true, description: 'ISO time' }) notAfter!: string | null;
  @Field(() => String, { nullable: true, description: 'ISO time the certificate in use was issued' }) issuedAt!: string | null;
  @Field(() => String, { nullable: true, description: 'the host that ordered the certificate in use' }) issuedBy!: string | null;
  @Field(() => Int, { description: 'orders failed in a row since the last success' }) failures!: number;
  @Field(() => String, { nullable: true }) lastError!: string | null;
  @Field(() => String, { nullable: true, description: 'ISO time' }) lastErrorAt!: string | null;
  @Field(() => String, { nullable: true, description: 'ISO time: no order before this (backoff)' }) nextAttemptAt!: string | null;
}

@ObjectType('ProxyAcme', { description: "What GET /proxy/acme shows: this host's ACME part and the cluster's certificates" })
class ProxyAcmeType {
  @Field({ description: 'whether this host orders certificates (proxy.tls.acme is set)' }) ordering!: boolean;
  @Field(() => String, { nullable: true, description: "the CA's ACME directory URL" }) directory!: string | null;
  @Field(() => [String], { description: 'the domains this host would order' }) wanted!: string[];
  @Field(() => String, { nullable: true, description: 'the host holding the ordering lock' }) lockHolder!: string | null;
  @Field(() => [ProxyAcmeDomainType]) domains!: ProxyAcmeDomainType[];
}

/** GraphQL for people (the console): the same as REST GET /proxy/acme and POST /proxy/certificates/:domain/renew. */
@Resolver()
export class AcmeResolver {
  constructor(private readonly acme: AcmeService) {}

  @Query(() => ProxyAcmeType)
  async proxyAcme(): Promise<ProxyAcmeType> {
    return this.acme.status();
  }

  @Mutation(() => ProxyAcmeDomainType, { description: "A new certificate for domain now, whatever the current one's expiry; answers once the order ended (lastError says if it failed)" })
  async renewProxyCertificate(@Args('domain') domain: string): Promise<ProxyAcmeDomainType> {
    const parsed = domainSchema.safeParse(domain);
    if (!parsed.success) throw badInputFromZod(parsed.error, 'domain');
    return this.acme.renewNow(parsed.data);
  }
}
