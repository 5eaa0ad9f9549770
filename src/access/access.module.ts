import { Module, type OnModuleInit } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AdminAuth } from '../common/admin-auth.js';
import type { DozenConfig } from '../config/config.schema.js';
import { DOZEN_CONFIG } from '../config/config.module.js';
import { LoginFailureEntity, PersonalTokenEntity, SessionEntity, UserEntity } from './access.entity.js';
import { AccessController } from './access.controller.js';
import { AccessGuard } from './access.guard.js';
import { AccessResolver } from './access.resolver.js';
import { AuthController } from './auth.controller.js';
import { DatabaseFailureStore } from './login-failures.store.js';
import { LoginLimiter } from './login-limiter.js';
import { AccessPeopleLookup } from './people-lookup.js';
import { PersonalTokensService } from './personal-tokens.service.js';
import { SessionsService } from './sessions.service.js';
import { UsersController } from './users.controller.js';
import { UsersService } from './users.service.js';

/**
 * People (always on, whatever `modules` says): users with roles, login sessions, personal API tokens.
 * It hands AdminAuth the lookup that turns a session cookie or a personal token into a caller.
 */
@Module({
  imports: [TypeOrmModule.forFeature([UserEntity, SessionEntity, PersonalTokenEntity, LoginFailureEntity])],
  controllers: [AuthController, UsersController, AccessController],
  providers: [
    UsersService,
    SessionsService,
    PersonalTokensService,
    AccessPeopleLookup,
    AccessResolver,
    AccessGuard,
    { provide: APP_GUARD, useExisting: AccessGuard },
    DatabaseFailureStore,
    { provide: LoginLimiter, inject: [DOZEN_CONFIG, DatabaseFailureStore], useFactory: (config: DozenConfig, users: DatabaseFailureStore) => new LoginLimiter(config.access.login, users) },
  ],
  exports: [UsersService, AccessGuard],
})
export class AccessModule implements OnModuleInit {
  constructor(
    private readonly auth: AdminAuth,
    private readonly people: AccessPeopleLookup,
  ) {}

  onModuleInit(): void {
    this.auth.usePeople(this.people);
    this.auth.allowPath('/auth/login');
    this.auth.allowPath('/auth/logout');
  }
}
