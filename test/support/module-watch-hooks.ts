/** Loader hooks for module-watch.ts (node:module register). */
const ENGINE_MODULES = /\/proxy\/(http1\/(llhttp|native-io|direct-write|http1\.engine)|portable\/(portable\.engine|llhttp-wasm))\.js$/;
/** The deploy, storage and broadcast modules' code, and the clients only they use. */
const MODULE_CODE = /\/dist\/src\/((deploy|storage|broadcast)\/.*\.js)$|\/node_modules\/(dockerode|ali-oss|mysql2|ioredis|@vlasky\/zongji)\//;

export async function resolve(specifier: string, context: unknown, next: (specifier: string, context: unknown) => Promise<{ url: string }>): Promise<{ url: string }> {
  const result = await next(specifier, context);
  if (ENGINE_MODULES.test(result.url)) process.stderr.write(`module loaded ${result.url}\n`);
  const code = MODULE_CODE.exec(result.url);
  if (code) process.stderr.write(`module code ${code[1] ?? code[3]}\n`);
  return result;
}
