import { Global, Module } from '@nestjs/common';
import { HealthWatch } from './health-watch.js';
import { Notifier } from './notifier.service.js';

/**
 * Notifications (always on; idle without `notify.channels`): the signed generic JSON webhook and the
 * DingTalk, Feishu/Lark and WeCom robots. Events today: a module went down or came back, a deploy
 * succeeded or failed. Global, so the modules that raise events inject the Notifier.
 */
@Global()
@Module({
  providers: [Notifier, HealthWatch],
  exports: [Notifier],
})
export class NotifyModule {}
