import { Field, Float, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { BinlogSource } from './binlog/binlog.source.js';

@ObjectType('BinlogStatus', { description: 'The MySQL/MariaDB binlog source of this host' })
class BinlogStatusType {
  @Field({ description: 'off, reading, losing, ... (as in /broadcast/health)' }) status!: string;
  @Field(() => String, { nullable: true }) problem!: string | null;
  @Field(() => String, { nullable: true }) advice!: string | null;
  @Field(() => String, { nullable: true, description: 'binlog file published up to' }) file!: string | null;
  @Field(() => Float, { nullable: true }) position!: number | null;
}

/** The console's Broadcast page: where the binlog source stands. */
@Resolver()
export class BinlogStatusResolver {
  constructor(private readonly binlog: BinlogSource) {}

  @Query(() => BinlogStatusType)
  binlogStatus(): BinlogStatusType {
    const position = this.binlog.position();
    return { status: this.binlog.status, problem: this.binlog.problem, advice: this.binlog.advice, file: position?.file ?? null, position: position?.pos ?? null };
  }
}
