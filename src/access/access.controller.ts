import { Controller, Get } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { AccessGuard } from './access.guard.js';
import { GRAPHQL_FIELDS, PERMISSIONS, ROLE_PERMISSIONS, routeRequirement } from './permissions.js';

/**
 * The permission table as this process applies it: every route Fastify serves and every GraphQL root field
 * of the schema, each with what it requires (null: no entry, so refused). The role-matrix test is generated
 * from it; the console may read it too.
 */
@Controller('access')
export class AccessController {
  constructor(
    private readonly guard: AccessGuard,
    private readonly moduleRef: ModuleRef,
  ) {}

  @Get('table')
  table() {
    const routes = this.guard.routes().map(({ method, path }) => ({ method, path, requires: routeRequirement(method, path) ?? null }));
    const schema = this.moduleRef.get(GraphQLSchemaHost, { strict: false }).schema;
    const graphql = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((type) =>
      type ? Object.keys(type.getFields()).map((name) => ({ field: `${type.name}.${name}`, requires: GRAPHQL_FIELDS[`${type.name}.${name}`] ?? null })) : [],
    );
    return { permissions: PERMISSIONS, roles: ROLE_PERMISSIONS, routes, graphql };
  }
}
