import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ZodPipe } from '../common/zod-pipe.js';
import { AppsService } from './apps.service.js';
import { actorOfRequest as actorOf } from './actor.js';
import { AuditService } from './audit.service.js';
import {
  appName, auditQuery, createAppSchema, createInstanceSchema, deployBody, domainSchemaBody, envBody, envNameParam, instanceId, instanceQuery,
  releaseId, rollbackBody, scaleBody, secretsBody, tailQuery, updateAppSchema, instanceLogsQuery, type InstanceLogsQuery,
  type CreateAppInput, type UpdateAppInput,
} from './dto/deploy.dto.js';
import { HostsService } from './hosts.service.js';
import { InstancesService } from './instances.service.js';
import { FORWARDED_BY, LiveLogs } from './logs/live-logs.js';
import { ReleasesService } from './releases.service.js';

/** REST for programs and the CLI: apps, releases, instances, hosts, audit (admin token, checked by the AdminAuth hook). */
@Controller('deploy')
export class DeployController {
  constructor(
    private readonly apps: AppsService,
    private readonly releases: ReleasesService,
    private readonly instances: InstancesService,
    private readonly hosts: HostsService,
    private readonly audit: AuditService,
    private readonly liveLogs: LiveLogs,
  ) {}

  @Get('hosts')
  async listHosts() {
    return { hosts: await this.hosts.list() };
  }

  // --- apps ---------------------------------------------------------------

  @Post('apps')
  createApp(@Body(new ZodPipe(createAppSchema)) input: CreateAppInput, @Req() request: FastifyRequest) {
    return this.apps.create(input, actorOf(request));
  }

  @Get('apps')
  async listApps() {
    return { apps: await this.apps.list() };
  }

  @Get('apps/:app')
  getApp(@Param('app', new ZodPipe(appName, 'app')) app: string) {
    return this.apps.get(app);
  }

  @Put('apps/:app')
  updateApp(@Param('app', new ZodPipe(appName, 'app')) app: string, @Body(new ZodPipe(updateAppSchema)) input: UpdateAppInput, @Req() request: FastifyRequest) {
    return this.apps.update(app, input, actorOf(request));
  }

  @Delete('apps/:app')
  @HttpCode(204)
  async deleteApp(@Param('app', new ZodPipe(appName, 'app')) app: string, @Req() request: FastifyRequest): Promise<void> {
    await this.apps.row(app);
    await this.instances.removeAll(app, actorOf(request));
    await this.apps.delete(app, actorOf(request));
  }

  @Post('apps/:app/domains')
  addDomain(@Param('app', new ZodPipe(appName, 'app')) app: string, @Body(new ZodPipe(domainSchemaBody)) body: { domain: string }, @Req() request: FastifyRequest) {
    return this.apps.addDomain(app, body.domain, actorOf(request));
  }

  @Delete('apps/:app/domains/:domain')
  removeDomain(@Param('app', new ZodPipe(appName, 'app')) app: string, @Param('domain') domain: string, @Req() request: FastifyRequest) {
    return this.apps.removeDomain(app, domain.toLowerCase(), actorOf(request));
  }

  @Put('apps/:app/env')
  setEnv(@Param('app', new ZodPipe(appName, 'app')) app: string, @Body(new ZodPipe(envBody)) body: { env: Record<string, string> }, @Req() request: FastifyRequest) {
    return this.apps.setEnv(app, body.env, actorOf(request));
  }

  @Delete('apps/:app/env/:name')
  unsetEnv(@Param('app', new ZodPipe(appName, 'app')) app: string, @Param('name', new ZodPipe(envNameParam, 'name')) name: string, @Req() request: FastifyRequest) {
    return this.apps.unsetEnv(app, name, actorOf(request));
  }

  @Put('apps/:app/secrets')
  setSecrets(@Param('app', new ZodPipe(appName, 'app')) app: string, @Body(new ZodPipe(secretsBody)) body: { secrets: Record<string, string> }, @Req() request: FastifyRequest) {
    return this.apps.setSecrets(app, body.secrets, actorOf(request));
  }

  @Delete('apps/:app/secrets/:name')
  unsetSecret(@Param('app', new ZodPipe(appName, 'app')) app: string, @Param('name', new ZodPipe(envNameParam, 'name')) name: string, @Req() request: FastifyRequest) {
    return this.apps.unsetSecret(app, name, actorOf(request));
  }

  // --- releases -----------------------------------------------------------

  @Post('apps/:app/deploy')
  @HttpCode(202)
  deploy(@Param('app', new ZodPipe(appName, 'app')) app: string, @Body(new ZodPipe(deployBody)) body: { ref?: string }, @Req() request: FastifyRequest) {
    return this.releases.deploy(app, body.ref, actorOf(request));
  }

