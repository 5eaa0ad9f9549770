import { Args, Context, Field, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import type { FastifyReply } from 'fastify';
import { badInputFromZod } from '../common/errors.js';
import { refusePersonalTokenMaker } from '../common/token-maker.js';
import type { z } from 'zod';
import { meOf, ownUserId, signedIn, tokenMaker } from './auth.controller.js';
import { createPersonalTokenSchema, createUserSchema, passwordSchema, role, tokenIdParam, userName } from './dto/access.dto.js';
import { LoginLimiter } from './login-limiter.js';
import { PersonalTokensService, type PersonalTokenView } from './personal-tokens.service.js';
import { UsersService, type UserView } from './users.service.js';

@ObjectType('Me', { description: 'who is calling, and every permission its role holds (names from the permission table)' })
class MeType {
  @Field() name!: string;
  @Field(() => String, { nullable: true, description: 'admin, deployer or viewer; null for a storage API token' }) role!: string | null;
  @Field(() => [String]) permissions!: string[];
}

@ObjectType('User')
class UserType {
  @Field() id!: string;
  @Field() name!: string;
  @Field() role!: string;
  @Field() disabled!: boolean;
  @Field() createdAt!: string;
  @Field() updatedAt!: string;
}

@ObjectType('PersonalToken', { description: "a user's token for programs, acting with the user's role; its secret is shown only by createPersonalToken" })
class PersonalTokenType {
  @Field() id!: string;
  @Field() name!: string;
  @Field(() => String, { nullable: true }) expiresAt!: string | null;
  @Field() createdAt!: string;
  @Field(() => String, { nullable: true, description: 'updated at most once a minute' }) lastUsedAt!: string | null;
  @Field(() => String, { nullable: true }) revokedAt!: string | null;
  @Field(() => String, { nullable: true, description: 'the secret: only in the answer to createPersonalToken' }) token?: string;
}

/** Mercurius puts Fastify's reply in the context; the caller was found by AdminAuth's hook on its request. */
interface GraphQLContext {
  reply: FastifyReply;
}

function parse<T extends z.ZodType>(schema: T, value: unknown, field: string): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw badInputFromZod(result.error, field);
  return result.data;
}

/** GraphQL for the console: who am I, users (admins), one's own personal tokens. */
@Resolver()
export class AccessResolver {
  constructor(
    private readonly people: UsersService,
    private readonly tokens: PersonalTokensService,
    private readonly limiter: LoginLimiter,
  ) {}

  @Query(() => MeType)
  me(@Context() context: GraphQLContext): MeType {
    return meOf(signedIn(context.reply.request));
  }

  @Query(() => [UserType])
  users(): Promise<UserView[]> {
    return this.people.list();
  }

  @Mutation(() => UserType)
  createUser(@Context() context: GraphQLContext, @Args('name') name: string, @Args('role') userRole: string, @Args('password') password: string): Promise<UserView> {
    refusePersonalTokenMaker(signedIn(context.reply.request), 'users');
    const input = createUserSchema.safeParse({ name, role: userRole, password });
    if (!input.success) throw badInputFromZod(input.error);
    return this.people.create(input.data);
  }

  @Mutation(() => UserType, { description: 'change the role and/or enable (ending a login lockout) or disable (ending every session) a user' })
  async updateUser(
    @Args('name') name: string,
    @Args('role', { type: () => String, nullable: true }) userRole?: string | null,
    @Args('disabled', { type: () => Boolean, nullable: true }) disabled?: boolean | null,
  ): Promise<UserView> {
    const user = await this.people.update(parse(userName, name, 'name'), {
      ...(userRole != null ? { role: parse(role, userRole, 'role') } : {}),
      ...(disabled != null ? { disabled } : {}),
    });
    if (disabled === false) await this.limiter.release(user.name);
    return user;
  }

  @Mutation(() => UserType, { description: 'disable a user: its sessions end, its personal tokens stop working' })
  disableUser(@Args('name') name: string): Promise<UserView> {
    return this.people.update(parse(userName, name, 'name'), { disabled: true });
  }

  @Mutation(() => UserType, { description: "set a user's password; its sessions end and its login lockout is lifted" })
  async resetPassword(@Context() context: GraphQLContext, @Args('name') name: string, @Args('password') password: string): Promise<UserView> {
    refusePersonalTokenMaker(signedIn(context.reply.request), 'passwords');
    const user = await this.people.setPassword(parse(userName, name, 'name'), parse(passwordSchema, { password }, '').password);
    await this.limiter.release(user.name);
    return user;
  }

  @Query(() => [PersonalTokenType], { description: "the caller's own personal tokens" })
  personalTokens(@Context() context: GraphQLContext): Promise<PersonalTokenView[]> {
    return this.tokens.list(ownUserId(signedIn(context.reply.request)));
  }

  @Mutation(() => PersonalTokenType, { description: 'expiresAt: ISO 8601, or null for never' })
  createPersonalToken(
    @Context() context: GraphQLContext,
    @Args('name') name: string,
    @Args('expiresAt', { type: () => String, nullable: true }) expiresAt?: string | null,
  ): Promise<PersonalTokenType> {
    const input = parse(createPersonalTokenSchema, { name, expiresAt: expiresAt ?? null }, '');
    return this.tokens.create(tokenMaker(signedIn(context.reply.request)), input);
  }

  @Mutation(() => PersonalTokenType)
  revokePersonalToken(@Context() context: GraphQLContext, @Args('id') id: string): Promise<PersonalTokenType> {
    return this.tokens.revoke(ownUserId(signedIn(context.reply.request)), parse(tokenIdParam, id, 'id'));
  }
}
