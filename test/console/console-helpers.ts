import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { REPO, type DozenProcess } from '../support/dozen-process.js';

/** Screenshots of every page the tests visit: test artifacts (the README shows copies under docs/). */
export const ARTIFACTS = join(REPO, '.tmp', 'console-screenshots');

export async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** GraphQL with the admin token (the API, not the page); fails the test on any error. */
export async function adminGql<T = Record<string, unknown>>(dozen: DozenProcess, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await dozen.api('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as { data: T; errors?: unknown };
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

export async function createUser(dozen: DozenProcess, name: string, role: string, password: string): Promise<void> {
  await adminGql(dozen, 'mutation ($name: String!, $role: String!, $password: String!) { createUser(name: $name, role: $role, password: $password) { name } }', { name, role, password });
}

/** The CSP refusals Chromium reports on `page`'s console, as they come. */
export function cspViolations(page: Page): string[] {
  const refused: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) refused.push(`${page.url()}: ${message.text()}`);
  });
  return refused;
}

/**
 * A fresh browser context (its own cookies), logged in through the console's login form. `enforceCsp`: keep
 * the console's Content-Security-Policy in force; by default it is bypassed, since Playwright's
 * `waitForFunction` compiles its predicate in the page, which `script-src 'self'` rightly refuses.
 */
export async function logIn(browser: Browser, dozen: DozenProcess, name: string, password: string, locale = 'en-US', enforceCsp = false): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ locale, viewport: { width: 1280, height: 900 }, bypassCSP: !enforceCsp });
  const page = await context.newPage();
  await page.goto(dozen.url + '/');
  await page.fill('input[name=username]', name);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=me]');
  return { context, page };
}

/** Goes to a console page through its navigation link (client-side, as a user clicks). */
export async function open(page: Page, path: string): Promise<void> {
  await page.click(`header nav a[href="/console${path}"]`);
  await page.waitForSelector(`main[data-page="${path.slice(1).split('/')[0]}"]`);
}