  @Post('apps/:app/rollback')
  rollback(@Param('app', new ZodPipe(appName, 'app')) app: string, @Body(new ZodPipe(rollbackBody)) body: { release?: string }, @Req() request: FastifyRequest) {
    return this.releases.rollback(app, body.release, actorOf(request));
  }

  @Post('apps/:app/scale')
  async scale(@Param('app', new ZodPipe(appName, 'app')) app: string, @Body(new ZodPipe(scaleBody)) body: { host: string; count: number }, @Req() request: FastifyRequest) {
    return { instances: await this.instances.scale(app, body.host, body.count, actorOf(request)) };
  }

  @Get('apps/:app/releases')
  async listReleases(@Param('app', new ZodPipe(appName, 'app')) app: string) {
    return { releases: await this.releases.list(app) };
  }

  @Get('releases/:id')
  getRelease(@Param('id', new ZodPipe(releaseId, 'id')) id: string) {
    return this.releases.get(id);
  }

  @Post('releases/:id/cancel')
  cancelRelease(@Param('id', new ZodPipe(releaseId, 'id')) id: string, @Req() request: FastifyRequest) {
    return this.releases.cancel(id, actorOf(request));
  }

  /** The build log as text; with follow=1, kept open and streamed while the build runs. */
  @Get('releases/:id/log')
  async releaseLog(@Param('id', new ZodPipe(releaseId, 'id')) id: string, @Query(new ZodPipe(tailQuery)) query: { follow: '0' | '1' }, @Res() reply: FastifyReply): Promise<void> {
    const log = await this.releases.buildLog(id);
    const unsubscribe = query.follow === '1' ? this.releases.follow(id, (line) => (line === null ? reply.raw.end() : reply.raw.write(line + '\n'))) : null;
    if (!unsubscribe) return void reply.type('text/plain; charset=utf-8').send(log);
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    reply.raw.write(log);
    reply.raw.on('close', unsubscribe);
  }

  // --- instances ----------------------------------------------------------

  @Post('instances')
  createInstance(@Body(new ZodPipe(createInstanceSchema)) body: { app: string; host: string }, @Req() request: FastifyRequest) {
    return this.instances.create(body.app, body.host, actorOf(request));
  }

  @Get('instances')
  async listInstances(@Query(new ZodPipe(instanceQuery)) query: { app?: string; host?: string }) {
    return { instances: await this.instances.list(query) };
  }

  @Get('instances/:id')
  getInstance(@Param('id', new ZodPipe(instanceId, 'id')) id: string) {
    return this.instances.get(id);
  }

  @Post('instances/:id/start')
  start(@Param('id', new ZodPipe(instanceId, 'id')) id: string, @Req() request: FastifyRequest) {
    return this.instances.start(id, actorOf(request));
  }

  @Post('instances/:id/stop')
  stop(@Param('id', new ZodPipe(instanceId, 'id')) id: string, @Req() request: FastifyRequest) {
    return this.instances.stop(id, actorOf(request));
  }

  @Post('instances/:id/restart')
  restart(@Param('id', new ZodPipe(instanceId, 'id')) id: string, @Req() request: FastifyRequest) {
    return this.instances.restart(id, actorOf(request));
  }

  @Delete('instances/:id')
  @HttpCode(204)
  async remove(@Param('id', new ZodPipe(instanceId, 'id')) id: string, @Req() request: FastifyRequest): Promise<void> {
    await this.instances.remove(id, actorOf(request));
  }

  /**
   * The container's output (stdout and stderr merged); with follow=1, streamed (format=ndjson: a JSON line
   * per output line, with its stream and time). An instance on another host is asked of that host's dozen.
   */
  @Get('instances/:id/logs')
  async logs(@Param('id', new ZodPipe(instanceId, 'id')) id: string, @Query(new ZodPipe(instanceLogsQuery)) query: InstanceLogsQuery, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const forwardedBy = request.headers[FORWARDED_BY] as string | undefined;
    if (query.follow === '0') return void reply.type('text/plain; charset=utf-8').send(await this.liveLogs.recent(id, query.tail, forwardedBy));
    const asJson = query.format === 'ndjson';
    const stop = await this.liveLogs.follow(id, query.tail, (line) => reply.raw.write(asJson ? JSON.stringify(line) + '\n' : line.text + '\n'), () => reply.raw.end(), forwardedBy);
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': asJson ? 'application/x-ndjson' : 'text/plain; charset=utf-8' });
    reply.raw.on('close', stop);
  }

  @Get('audit')
  async listAudit(@Query(new ZodPipe(auditQuery)) query: { limit: number }) {
    return { events: await this.audit.list(query.limit) };
  }
}
