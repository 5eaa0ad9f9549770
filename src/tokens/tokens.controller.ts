import { Body, Controller, Delete, Get, Param, Post } from '@nestjs/common';
import { ZodPipe } from '../common/zod-pipe.js';
import { createTokenSchema, tokenIdParam, type CreateTokenInput } from './dto/tokens.dto.js';
import { TokensService } from './tokens.service.js';

/** REST for API tokens (admin token only: no API token reaches /tokens). */
@Controller('tokens')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  /** 201 with `token`: the only answer that ever contains it. */
  @Post()
  create(@Body(new ZodPipe(createTokenSchema)) input: CreateTokenInput) {
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
