import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { smtpEnv, startSmtpReceiver, type SmtpReceiver } from '../support/smtp-receiver.js';
import { createUser, logIn, open, shoot } from './console-helpers.js';

const PASSWORD = 'correct horse battery staple';

describe('the console: a person picks their own notification channels', { timeout: 180_000 }, () => {
  let receiver: SmtpReceiver;
  let dozen: DozenProcess;
  let browser: Browser;

  before(async () => {
    receiver = await startSmtpReceiver();
    const channels = [{ name: 'ops-hook', type: 'webhook', url: 'http://127.0.0.1:9/hook', events: ['module.down'] }];
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry', DOZEN_NOTIFY_CHANNELS: JSON.stringify(channels), ...smtpEnv(receiver) } });
    browser = await launchChromium();
    await createUser(dozen, 'viv', 'viewer', PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await dozen?.stop();
    await receiver?.stop();
  });

  it('a viewer adds an email channel, confirms its address with the code mailed there, picks events, sends a test message that reaches the SMTP receiver; a bad address or code is shown at its field', async () => {
    const { context, page } = await logIn(browser, dozen, 'viv', PASSWORD);
    await open(page, '/notifications');
    await page.waitForSelector('[data-testid=personal] .empty');
    assert.match(await page.innerText('[data-testid=team]'), /ops-hook[\s\S]*read-only/);
    assert.equal(await page.$('[data-testid=add-team]'), null, 'a viewer is offered no team channel form');

    const form = page.locator('[data-testid=add-personal] form');
    await form.locator('input[name=name]').fill('my mail');
    await form.locator('select[name=type]').selectOption('email');
    await form.locator('input[name=to]').fill('viv at example');
    await form.locator('button[type=submit]').click();
    const invalid = await page.waitForSelector('[data-testid=add-personal] [data-field=to] [role=alert]');
    assert.match(await invalid.innerText(), /email address/);

    await form.locator('input[name=to]').fill('viv@example.com');
    await form.locator('input[name="deploy.failed"]').check();
    await form.locator('button[type=submit]').click();
    const row = page.locator('[data-testid=personal] [data-channel="my mail"]');
    await row.waitFor();
    assert.equal(await row.locator('input[name="deploy.failed"]').isChecked(), true);
    assert.equal(await row.locator('input[name="host.silent"]').isChecked(), false);
    await row.locator('input[name="host.silent"]').check();
    await row.locator('[role=status]').waitFor();

    // The address gets nothing until the code mailed there is entered: a wrong one is shown at its field.
    const pending = row.locator('[data-unconfirmed="viv@example.com"]');
    await pending.waitFor();
    const confirmation = await waitFor('the confirmation code at the receiver', async () => receiver.messages.find((message) => message.to.includes('viv@example.com') && message.subject.endsWith('for notifications')), 15_000);
    const code = /: (\d{4}-\d{4})\n/.exec(confirmation.text)![1];
    await pending.locator('input[name=code]').fill('0000-000');
    await pending.locator('button[data-action=confirm]').click();
    assert.match(await (await page.waitForSelector('[data-unconfirmed="viv@example.com"] [data-field=code] [role=alert]')).innerText(), /8-digit code/);
    await pending.locator('input[name=code]').fill(code);
    await pending.locator('button[data-action=confirm]').click();
    await pending.waitFor({ state: 'detached' });

    await row.locator('button[data-action=test]').click();
    await row.locator('[data-test-result=delivered]').waitFor();
    const mail = await waitFor('the test message at the receiver', async () => receiver.messages.find((message) => message.to.includes('viv@example.com') && message.subject.endsWith('test my mail')), 15_000);
    assert.match(mail.subject, /\] test my mail$/);
    assert.match(mail.text, /sent by viv/);
    await shoot(page, 'notifications');

    // On a phone, in 简体中文: the same page, nothing wider than the screen.
    const phone = await browser.newContext({ locale: 'zh-CN', viewport: { width: 375, height: 740 }, storageState: await context.storageState() });
    const small = await phone.newPage();
    await small.goto(dozen.url + '/console/notifications');
    await small.waitForSelector('[data-channel="my mail"]');
    assert.match(await small.innerText('main'), /我的通知渠道[\s\S]*主机失联/);
    const overflow = (await small.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the phone`);
    assert.equal(await small.locator('[data-channel="my mail"] input[name="host.silent"]').isChecked(), true, 'the choice was stored');
    await shoot(small, 'notifications-phone-zh');
    await phone.close();
    await context.close();
  });
});
