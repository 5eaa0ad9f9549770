/**
 * How a test/support helper reaches an engine the bench started. The bench
 * starts an engine only for the test files that need it: a file needs an
 * engine when its code, or a helper it imports, names that engine's env
 * variable (the bench reads the built files, see bench.ts). So a helper names
 * its variable literally where it calls this (never through a constant here).
 */
export function fromBench(envName: string, engine: string): string | undefined {
  const value = process.env[envName];
  if (value || !process.env.DOZEN_TEST_BENCH) return value || undefined;
  throw new Error(
    `this test file uses ${engine}, but the test bench did not start it: the bench starts ${engine} only for a test file whose built code, ` +
      `or a file it imports (relative, static imports), names ${envName}; import the helper that starts ${engine} statically from the test file`,
  );
}
