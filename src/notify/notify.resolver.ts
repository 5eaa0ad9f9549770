import { Args, Context, Field, InputType, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import { ownUserId, signedIn } from '../access/auth.controller.js';
import { roleHas } from '../access/permissions.js';
import { badInputFromZod } from '../common/errors.js';
import { actorName } from '../common/principal.js';
import { ChannelsService, type ChannelView } from './channels.service.js';
import { channelIdParam, codeRequestSchema, confirmAddressSchema, createChannelSchema, updateChannelSchema } from './dto/notify.dto.js';
import { Notifier } from './notifier.service.js';
import { testAnswer } from './notify.controller.js';

@ObjectType('NotifyChannel', { description: 'where notifications go; its URL key and secret are never shown' })
class NotifyChannelType {
  @Field() id!: string;
  @Field({ description: 'config (read-only), team or personal' }) scope!: string;
  @Field() name!: string;
  @Field({ description: 'webhook, dingtalk, feishu, wecom or email' }) type!: string;
  @Field({ description: "email: the addresses; the others: the URL's scheme and host only" }) target!: string;
  @Field() hasSecret!: boolean;
  @Field(() => [String]) events!: string[];
  @Field({ description: 'whether the caller may change it' }) editable!: boolean;
  @Field(() => [String], { description: 'email: the addresses nothing is sent to until the code mailed there is entered' }) unconfirmed!: string[];
}

@ObjectType('NotifyCodeMail')
class NotifyCodeMailType {
  @Field() address!: string;
  @Field() sent!: boolean;
  @Field(() => String, { nullable: true, description: "the SMTP server's refusal" }) problem!: string | null;
}

@ObjectType('NotifyChannels')
class NotifyChannelsType {
  @Field(() => [String], { description: 'every event a channel may choose' }) events!: string[];
  @Field({ description: 'whether this host can send email (notify.smtp is set)' }) email!: boolean;
  @Field(() => [NotifyChannelType]) channels!: ChannelView[];
}

@ObjectType('NotifyTest')
class NotifyTestType {
  @Field() delivered!: boolean;
  @Field(() => String, { nullable: true, description: "why it was not delivered: the channel's answer to admins and for email; to others, that it failed" }) problem!: string | null;
}

@InputType('NotifyChannelInput', { description: 'url and secret for webhook and the robots; to for email' })
class NotifyChannelInput {
  @Field() name!: string;
  @Field() type!: string;
  @Field(() => String, { nullable: true }) url?: string | null;
  @Field(() => String, { nullable: true }) secret?: string | null;
  @Field(() => [String], { nullable: true }) to?: string[] | null;
  @Field(() => [String], { nullable: true, description: 'all of them when left out' }) events?: string[] | null;
}

@InputType('NotifyChannelChange', { description: 'what to change; secret "" removes it' })
class NotifyChannelChange {
  @Field(() => String, { nullable: true }) name?: string | null;
  @Field(() => [String], { nullable: true }) events?: string[] | null;
  @Field(() => String, { nullable: true }) url?: string | null;
  @Field(() => String, { nullable: true }) secret?: string | null;
  @Field(() => [String], { nullable: true }) to?: string[] | null;
}

interface GraphQLContext {
  reply: FastifyReply;
}

function parse<T extends z.ZodType>(schema: T, value: unknown, field = ''): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw badInputFromZod(result.error, field);
  return result.data;
}

/** GraphQL leaves absent arguments as null; the schemas want them left out. */
function present(input: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null && value !== undefined));
}

function change(input: NotifyChannelChange) {
  const given = present(input);
  if (input.secret === '') given.secret = null;
  return parse(updateChannelSchema, given, 'input');
}

/** GraphQL for notification channels: one's own (any role), the team's (notify.manage). */
@Resolver()
export class NotifyResolver {
  constructor(
    private readonly channels: ChannelsService,
    private readonly notifier: Notifier,
  ) {}

  @Query(() => NotifyChannelsType, { description: "the config's and the team's channels, and the caller's own" })
  notifyChannels(@Context() context: GraphQLContext) {
    const principal = signedIn(context.reply.request);
    return this.channels.list(principal.userId, principal.role !== null && roleHas(principal.role, 'notify.manage'));
  }

