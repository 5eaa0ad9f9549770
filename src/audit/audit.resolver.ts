import { Args, Field, InputType, Int, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { badInputFromZod } from '../common/errors.js';
import { auditFilterSchema } from './audit.dto.js';
import { AuditTrail } from './audit-trail.service.js';

@ObjectType('AuditEvent', { description: 'one mutation of any module' })
class AuditEventType {
  @Field() id!: string;
  @Field() at!: string;
  @Field() module!: string;
  @Field({ description: 'a user name, admin-token, token:<id> (a storage API token), or dozen' }) actor!: string;
  @Field() action!: string;
  @Field() target!: string;
  @Field({ description: 'JSON' }) detail!: string;
  @Field(() => String, { nullable: true }) address!: string | null;
  @Field({ description: 'ok, refused or failed' }) outcome!: string;
}

@InputType('AuditFilter')
class AuditFilterInput {
  @Field({ nullable: true }) module?: string;
  @Field({ nullable: true }) actor?: string;
  @Field({ nullable: true, description: 'exact, or a prefix ending in *' }) action?: string;
  @Field({ nullable: true, description: 'ok, refused or failed' }) outcome?: string;
  @Field({ nullable: true, description: 'ISO 8601' }) since?: string;
  @Field({ nullable: true, description: 'ISO 8601' }) until?: string;
  @Field(() => Int, { nullable: true, description: '1-1000, default 100' }) limit?: number;
  @Field(() => Int, { nullable: true }) offset?: number;
}

@Resolver()
export class AuditResolver {
  constructor(private readonly trail: AuditTrail) {}

  @Query(() => [AuditEventType], { description: 'the audit trail, newest first' })
  async auditEvents(@Args('filter', { type: () => AuditFilterInput, nullable: true }) filter?: AuditFilterInput | null): Promise<AuditEventType[]> {
    const defined = Object.fromEntries(Object.entries(filter ?? {}).filter(([, value]) => value !== null && value !== undefined));
    const parsed = auditFilterSchema.safeParse(defined);
    if (!parsed.success) throw badInputFromZod(parsed.error, 'filter');
    return (await this.trail.list(parsed.data)).map((event) => ({ ...event, detail: JSON.stringify(event.detail) }));
  }
}
