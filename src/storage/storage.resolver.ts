import { Args, Field, Float, Int, Mutation, ObjectType, Parent, Query, ResolveField, Resolver, Subscription } from '@nestjs/graphql';
import { BadInput } from '../common/errors.js';
import { latestIterator, throttled } from '../common/push-iterators.js';
import { assertSafeKey, BadKey, type ObjectInfo } from './object-store.js';
import { StorageService } from './storage.service.js';
import { TailerService } from './tailer/tailer.service.js';

/** HEADs run at most this many at a time when a page asks for crc64 or contentType. */
const HEAD_CONCURRENCY = 8;
/** The tailer's status is pushed at most this often (it changes on every poll of a growing file). */
const PUSH_EVERY_MS = 250;

@ObjectType('StorageObject', { description: 'An object in the configured store' })
class StorageObjectType {
  @Field() key!: string;
  @Field(() => Float, { description: 'bytes' }) size!: number;
  @Field() etag!: string;
  @Field({ description: 'last modified, ISO 8601' }) modified!: string;
}

@ObjectType('StorageObjectPage')
class StorageObjectPageType {
  @Field(() => [StorageObjectType], { description: 'in key order' }) objects!: StorageObjectType[];
  @Field(() => String, { nullable: true, description: 'pass as cursor for the next page; null on the last page' }) nextCursor!: string | null;
}

@ObjectType('StorageTailFile', { description: 'A log file the tailer follows' })
class TailFileType {
  @Field() path!: string;
  @Field({ description: 'the configured glob it matched' }) source!: string;
  @Field(() => String, { nullable: true, description: 'the object its lines go to now' }) objectKey!: string | null;
  @Field(() => Float, { description: 'bytes of the file confirmed in the store' }) offset!: number;
  @Field(() => Float) size!: number;
  @Field(() => Float) lagBytes!: number;
  @Field(() => Float, { description: 'age of the oldest unshipped bytes' }) lagSeconds!: number;
  @Field({ description: 'renamed away; read to its end, then dropped' }) rotated!: boolean;
  @Field(() => String, { nullable: true, description: 'why the last write to the store failed; null once one succeeds' }) lastError!: string | null;
  @Field(() => String, { nullable: true, description: "the day's object that took no more appends and why; objectKey is its continuation" }) continued!: string | null;
}

@ObjectType('StorageTailStatus')
class TailStatusType {
  @Field({ description: 'false when storage.tail lists no files' }) enabled!: boolean;
  @Field({ description: 'false while the last write to the store failed' }) storeUp!: boolean;
  @Field(() => Float) lagBytes!: number;
  @Field(() => Float) lagSeconds!: number;
  @Field(() => [TailFileType]) files!: TailFileType[];
}

/** An object as resolved: what the listing said, and the HEAD (fetched once, only if asked) for what it did not. */
interface ObjectView extends StorageObjectType {
  details(): Promise<ObjectInfo | null>;
}

/** GraphQL for people (the console): browse and delete objects, watch the tailer. REST has the same under /storage. */
@Resolver(() => StorageObjectType)
export class StorageResolver {
  constructor(
    private readonly storage: StorageService,
    private readonly tailer: TailerService,
  ) {}

  @Query(() => StorageObjectPageType, { description: 'Objects whose key starts with prefix, one page at a time' })
  async objects(
    @Args('prefix', { defaultValue: '' }) prefix: string,
    @Args('cursor', { type: () => String, nullable: true }) cursor: string | null,
    @Args('limit', { type: () => Int, defaultValue: 100 }) limit: number,
  ): Promise<{ objects: ObjectView[]; nextCursor: string | null }> {
    if (limit < 1 || limit > 1000) throw new BadInput('limit', 'must be an integer from 1 to 1000');
    const page = await this.storage.list(prefix, cursor || undefined, limit);
    const limited = limiter(HEAD_CONCURRENCY);
    return {
      objects: page.objects.map((object) => ({
        key: object.key,
        size: object.size,
        etag: object.etag,
        modified: object.modified.toISOString(),
        details: once(() => limited(() => this.storage.head(object.key))),
      })),
      nextCursor: page.nextCursor ?? null,
    };
  }

  @Query(() => StorageObjectType, { nullable: true, description: 'One object; null when there is none' })
  async object(@Args('key') key: string): Promise<ObjectView | null> {
    const info = await this.storage.head(checkedKey(key));
    if (!info) return null;
    return { key: info.key, size: info.size, etag: info.etag, modified: info.modified.toISOString(), details: async () => info };
  }

  @ResolveField(() => String, { nullable: true, description: 'CRC-64/ECMA-182 of the whole object, decimal; on a page, one HEAD per object' })
  async crc64(@Parent() object: ObjectView): Promise<string | null> {
    return (await object.details())?.crc64 || null;
  }

  @ResolveField(() => String, { nullable: true, description: 'on a page, one HEAD per object' })
  async contentType(@Parent() object: ObjectView): Promise<string | null> {
    return (await object.details())?.contentType ?? null;
  }

  @Query(() => TailStatusType, { description: 'The files the tailer follows, their saved offsets and lag' })
  tailStatus(): TailStatusType {
    return this.tailer.status();
  }

  @Subscription(() => TailStatusType, { description: "The tailer's status now, then after every change (a file grown, shipped, found, failing), at most 4 pushes a second", resolve: (value: TailStatusType) => value })
  tailStatusChanged(): AsyncIterableIterator<TailStatusType> {
    return latestIterator<TailStatusType>((push) => {
      const refresh = throttled(() => push(this.tailer.status()), PUSH_EVERY_MS);
      const unwatch = this.tailer.onChange(refresh.trigger);
      return () => {
        refresh.cancel();
        unwatch();
      };
    }, this.tailer.status());
  }

  @Mutation(() => Boolean, { description: 'Removes the object; true also when there was none' })
  async deleteObject(@Args('key') key: string): Promise<boolean> {
    await this.storage.delete(checkedKey(key));
    return true;
  }
}

/** The key rules of every store, as a GraphQL error naming the argument. */
function checkedKey(key: string): string {
  try {
    assertSafeKey(key);
  } catch (error) {
    if (error instanceof BadKey) throw new BadInput('key', error.message);
    throw error;
  }
  return key;
}

function once<T>(compute: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | null = null;
  return () => (result ??= compute());
}

/** Runs tasks with at most `concurrency` of them in flight. */
function limiter(concurrency: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    while (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
