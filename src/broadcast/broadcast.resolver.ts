import { Field, Int, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { BroadcastService } from './broadcast.service.js';

@ObjectType({ description: 'A broadcast room on this host' })
class RoomType {
  @Field() name!: string;
  @Field(() => Int, { description: 'clients joined on this host' }) subscribers!: number;
  @Field(() => Int, { description: 'the seq of the last message' }) seq!: number;
  @Field({ description: 'the epoch of the seqs: a new one means the stream lost continuity' }) epoch!: string;
}

@Resolver(() => RoomType)
export class BroadcastResolver {
  constructor(private readonly broadcast: BroadcastService) {}

  @Query(() => [RoomType], { description: 'Broadcast rooms with their subscriber counts and last seq' })
  rooms(): RoomType[] {
    return this.broadcast.rooms();
  }
}
