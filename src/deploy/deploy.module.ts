import { Module } from '@nestjs/common';
import { moduleHealthController } from '../common/module-health.controller.js';
import { DeployHealth } from './deploy.health.js';

@Module({ controllers: [moduleHealthController('deploy')], providers: [DeployHealth] })
export class DeployModule {}
