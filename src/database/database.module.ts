import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DozenConfig } from '../config/config.schema.js';
import { DOZEN_CONFIG } from '../config/config.module.js';
import { dataSourceOptions } from './data-source.js';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [DOZEN_CONFIG],
      useFactory: (config: DozenConfig) => ({ ...dataSourceOptions(config), migrationsRun: true, autoLoadEntities: true }),
    }),
  ],
})
export class DatabaseModule {}
