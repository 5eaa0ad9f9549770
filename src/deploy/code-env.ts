/**
 * Env names that choose the code a container's processes load beside the image's own: the dynamic
 * loader's (`LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT`, ...), an interpreter's options and search
 * paths (`NODE_OPTIONS` takes `--import=data:...`, `PYTHONPATH`, `PHPRC`, `PERL5OPT`, `RUBYOPT`,
 * `JAVA_TOOL_OPTIONS`, ...), a shell's startup file (`BASH_ENV`, `ENV`), npm's own settings
 * (`npm_config_node_options` reaches every script `npm start` runs) and `PATH`. An app's secrets are in
 * the same env, so setting one of these is reading them.
 */
const EXACT = new Set([
  'PATH', 'NODE_OPTIONS', 'NODE_PATH', 'BASH_ENV', 'ENV', 'PHPRC', 'PHP_INI_SCAN_DIR', 'PERL5OPT', 'PERL5LIB', 'PERLLIB',
  'RUBYOPT', 'RUBYLIB', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'GCONV_PATH',
]);
const PREFIXES = ['LD_', 'PYTHON', 'NPM_CONFIG_'];

/** The names among `names` that choose code (compared without case: npm reads its settings so, and a near miss costs nothing). */
export function codeChoosingEnv(names: string[]): string[] {
  return names.filter((name) => {
    const upper = name.toUpperCase();
    return EXACT.has(upper) || PREFIXES.some((prefix) => upper.startsWith(prefix));
  });
}
