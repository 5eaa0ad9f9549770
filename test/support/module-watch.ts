/**
 * `node --import <this file>`: writes `module loaded <url>` to stderr for each
 * proxy engine module the process loads (module-watch-hooks.ts lists them),
 * `module code <path>` for each file of deploy, storage and broadcast and each
 * client library only they use (the ESM loader sees a package's entry),
 * and `internal used <name>` for each Node internal the fast engine reaches
 * (`_http_common` through require, `process.binding`), so a test can see
 * which engine code a dozen process loaded at all.
 */
import { createRequire, register } from 'node:module';

register(new URL('./module-watch-hooks.js', import.meta.url));

const Module = createRequire(import.meta.url)('node:module') as { _load(request: string, ...rest: unknown[]): unknown };
const load = Module._load;
Module._load = function (request: string, ...rest: unknown[]) {
  if (request === '_http_common') process.stderr.write('internal used _http_common\n');
  return load.call(this, request, ...rest);
};

const processWithBinding = process as unknown as { binding(name: string): unknown };
const binding = processWithBinding.binding;
processWithBinding.binding = function (name: string) {
  process.stderr.write(`internal used process.binding(${name})\n`);
  return binding.call(process, name);
};
