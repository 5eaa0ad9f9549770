import { Args, Context, Field, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import type { FastifyReply } from 'fastify';
import { badInputFromZod } from '../common/errors.js';
import { principalOf } from '../common/principal.js';
import { refusePersonalTokenMaker } from '../common/token-maker.js';
import { createTokenSchema, tokenIdParam } from './dto/tokens.dto.js';
import { TokensService, type TokenView } from './tokens.service.js';

@ObjectType('ApiToken', { description: 'An API token: scopes and an optional key prefix; its secret is shown only by createApiToken' })
class ApiTokenType {
  @Field() id!: string;
  @Field() name!: string;
  @Field(() => [String]) scopes!: string[];
  @Field(() => String, { nullable: true, description: 'the token reaches only object keys starting with this' }) prefix!: string | null;
  @Field(() => String, { nullable: true }) expiresAt!: string | null;
  @Field() createdAt!: string;
  @Field(() => String, { nullable: true, description: 'updated at most once a minute' }) lastUsedAt!: string | null;
  @Field(() => String, { nullable: true }) revokedAt!: string | null;
  @Field(() => String, { nullable: true, description: 'the secret: only in the answer to createApiToken' }) token?: string;
}

/** GraphQL for people (the console): the same operations as REST /tokens. */
@Resolver()
export class TokensResolver {
  constructor(private readonly tokens: TokensService) {}

  @Query(() => [ApiTokenType])
  apiTokens(): Promise<TokenView[]> {
    return this.tokens.list();
  }

  @Mutation(() => ApiTokenType, { description: 'scopes: storage:read, storage:write, or storage (both); expiresAt: ISO 8601' })
  createApiToken(
    @Context() context: { reply: FastifyReply },
    @Args('name') name: string,
    @Args('scopes', { type: () => [String] }) scopes: string[],
    @Args('prefix', { type: () => String, nullable: true }) prefix?: string | null,
    @Args('expiresAt', { type: () => String, nullable: true }) expiresAt?: string | null,
  ): Promise<ApiTokenType> {
    // Mercurius puts Fastify's reply in the context; AdminAuth's hook found the caller on its request.
    refusePersonalTokenMaker(principalOf(context.reply.request.raw), 'API tokens');
    const input = createTokenSchema.safeParse({ name, scopes, prefix: prefix ?? null, expiresAt: expiresAt ?? null });
    if (!input.success) throw badInputFromZod(input.error);
    return this.tokens.create(input.data);
  }

  @Mutation(() => ApiTokenType)
  revokeApiToken(@Args('id') id: string): Promise<ApiTokenType> {
    const parsed = tokenIdParam.safeParse(id);
    if (!parsed.success) throw badInputFromZod(parsed.error, 'id');
    return this.tokens.revoke(parsed.data);
  }
}
