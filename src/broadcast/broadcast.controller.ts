import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ZodPipe } from '../common/zod-pipe.js';
import { BinlogSource } from './binlog/binlog.source.js';
import { BroadcastService } from './broadcast.service.js';

const publishBody = z.strictObject({ data: z.unknown().refine((value) => value !== undefined, 'required') });
const historyQuery = z.strictObject({ since: z.coerce.number().int().min(0).default(0), epoch: z.string().min(1).max(64).optional() });

/** REST for programs: publish into a room, list rooms, read a room's history. Behind the admin token. */
@Controller('broadcast')
export class BroadcastController {
  constructor(
    private readonly broadcast: BroadcastService,
    private readonly binlog: BinlogSource,
  ) {}

  /** 201 with {room, seq, ts}; a retry with the same Idempotency-Key within 5 minutes answers 200 with the first result and `duplicate: true`. */
  @Post('rooms/:room/messages')
  @HttpCode(201)
  async publish(
    @Param('room') room: string,
    @Body(new ZodPipe(publishBody)) body: z.output<typeof publishBody>,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.broadcast.publish(room, body.data, idempotencyKey || undefined);
    if (result.duplicate) void reply.status(200);
    return result;
  }

  @Get('rooms')
  rooms() {
    return { rooms: this.broadcast.rooms() };
  }

  @Get('rooms/:room/history')
  async history(@Param('room') room: string, @Query(new ZodPipe(historyQuery)) query: z.output<typeof historyQuery>) {
    return this.broadcast.history(room, query.since, query.epoch);
  }

  /** After a purged binlog: forget the saved position and read from the server's current end (changes in between are skipped). */
  @Post('binlog/reset')
  @HttpCode(200)
  async resetBinlog() {
    await this.binlog.reset();
    return { status: this.binlog.status, position: this.binlog.position() };
  }
}
