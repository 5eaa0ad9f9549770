import { Module, type OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiTokenGate } from '../common/api-token-gate.js';
import { ApiTokenEntity } from './api-token.entity.js';
import { TokensController } from './tokens.controller.js';
import { TokensResolver } from './tokens.resolver.js';
import { TokensService } from './tokens.service.js';

/**
 * API tokens for programs (an app's container gets one, never the admin token). Always on, whatever
 * `modules` says: the modules that open routes to tokens (storage) declare them on the ApiTokenGate.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ApiTokenEntity])],
  controllers: [TokensController],
  providers: [TokensService, TokensResolver],
  // The deploy agent gives each container a storage token confined to its app.
  exports: [TokensService],
})
export class TokensModule implements OnModuleInit {
  constructor(
    private readonly gate: ApiTokenGate,
    private readonly tokens: TokensService,
  ) {}

  onModuleInit(): void {
    this.gate.useLookup(this.tokens);
  }
}
