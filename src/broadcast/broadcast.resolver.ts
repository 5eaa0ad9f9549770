import { Field, Int, ObjectType, Query, Resolver, Subscription } from '@nestjs/graphql';
import { latestIterator, throttled } from '../common/push-iterators.js';
import { BroadcastService } from './broadcast.service.js';

/** Room lists are pushed at most this often: a busy room changes many times a second. */
const PUSH_EVERY_MS = 250;

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

  @Subscription(() => [RoomType], { description: 'The rooms now, then after every join, leave or message (at most 4 pushes a second)', resolve: (value: RoomType[]) => value })
  roomsChanged(): AsyncIterableIterator<RoomType[]> {
    return latestIterator<RoomType[]>((push) => {
      const refresh = throttled(() => push(this.broadcast.rooms()), PUSH_EVERY_MS);
      const unwatch = this.broadcast.hub.onChange(refresh.trigger);
      return () => {
        refresh.cancel();
        unwatch();
      };
    }, this.broadcast.rooms());
  }
}