  @Mutation(() => NotifyChannelType, { description: "a channel of the caller's own" })
  createNotifyChannel(@Context() context: GraphQLContext, @Args('input') input: NotifyChannelInput) {
    return this.channels.create(this.owner(context), parse(createChannelSchema, present(input), 'input'), this.actor(context));
  }

  @Mutation(() => NotifyChannelType)
  updateNotifyChannel(@Context() context: GraphQLContext, @Args('id') id: string, @Args('input') input: NotifyChannelChange) {
    return this.channels.update(this.owner(context), parse(channelIdParam, id, 'id'), change(input), this.actor(context));
  }

  @Mutation(() => Boolean)
  async deleteNotifyChannel(@Context() context: GraphQLContext, @Args('id') id: string): Promise<boolean> {
    await this.channels.remove(this.owner(context), parse(channelIdParam, id, 'id'));
    return true;
  }

  @Mutation(() => NotifyTestType, { description: 'sends one message to the channel now' })
  async testNotifyChannel(@Context() context: GraphQLContext, @Args('id') id: string) {
    const recipient = await this.channels.recipient(this.owner(context), parse(channelIdParam, id, 'id'));
    return testAnswer(await this.notifier.test(recipient, this.actor(context)), recipient.channel, signedIn(context.reply.request));
  }

  @Mutation(() => NotifyChannelType, { description: "confirms an address of the caller's own email channel with the code mailed there" })
  confirmNotifyAddress(@Context() context: GraphQLContext, @Args('id') id: string, @Args('address') address: string, @Args('code') code: string) {
    const input = parse(confirmAddressSchema, { address, code });
    return this.channels.confirmAddress(this.owner(context), parse(channelIdParam, id, 'id'), input.address, input.code);
  }

  @Mutation(() => NotifyCodeMailType, { description: "mails a new code to an unconfirmed address of the caller's own email channel (one a minute)" })
  sendNotifyAddressCode(@Context() context: GraphQLContext, @Args('id') id: string, @Args('address') address: string) {
    return this.channels.sendCode(this.owner(context), parse(channelIdParam, id, 'id'), parse(codeRequestSchema, { address }).address, this.actor(context));
  }

  @Mutation(() => NotifyChannelType)
  createTeamNotifyChannel(@Context() context: GraphQLContext, @Args('input') input: NotifyChannelInput) {
    return this.channels.create(null, parse(createChannelSchema, present(input), 'input'), this.actor(context));
  }

  @Mutation(() => NotifyChannelType)
  updateTeamNotifyChannel(@Context() context: GraphQLContext, @Args('id') id: string, @Args('input') input: NotifyChannelChange) {
    return this.channels.update(null, parse(channelIdParam, id, 'id'), change(input), this.actor(context));
  }

  @Mutation(() => NotifyChannelType)
  confirmTeamNotifyAddress(@Args('id') id: string, @Args('address') address: string, @Args('code') code: string) {
    const input = parse(confirmAddressSchema, { address, code });
    return this.channels.confirmAddress(null, parse(channelIdParam, id, 'id'), input.address, input.code);
  }

  @Mutation(() => NotifyCodeMailType)
  sendTeamNotifyAddressCode(@Context() context: GraphQLContext, @Args('id') id: string, @Args('address') address: string) {
    return this.channels.sendCode(null, parse(channelIdParam, id, 'id'), parse(codeRequestSchema, { address }).address, this.actor(context));
  }

  @Mutation(() => Boolean)
  async deleteTeamNotifyChannel(@Args('id') id: string): Promise<boolean> {
    await this.channels.remove(null, parse(channelIdParam, id, 'id'));
    return true;
  }

  @Mutation(() => NotifyTestType)
  async testTeamNotifyChannel(@Context() context: GraphQLContext, @Args('id') id: string) {
    const recipient = await this.channels.recipient(null, parse(channelIdParam, id, 'id'));
    return testAnswer(await this.notifier.test(recipient, this.actor(context)), recipient.channel, signedIn(context.reply.request));
  }

  private owner(context: GraphQLContext): string {
    return ownUserId(signedIn(context.reply.request));
  }

  private actor(context: GraphQLContext): string {
    return actorName(signedIn(context.reply.request));
  }
}
