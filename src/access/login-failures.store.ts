import { InjectRepository } from '@nestjs/typeorm';
import { Injectable } from '@nestjs/common';
import { LessThan, type Repository } from 'typeorm';
import { LoginFailureEntity } from './access.entity.js';
import type { FailureStore, Failures } from './login-limiter.js';

/** How often rows of names that stopped failing are swept away. */
const SWEEP_EVERY_MS = 60_000;

/**
 * Per-user login failures in dozen's database, so that a person's lockout holds on every host and an
 * attacker gets no more guesses by spreading them over hosts. Increments are single UPDATEs, so two
 * hosts counting at once lose no failure.
 */
@Injectable()
export class DatabaseFailureStore implements FailureStore {
  private sweptAt = 0;

  constructor(@InjectRepository(LoginFailureEntity) private readonly rows: Repository<LoginFailureEntity>) {}

  async get(name: string): Promise<Failures | undefined> {
    return (await this.rows.findOneBy({ name })) ?? undefined;
  }

  async add(name: string, now: number, forgetBefore: number): Promise<Failures> {
    await this.sweep(now, forgetBefore);
    for (let attempt = 0; ; attempt++) {
      const counted = await this.rows
        .createQueryBuilder()
        .update()
        .set({ count: () => 'CASE WHEN last_at < :forgetBefore THEN 1 ELSE count + 1 END', lastAt: now })
        .where('name = :name', { name, forgetBefore })
        .execute();
      if (counted.affected) break;
      try {
        await this.rows.insert({ name, count: 1, lastAt: now, lockedUntil: 0 });
        break;
      } catch (error) {
        // Another host inserted the row first: count on it.
        if (attempt > 0) throw error;
      }
    }
    // Read after the increment: it may hold other hosts' increments made since, never fewer than this one's.
    return await this.rows.findOneByOrFail({ name });
  }

  async uncount(name: string): Promise<void> {
    await this.rows
      .createQueryBuilder()
      .update()
      .set({ count: () => 'CASE WHEN count > 0 THEN count - 1 ELSE 0 END' })
      .where('name = :name', { name })
      .execute();
  }

  async lock(name: string, until: number): Promise<void> {
    await this.rows.update({ name }, { lockedUntil: until });
  }

  async delete(name: string): Promise<void> {
    await this.rows.delete({ name });
  }

  /** Names tried a few times and then left alone would otherwise stay forever. */
  private async sweep(now: number, forgetBefore: number): Promise<void> {
    if (now - this.sweptAt < SWEEP_EVERY_MS) return;
    this.sweptAt = now;
    await this.rows.delete({ lastAt: LessThan(forgetBefore), lockedUntil: LessThan(now) });
  }
}
