import { Body, Controller, Delete, Get, Param, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { principalOf } from '../common/principal.js';
import { refusePersonalTokenMaker } from '../common/token-maker.js';
import { ZodPipe } from '../common/zod-pipe.js';
import { createTokenSchema, tokenIdParam, type CreateTokenInput } from './dto/tokens.dto.js';
import { TokensService } from './tokens.service.js';

/** REST for API tokens (admin token only: no API token reaches /tokens). */
@Controller('tokens')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  /** 201 with `token`: the only answer that ever contains it. An admin's personal token may not make one. */
  @Post()
  create(@Req() request: FastifyRequest, @Body(new ZodPipe(createTokenSchema)) input: CreateTokenInput) {
    refusePersonalTokenMaker(principalOf(request.raw), 'API tokens');
    return this.tokens.create(input);
  }

  @Get()
  async list() {
    return { tokens: await this.tokens.list() };
  }

  @Delete(':id')
  revoke(@Param('id', new ZodPipe(tokenIdParam, 'id')) id: string) {
    return this.tokens.revoke(id);
  }
}
