/**
 * `node --import <this file>`: writes `module loaded <url>` to stderr for each
 * proxy engine module the process loads (llhttp.ts, either engine's entry),
 * so a test can see which engine code a dozen process loaded at all.
 */
import { register } from 'node:module';

register(new URL('./module-watch-hooks.js', import.meta.url));
