/** Loader hooks for module-watch.ts (node:module register). */
const ENGINE_MODULES = /\/proxy\/(http1\/(llhttp|native-io|direct-write|http1\.engine)|portable\/(portable\.engine|llhttp-wasm))\.js$/;

export async function resolve(specifier: string, context: unknown, next: (specifier: string, context: unknown) => Promise<{ url: string }>): Promise<{ url: string }> {
  const result = await next(specifier, context);
  if (ENGINE_MODULES.test(result.url)) process.stderr.write(`module loaded ${result.url}\n`);
  return result;
}
