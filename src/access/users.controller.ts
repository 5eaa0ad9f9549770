import { Body, Controller, Get, Param, Patch, Post, Put, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { principalOf } from '../common/principal.js';
import { refusePersonalTokenMaker } from '../common/token-maker.js';
import { ZodPipe } from '../common/zod-pipe.js';
import { createUserSchema, passwordSchema, updateUserSchema, userName, type CreateUserInput, type UpdateUserInput } from './dto/access.dto.js';
import { LoginLimiter } from './login-limiter.js';
import { UsersService } from './users.service.js';

/** REST for users (admins; `dozen user` speaks to it). */
@Controller('users')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly limiter: LoginLimiter,
  ) {}

  @Post()
  create(@Body(new ZodPipe(createUserSchema)) input: CreateUserInput, @Req() request: FastifyRequest) {
    refusePersonalTokenMaker(principalOf(request.raw), 'users');
    return this.users.create(input);
  }

  @Get()
  async list() {
    return { users: await this.users.list() };
  }

  /** `{role}` and/or `{disabled}`; enabling a user also ends its login lockout. */
  @Patch(':name')
  async update(@Param('name', new ZodPipe(userName, 'name')) name: string, @Body(new ZodPipe(updateUserSchema)) input: UpdateUserInput) {
    const user = await this.users.update(name, input);
    if (input.disabled === false) await this.limiter.release(name);
    return user;
  }

  /** Sets a new password, ends the user's sessions and its login lockout. */
  @Put(':name/password')
  async setPassword(@Param('name', new ZodPipe(userName, 'name')) name: string, @Body(new ZodPipe(passwordSchema)) input: { password: string }, @Req() request: FastifyRequest) {
    refusePersonalTokenMaker(principalOf(request.raw), 'passwords');
    const user = await this.users.setPassword(name, input.password);
    await this.limiter.release(name);
    return user;
  }
}
