import { Controller, Delete, Get, HttpCode, Param, Post, Req, Res, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AdminAuth } from '../../common/admin-auth.js';
import { ZodPipe } from '../../common/zod-pipe.js';
import { actorOfRequest } from '../actor.js';
import { appName } from '../dto/deploy.dto.js';
import { WebhooksService } from './webhooks.service.js';
import { principalOf } from '../../common/principal.js';
import { refusePersonalTokenMaker } from '../../common/token-maker.js';

const HOOKS = '/deploy/hooks';
/** Deliveries are read as bytes (the HMAC is over the exact body), under a private type only this parser takes. */
const RAW_TYPE = 'application/x-dozen-webhook';
const MAX_DELIVERY_BYTES = 5 * 1024 * 1024;
const deliveredTypes = new WeakMap<object, string | undefined>();

/**
 * `POST /deploy/hooks/<app>`: a git host's push events. Open without the admin
 * token (each app's hook has its own secret, checked by the service); the
 * admin routes under `/deploy/apps/<app>/webhook` create, rotate and remove it.
 */
@Controller('deploy')
export class WebhooksController implements OnModuleInit {
  constructor(
    private readonly webhooks: WebhooksService,
    private readonly adapterHost: HttpAdapterHost,
    adminAuth: AdminAuth,
  ) {
    adminAuth.allowWithoutAdminToken(HOOKS);
  }

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // Fastify would parse JSON (and drop the bytes the signature is over): keep the sender's type aside, take the body raw.
    fastify.addHook('onRequest', async (request) => {
      if (request.method === 'POST' && request.url.startsWith(`${HOOKS}/`)) {
        deliveredTypes.set(request.raw, request.headers['content-type']);
        request.headers['content-type'] = RAW_TYPE;
      }
    });
    fastify.addContentTypeParser(RAW_TYPE, { parseAs: 'buffer', bodyLimit: MAX_DELIVERY_BYTES }, (_request, body, done) => done(null, body));
  }

  @Post('hooks/:app')
  async deliver(@Param('app', new ZodPipe(appName, 'app')) app: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const outcome = await this.webhooks.receive(app, request.headers, body, deliveredTypes.get(request.raw), request.ip ?? null);
    await reply.status(outcome.deployed ? 202 : 200).type('application/json').send(outcome);
  }

  @Post('apps/:app/webhook')
  @HttpCode(201)
  rotate(@Param('app', new ZodPipe(appName, 'app')) app: string, @Req() request: FastifyRequest) {
    refusePersonalTokenMaker(principalOf(request.raw), 'webhook secrets');
    return this.webhooks.rotate(app, actorOfRequest(request));
  }

  @Get('apps/:app/webhook')
  get(@Param('app', new ZodPipe(appName, 'app')) app: string) {
    return this.webhooks.get(app);
  }

  @Delete('apps/:app/webhook')
  @HttpCode(204)
  async remove(@Param('app', new ZodPipe(appName, 'app')) app: string, @Req() request: FastifyRequest): Promise<void> {
    await this.webhooks.remove(app, actorOfRequest(request));
  }
}
