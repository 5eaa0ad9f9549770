import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ownUserId, signedIn } from '../access/auth.controller.js';
import { roleHas } from '../access/permissions.js';
import { actorName, type Principal } from '../common/principal.js';
import { ZodPipe } from '../common/zod-pipe.js';
import { ChannelsService } from './channels.service.js';
import { channelIdParam, codeRequestSchema, confirmAddressSchema, createChannelSchema, updateChannelSchema, type ConfirmAddressInput, type CreateChannelInput, type UpdateChannelInput } from './dto/notify.dto.js';
import type { Attempt } from './mailer.js';
import { Notifier } from './notifier.service.js';
import type { NotifyChannel } from './notify.config.js';

const id = new ZodPipe(channelIdParam, 'id');

/**
 * REST for notification channels. `/notify/channels`: everyone's own (any role; the list also shows the
 * team's and the config's, read-only unless one may manage them); `/notify/team-channels`: the team's (notify.manage).
 */
@Controller('notify')
export class NotifyController {
  constructor(
    private readonly channels: ChannelsService,
    private readonly notifier: Notifier,
  ) {}

  @Get('channels')
  list(@Req() request: FastifyRequest) {
    const principal = signedIn(request);
    return this.channels.list(principal.userId, principal.role !== null && roleHas(principal.role, 'notify.manage'));
  }

  @Post('channels')
  create(@Req() request: FastifyRequest, @Body(new ZodPipe(createChannelSchema)) input: CreateChannelInput) {
    const principal = signedIn(request);
    return this.channels.create(ownUserId(principal), input, actorName(principal));
  }

  @Patch('channels/:id')
  update(@Req() request: FastifyRequest, @Param('id', id) channel: string, @Body(new ZodPipe(updateChannelSchema)) input: UpdateChannelInput) {
    const principal = signedIn(request);
    return this.channels.update(ownUserId(principal), channel, input, actorName(principal));
  }

  @Delete('channels/:id')
  @HttpCode(204)
  async remove(@Req() request: FastifyRequest, @Param('id', id) channel: string): Promise<void> {
    await this.channels.remove(ownUserId(signedIn(request)), channel);
  }

  /** Sends one message now: `{delivered, problem}` (why it was refused, as `testAnswer` tells it). */
  @Post('channels/:id/test')
  @HttpCode(200)
  async test(@Req() request: FastifyRequest, @Param('id', id) channel: string) {
    const principal = signedIn(request);
    const recipient = await this.channels.recipient(ownUserId(principal), channel);
    return testAnswer(await this.notifier.test(recipient, actorName(principal)), recipient.channel, principal);
  }

  /** Confirms an address of one's own email channel with the code mailed there. */
  @Post('channels/:id/confirm')
  @HttpCode(200)
  confirm(@Req() request: FastifyRequest, @Param('id', id) channel: string, @Body(new ZodPipe(confirmAddressSchema)) input: ConfirmAddressInput) {
    return this.channels.confirmAddress(ownUserId(signedIn(request)), channel, input.address, input.code);
  }

  /** Mails a new code to an unconfirmed address of one's own email channel. */
  @Post('channels/:id/code')
  @HttpCode(200)
  sendCode(@Req() request: FastifyRequest, @Param('id', id) channel: string, @Body(new ZodPipe(codeRequestSchema)) input: { address: string }) {
    const principal = signedIn(request);
    return this.channels.sendCode(ownUserId(principal), channel, input.address, actorName(principal));
  }

  @Post('team-channels')
  createTeam(@Req() request: FastifyRequest, @Body(new ZodPipe(createChannelSchema)) input: CreateChannelInput) {
    return this.channels.create(null, input, actorName(signedIn(request)));
  }

  @Patch('team-channels/:id')
  updateTeam(@Req() request: FastifyRequest, @Param('id', id) channel: string, @Body(new ZodPipe(updateChannelSchema)) input: UpdateChannelInput) {
    return this.channels.update(null, channel, input, actorName(signedIn(request)));
  }

  @Post('team-channels/:id/confirm')
  @HttpCode(200)
  confirmTeam(@Param('id', id) channel: string, @Body(new ZodPipe(confirmAddressSchema)) input: ConfirmAddressInput) {
    return this.channels.confirmAddress(null, channel, input.address, input.code);
  }

  @Post('team-channels/:id/code')
  @HttpCode(200)
  sendTeamCode(@Req() request: FastifyRequest, @Param('id', id) channel: string, @Body(new ZodPipe(codeRequestSchema)) input: { address: string }) {
    return this.channels.sendCode(null, channel, input.address, actorName(signedIn(request)));
  }

  @Delete('team-channels/:id')
  @HttpCode(204)
  async removeTeam(@Param('id', id) channel: string): Promise<void> {
    await this.channels.remove(null, channel);
  }

  @Post('team-channels/:id/test')
  @HttpCode(200)
  async testTeam(@Req() request: FastifyRequest, @Param('id', id) channel: string) {
    const principal = signedIn(request);
    const recipient = await this.channels.recipient(null, channel);
    return testAnswer(await this.notifier.test(recipient, actorName(principal)), recipient.channel, principal);
  }
}

/** What a person without notify.manage is told when the URL they chose did not take a test message. */
export const NOT_DELIVERED = "not delivered: the receiver refused it or could not be reached (an admin finds why in dozen's log)";

/**
 * A test message's outcome as the caller sees it. Why it failed is told to those who hold notify.manage,
 * and for email (the operators' SMTP server answers about the address). For a URL anyone else chose it is
 * not: a refused connection, a status or a timeout from an address one picks maps what listens where.
 */
export function testAnswer(attempt: Attempt, channel: NotifyChannel, caller: Principal): { delivered: boolean; problem: string | null } {
  if (attempt === null) return { delivered: true, problem: null };
  const told = channel.type === 'email' || (caller.role !== null && roleHas(caller.role, 'notify.manage'));
  return { delivered: false, problem: told ? attempt.problem : NOT_DELIVERED };
}
