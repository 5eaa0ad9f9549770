import { Global, Inject, Module, type DynamicModule } from '@nestjs/common';
import type { DozenConfig } from './config.schema.js';

export const DOZEN_CONFIG = Symbol('DOZEN_CONFIG');

/** Injects the validated config object: `constructor(@InjectConfig() config: DozenConfig)`. */
export const InjectConfig = () => Inject(DOZEN_CONFIG);

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: DozenConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: DOZEN_CONFIG, useValue: config }], exports: [DOZEN_CONFIG] };
  }
}
