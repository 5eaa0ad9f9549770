import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { principalOf } from '../common/principal.js';
import { refusePersonalTokenMaker } from '../common/token-maker.js';
import { ZodPipe } from '../common/zod-pipe.js';
import { appParam, createKeySchema, keyIdParam, type CreateKeyInput } from './dto/proxy.dto.js';
import { policyInputSchema, type PolicyInput } from './policy.js';
import { ProxyPolicyService } from './proxy-policy.service.js';

/** REST for programs: an app's balancer and auth policy, and its API keys. */
@Controller('proxy/apps/:app')
export class ProxyController {
  constructor(private readonly policies: ProxyPolicyService) {}

  @Get('policy')
  policy(@Param('app', new ZodPipe(appParam, 'app')) app: string) {
    return this.policies.policy(app);
  }

  @Put('policy')
  setPolicy(@Param('app', new ZodPipe(appParam, 'app')) app: string, @Body(new ZodPipe(policyInputSchema)) input: PolicyInput) {
    return this.policies.setPolicy(app, input);
  }

  @Delete('policy')
  @HttpCode(204)
  async resetPolicy(@Param('app', new ZodPipe(appParam, 'app')) app: string): Promise<void> {
    await this.policies.resetPolicy(app);
  }

  /** 201 with `key`: the only response that ever contains it. */
  @Post('keys')
  createKey(@Param('app', new ZodPipe(appParam, 'app')) app: string, @Body(new ZodPipe(createKeySchema)) input: CreateKeyInput, @Req() request: FastifyRequest) {
    refusePersonalTokenMaker(principalOf(request.raw), 'proxy API keys');
    return this.policies.createKey(app, input.name);
  }

  @Get('keys')
  keys(@Param('app', new ZodPipe(appParam, 'app')) app: string) {
    return this.policies.listKeys(app);
  }

  @Delete('keys/:id')
  revokeKey(@Param('app', new ZodPipe(appParam, 'app')) app: string, @Param('id', new ZodPipe(keyIdParam, 'id')) id: string) {
    return this.policies.revokeKey(app, id);
  }
}
