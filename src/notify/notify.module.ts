import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccessModule } from '../access/access.module.js';
import { SecretsBox } from '../common/secrets-box.js';
import type { DozenConfig } from '../config/config.schema.js';
import { DOZEN_CONFIG } from '../config/config.module.js';
import { ChannelsService } from './channels.service.js';
import { ChannelDestinations } from './destinations.js';
import { HealthWatch } from './health-watch.js';
import { MAILER, Mailer } from './mailer.js';
import { Notifier } from './notifier.service.js';
import { NotifyController } from './notify.controller.js';
import { NotifyAddressEntity, NotifyChannelEntity } from './notify.entity.js';
import { EmailConfirmations } from './email-confirmations.js';
import { NotifyResolver } from './notify.resolver.js';

/**
 * Notifications (always on): channels from config and from the database (the team's and each person's
 * own, managed in the console): the signed generic JSON webhook, the DingTalk, Feishu/Lark and WeCom
 * robots, and email over SMTP. Global, so the modules that raise events inject the Notifier.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([NotifyChannelEntity, NotifyAddressEntity]), AccessModule],
  controllers: [NotifyController],
  providers: [
    Notifier,
    HealthWatch,
    ChannelsService,
    EmailConfirmations,
    NotifyResolver,
    { provide: SecretsBox, inject: [DOZEN_CONFIG], useFactory: (config: DozenConfig) => SecretsBox.fromConfig(config) },
    { provide: MAILER, inject: [DOZEN_CONFIG], useFactory: (config: DozenConfig) => (config.notify.smtp ? new Mailer(config.notify.smtp) : null) },
    { provide: ChannelDestinations, inject: [DOZEN_CONFIG], useFactory: (config: DozenConfig) => new ChannelDestinations(config.notify.allowPrivateTargets) },
  ],
  exports: [Notifier],
})
export class NotifyModule {}
