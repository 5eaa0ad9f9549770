import { Injectable, type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { badInputFromZod } from './errors.js';

/** Validates a handler argument with a zod schema: `@Body(new ZodPipe(registerSchema))`. Bad input -> 400 naming the field. */
@Injectable()
export class ZodPipe<T extends z.ZodType> implements PipeTransform<unknown, z.output<T>> {
  constructor(
    private readonly schema: T,
    private readonly prefix = '',
  ) {}
  transform(value: unknown): z.output<T> {
    const result = this.schema.safeParse(value);
    if (!result.success) throw badInputFromZod(result.error, this.prefix);
    return result.data;
  }
}
