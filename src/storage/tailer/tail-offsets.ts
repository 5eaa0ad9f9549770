import type { Repository } from 'typeorm';
import { TailOffset } from '../storage.entity.js';

/** The tailer's saved progress, one row per followed file, in dozen's database. */
export class TailOffsets {
  constructor(private readonly repository: Repository<TailOffset>) {}

  all(): Promise<TailOffset[]> {
    return this.repository.find();
  }

  get(id: string): Promise<TailOffset | null> {
    return this.repository.findOneBy({ id });
  }

  async save(row: TailOffset): Promise<void> {
    row.updatedAt = new Date().toISOString();
    await this.repository.save(row);
  }

  async remove(id: string): Promise<void> {
    await this.repository.delete({ id });
  }
}
