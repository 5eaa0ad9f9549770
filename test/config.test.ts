import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, REPO } from './support/dozen-process.js';

const dir = mkdtempSync(join(tmpdir(), 'dozen-config-'));

function dozen(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, DOZEN_DATA_DIR: dir, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function yamlFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('config', () => {
  const badValues: [string, string[], Record<string, string>, RegExp][] = [
    ['unknown module name', ['config', 'check'], { DOZEN_MODULES: 'proxy,mailer' }, /modules = \["proxy","mailer"\]: expected a list of: proxy, registry, deploy, storage, broadcast/],
    ['modules list left empty', ['config', 'check'], { DOZEN_MODULES: '' }, /^dozen: bad config: modules = \[\]: list at least one of: proxy, registry, deploy, storage, broadcast$/],
    ['port that is not a number', ['config', 'check'], { DOZEN_ADMIN_LISTEN_PORT: 'eighty' }, /admin\.listen\.port = "eighty": expected a whole number 1-65535/],
    ['port out of range', ['config', 'check'], { DOZEN_PROXY_LISTEN_PORT: '70000' }, /proxy\.listen\.port = 70000: expected a whole number 1-65535/],
    ['admin port that browsers and fetch() refuse', ['config', 'check'], { DOZEN_ADMIN_LISTEN_PORT: '10080' }, /admin\.listen\.port = 10080: a port that browsers and fetch\(\) refuse to connect to/],
    ['bad database URL', ['config', 'check'], { DOZEN_DATABASE_URL: 'postgres://x@y/z' }, /database\.url = "postgres:\/\/x@y\/z": expected mysql:\/\//],
    ['bad consul URL', ['config', 'check'], { DOZEN_REGISTRY_CONSUL_URL: 'consul-host:8500' }, /registry\.consul\.url = "consul-host:8500": expected an http/],
    ['unreadable secret file (env)', ['config', 'check'], { DOZEN_ADMIN_TOKEN_FILE: '/nonexistent/token' }, /DOZEN_ADMIN_TOKEN_FILE = "\/nonexistent\/token": cannot read the secret file \(ENOENT\)/],
    ['unknown storage driver', ['config', 'check'], { DOZEN_STORAGE_DRIVER: 's3' }, /storage\.driver = "s3": /],
    ['plain-HTTP ACME directory', ['config', 'check'], { DOZEN_PROXY_TLS_ACME_DIRECTORY: 'http://ca.example/dir', DOZEN_PROXY_TLS_ACME_EMAIL: 'ops@example.net' }, /proxy\.tls\.acme\.directory = "http:\/\/ca\.example\/dir": expected the https:\/\/ URL of an ACME directory/],
    ['ACME without an email', ['config', 'check'], { DOZEN_PROXY_TLS_ACME_DIRECTORY: 'https://ca.example/dir' }, /proxy\.tls\.acme\.email = \(missing\): expected an email address/],
    ['session origin that is not an http(s) origin', ['config', 'check'], { DOZEN_ADMIN_ALLOWED_ORIGINS: 'console.example.net' }, /admin\.allowedOrigins = \["console\.example\.net"\]: expected an origin such as https:\/\/console\.example\.net/],
    ['proxy port that is the admin port', ['config', 'check'], { DOZEN_PROXY_LISTEN_PORT: '7700' }, /^dozen: bad config: proxy\.listen\.port = 7700: admin\.listen is on 127\.0\.0\.1:7700 too, and 0\.0\.0\.0:7700 cannot take the same port: pick another$/],
    ['admin port that is the proxy port (left at its default)', ['config', 'check'], { DOZEN_ADMIN_LISTEN_PORT: '8080' }, /^dozen: bad config: proxy\.listen\.port = 8080: admin\.listen is on 127\.0\.0\.1:8080 too/],
    ['TLS port that is the proxy port', ['config', 'check'], { DOZEN_PROXY_LISTEN_PORT: '9000', DOZEN_PROXY_TLS_LISTEN_PORT: '9000' }, /^dozen: bad config: proxy\.tls\.listen\.port = 9000: proxy\.listen is on 0\.0\.0\.0:9000 too/],
    ['SQLite addon that does not exist', ['config', 'check'], { DOZEN_DATABASE_SQLITE_BINDING: '/nonexistent/better_sqlite3.node' }, /^dozen: bad config: database\.sqliteBinding = "\/nonexistent\/better_sqlite3\.node": cannot read the file \(ENOENT\): expected a better-sqlite3 addon/],
    ['SQLite addon that is a folder', ['config', 'check'], { DOZEN_DATABASE_SQLITE_BINDING: tmpdir() }, /^dozen: bad config: database\.sqliteBinding = ".*": not a file: expected a better-sqlite3 addon/],
    ['V4 OSS signing without a region', ['config', 'check'], { DOZEN_STORAGE_OSS_AUTHORIZATION_VERSION: 'v4' }, /storage\.oss\.region = \(missing\): is required with authorizationVersion v4/],
  ];
  for (const [what, args, env, expected] of badValues) {
    it(`refuses a ${what} with exit 2 and one line naming the key`, () => {
      const result = dozen(args, env);
      assert.equal(result.code, 2, result.stderr);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `expected one line, got: ${result.stderr}`);
      assert.match(lines[0], expected);
    });
  }

  it('refuses an unreadable secret file named in YAML and an unknown key', () => {
    const secretFile = yamlFile('secret.yaml', 'admin:\n  tokenFile: /nonexistent/admin-token\n');
    let result = dozen(['--config', secretFile, 'config', 'check']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /admin\.tokenFile = "\/nonexistent\/admin-token": cannot read the secret file/);
    const typo = yamlFile('typo.yaml', 'admin:\n  listen:\n    prot: 80\n');
    result = dozen(['--config', typo, 'config', 'check']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /admin\.listen\.prot = 80: unknown key/);
  });

  it('accepts one port for two listeners that cannot meet: other addresses, or the proxy off', () => {
    const apart = dozen(['config', 'check', '--quiet'], { DOZEN_ADMIN_LISTEN_PORT: '8080', DOZEN_ADMIN_LISTEN_HOST: '127.0.0.1', DOZEN_PROXY_LISTEN_HOST: '127.0.0.2' });
    assert.equal(apart.code, 0, apart.stderr);
    const proxyOff = dozen(['config', 'check', '--quiet'], { DOZEN_ADMIN_LISTEN_PORT: '8080', DOZEN_MODULES: 'registry,storage' });
    assert.equal(proxyOff.code, 0, proxyOff.stderr);
  });

  it('refuses a tail key template that can never give a key the store takes, naming the key', () => {
    const cases: [string, RegExp][] = [
      ['../{file}', /^dozen: bad config: storage\.tail\.0\.key = "\.\.\/\{file\}": gives keys such as "\.\.\/access\.log", which must not contain \. or \.\. segments$/],
      ['logs/{nosuch}/{file}', /^dozen: bad config: storage\.tail\.0\.key = "logs\/\{nosuch\}\/\{file\}": unknown placeholder \{nosuch\}: use \{host\}, \{app\}, \{file\}, \{date\}$/],
    ];
    for (const [template, expected] of cases) {
      const file = yamlFile('tail-key.yaml', `storage:\n  tail:\n    - glob: /tmp/x/*.log\n      key: "${template}"\n`);
      const result = dozen(['--config', file, 'config', 'check']);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^[^\n]*\n$/, `not one line: ${result.stderr}`);
      assert.match(result.stderr.trim(), expected);
    }
  });

  it('refuses an empty modules list in YAML', () => {
    const result = dozen(['--config', yamlFile('no-modules.yaml', 'modules: []\n'), 'config', 'check']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^dozen: bad config: modules = \[\]: list at least one of/);
  });

  it('refuses serve with a bad value before opening any port', () => {
    const result = dozen(['serve'], { DOZEN_MODULES: 'nope' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^dozen: bad config: modules = \["nope"\]/);
  });

  it('a config file that does not exist is an error, not defaults', () => {
    const result = dozen(['--config', join(dir, 'missing.yaml'), 'config', 'check']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--config = ".*missing\.yaml": cannot read the file \(ENOENT\)/);
  });

  it('a config file named by DOZEN_CONFIG that does not exist is an error naming DOZEN_CONFIG', () => {
    const result = dozen(['config', 'check'], { DOZEN_CONFIG: join(dir, 'missing.yaml') });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^dozen: bad config: DOZEN_CONFIG = ".*missing\.yaml": cannot read the file \(ENOENT\)\n$/);
  });

  it('a file that is not valid YAML is one complete line: where, and no code frame', () => {
    const broken = yamlFile('broken.yaml', 'admin:\n  listen:\n    port: 7700\nmodules: [proxy, registry\n');
    const result = dozen(['--config', broken, 'config', 'check']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^dozen: bad config: --config = ".*broken\.yaml": not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a \] at line 5, column 1\n$/);
  });

  it('environment overrides the file, and the file overrides defaults', () => {
    const file = yamlFile('dozen.yaml', 'modules: [proxy, registry]\nadmin:\n  listen:\n    port: 7800\nstorage:\n  driver: oss\n  oss:\n    bucket: b\n    region: oss-cn-hangzhou\n    accessKeyId: id\n');
    // driver oss needs its whole set of keys (the secret from env, as in production).
    const result = dozen(['--config', file, 'config', 'check'], { DOZEN_ADMIN_LISTEN_PORT: '7900', DOZEN_STORAGE_OSS_ACCESS_KEY_SECRET: 'secret' });
    assert.equal(result.code, 0, result.stderr);
    const { file: shown, config } = JSON.parse(result.stdout);
    assert.equal(shown, file);
    assert.deepEqual(config.modules, ['proxy', 'registry']);
    assert.equal(config.admin.listen.port, 7900);
    assert.equal(config.storage.driver, 'oss');
    assert.equal(config.proxy.listen.port, 8080);
  });

  it('secrets from env and from files are redacted in config check', () => {
    const keyFile = join(dir, 'oss-secret');
    writeFileSync(keyFile, 'oss-very-secret\n');
    const file = yamlFile('secrets.yaml', `storage:\n  oss:\n    accessKeySecretFile: ${keyFile}\n`);
    const channels = [{ name: 'hook', type: 'webhook', url: 'https://hooks.example.com/x', secret: 'hook-very-secret' }, { name: 'mail', type: 'email', to: ['ops@example.com'] }];
    const result = dozen(['--config', file, 'config', 'check'], {
      DOZEN_ADMIN_TOKEN: 'admin-very-secret', DOZEN_DATABASE_PASSWORD: 'db-very-secret', DOZEN_NOTIFY_CHANNELS: JSON.stringify(channels),
      DOZEN_NOTIFY_SMTP_HOST: 'smtp.example.com', DOZEN_NOTIFY_SMTP_FROM: 'dozen@example.com', DOZEN_NOTIFY_SMTP_PASSWORD: 'smtp-very-secret',
    });
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /very-secret/);
    const { config } = JSON.parse(result.stdout);
    assert.equal(config.admin.token, '[redacted]');
    assert.equal(config.database.password, '[redacted]');
    assert.equal(config.storage.oss.accessKeySecret, '[redacted]');
    assert.equal(config.notify.channels[0].secret, '[redacted]');
    assert.deepEqual(config.notify.channels[1].to, ['ops@example.com']);
    assert.equal(config.notify.smtp.password, '[redacted]');
  });

  it('refuses a database password given both in database.url and in database.password, naming both and showing neither', () => {
    const file = yamlFile('database.yaml', 'database:\n  url: mysql://dozen:url-very-secret@db.internal:3306/dozen\n');
    const result = dozen(['--config', file, 'config', 'check'], { DOZEN_DATABASE_PASSWORD: 'env-very-secret' });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^dozen: bad config: database\.password = "\[redacted\]": database\.url holds a password too: give it in one place/);
    assert.doesNotMatch(result.stderr, /very-secret/);
    const badScheme = dozen(['config', 'check'], { DOZEN_DATABASE_URL: 'postgres://dozen:url-very-secret@db.internal/dozen' });
    assert.equal(badScheme.code, 2);
    assert.match(badScheme.stderr, /database\.url = "postgres:\/\/dozen:\*\*\*@db\.internal\/dozen": expected mysql:\/\//);
  });

  it('config check shows database.url without its password, and database.password from env redacted', () => {
    const file = yamlFile('database-url.yaml', 'database:\n  url: mysql://dozen@db.internal:3306/dozen\n');
    const split = dozen(['--config', file, 'config', 'check'], { DOZEN_DATABASE_PASSWORD: 'env-very-secret' });
    assert.equal(split.code, 0, split.stderr);
    assert.deepEqual(JSON.parse(split.stdout).config.database, { url: 'mysql://dozen@db.internal:3306/dozen', password: '[redacted]' });
    const inUrl = dozen(['config', 'check'], { DOZEN_DATABASE_URL: 'mysql://dozen:url-very-secret@db.internal:3306/dozen' });
    assert.equal(inUrl.code, 0, inUrl.stderr);
    assert.doesNotMatch(inUrl.stdout, /very-secret/);
    assert.equal(JSON.parse(inUrl.stdout).config.database.url, 'mysql://dozen:***@db.internal:3306/dozen');
  });

  it('accepts both example configs', () => {
    for (const name of ['single-host.yaml', 'cluster-host.yaml']) {
      const example = join(REPO, 'examples/config', name);
      const result = dozen(['--config', example, 'config', 'check'], { DOZEN_STORAGE_OSS_ACCESS_KEY_SECRET: 'x', DOZEN_DATABASE_PASSWORD: 'x', DOZEN_REGISTRY_CONSUL_TOKEN: 'x', DOZEN_ADMIN_TOKEN: 'x', DOZEN_DEPLOY_SECRETS_KEY: 'x' });
      assert.equal(result.code, 0, `${name}: ${result.stderr}`);
      assert.equal(dozen(['--config', example, 'config', 'check', '--quiet'], { DOZEN_STORAGE_OSS_ACCESS_KEY_SECRET: 'x', DOZEN_DATABASE_PASSWORD: 'x', DOZEN_REGISTRY_CONSUL_TOKEN: 'x', DOZEN_ADMIN_TOKEN: 'x', DOZEN_DEPLOY_SECRETS_KEY: 'x' }).stdout, '');
    }
  });

  it('config check --quiet prints no config, but a bad config still gets its one line, as its help says', () => {
    const good = dozen(['config', 'check', '--quiet']);
    assert.deepEqual([good.code, good.stdout, good.stderr], [0, '', '']);
    const bad = dozen(['config', 'check', '--quiet'], { DOZEN_ADMIN_LISTEN_PORT: 'eighty' });
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /^dozen: bad config: admin\.listen\.port = "eighty": [^\n]*\n$/);
    const help = dozen(['config', 'check', '--help']).stdout.replace(/\s+/g, ' ');
    assert.match(help, /-q, --quiet print nothing when the config is good \(exit 0\); a bad one still gets its one error line on stderr \(exit 2\)/);
  });

  it('--version and --help answer', () => {
    const version = dozen(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);
    for (const args of [['--help'], ['serve', '--help'], ['config', 'check', '--help'], ['migrate', '--help']]) {
      const help = dozen(args);
      assert.equal(help.code, 0, args.join(' '));
      assert.match(help.stdout, /Usage: dozen/);
    }
  });

  it('an unknown command or option, or a missing argument, fails with one line naming it and a non-zero code', () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /^dozen: unknown command 'frobnicate' \(dozen --help lists them\)$/],
      [['registry', 'ls'], /^dozen: unknown command 'registry' /],
      [['--frobnicate'], /^dozen: unknown option '--frobnicate' /],
      [['serve', '--frobnicate'], /^dozen: unknown option '--frobnicate' /],
      [['upload'], /^dozen: missing required argument 'path' \(--help for usage\)$/],
      [['proxy', 'frobnicate'], /^dozen: unknown command 'frobnicate' /],
      [['upload', 'a.txt', 'a.txt', '--part-size', '1.5MiB'], /^dozen: option '--part-size <size>' argument '1\.5MiB' is invalid\. expected a size like 8MiB or 1048576 \(--help for usage\)$/],
      [['register', '--app', 'blog', '--port', 'abc'], /^dozen: option '--port <port>' argument 'abc' is invalid\. expected a port number \(1-65535\) \(--help for usage\)$/],
      [['register', '--app', 'blog', '--port', '70000'], /^dozen: option '--port <port>' argument '70000' is invalid\. expected a port number \(1-65535\)/],
      [['register', '--app', 'blog', '--port', '3000', '--ttl', 'soon'], /^dozen: option '--ttl <seconds>' argument 'soon' is invalid\. expected seconds \(1-3600\)/],
      [['tail', '--glob', '/tmp/x/*.log', '--key', '../{file}'], /^dozen: option '--key <template>' argument '\.\.\/\{file\}' is invalid\. gives keys such as "\.\.\/access\.log", which must not contain \. or \.\. segments \(--help for usage\)$/],
      [['tail', '--glob', '/tmp/x/*.log', '--key', 'logs/{nosuch}/{file}'], /^dozen: option '--key <template>' argument 'logs\/\{nosuch\}\/\{file\}' is invalid\. unknown placeholder \{nosuch\}/],
    ];
    for (const [args, expected] of cases) {
      const result = dozen(args);
      assert.notEqual(result.code, 0, args.join(' '));
      assert.equal(result.stdout, '', args.join(' '));
      assert.match(result.stderr, /^[^\n]*\n$/, `${args.join(' ')}: not one line: ${result.stderr}`);
      assert.match(result.stderr.trim(), expected);
    }
  });

  it('migrate creates the SQLite database under the data dir and is idempotent', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dozen-migrate-'));
    const first = dozen(['migrate'], { DOZEN_DATA_DIR: dataDir });
    assert.equal(first.code, 0, first.stderr);
    const second = dozen(['migrate'], { DOZEN_DATA_DIR: dataDir });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /database is up to date/);
  });
});
