import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodejsDockerfile, phpLaravelDockerfile } from './runtime-template.js';

describe('the nodejs runtime template', () => {
  it('runs a plain `node` start script with node itself and installs nothing when there are no dependencies', () => {
    const file = nodejsDockerfile(JSON.stringify({ scripts: { start: 'node server.js --port=3000' } }), 'base:1');
    assert.equal(file, 'FROM base:1\nWORKDIR /app\nENV NODE_ENV=production\nCOPY . .\nCMD ["node","server.js","--port=3000"]\n');
  });

  it('installs dependencies when package.json lists some, and uses npm start for a start script with shell syntax', () => {
    const file = nodejsDockerfile(JSON.stringify({ dependencies: { express: '^4' }, scripts: { start: 'node a.js && node b.js' } }), 'base:1');
    assert.match(file, /COPY package\*\.json \.\/\nRUN \["npm", "install"/);
    assert.match(file, /CMD \["npm","start"\]\n$/);
  });

  it("falls back to npm's default, node server.js, without a start script or package.json", () => {
    assert.match(nodejsDockerfile(null, 'base:1'), /CMD \["node","server.js"\]/);
    assert.throws(() => nodejsDockerfile('{not json', 'base:1'), /package.json is not valid JSON/);
  });
});

describe('the php-laravel runtime template', () => {
  it("serves public/ with PHP's built-in server on $PORT, and runs no composer when composer.json requires nothing", () => {
    for (const composer of [null, JSON.stringify({ name: 'acme/site', require: {} })]) {
      const file = phpLaravelDockerfile(composer, false, 'php:1');
      assert.equal(file, 'FROM php:1\nWORKDIR /app\nCOPY . .\nSTOPSIGNAL SIGINT\nCMD ["sh","-c","exec php -S 0.0.0.0:\\"$PORT\\" -t public"]\n');
    }
  });

  it('runs composer install --no-dev when composer.json requires packages, after a check that fails the build saying composer is missing', () => {
    const file = phpLaravelDockerfile(JSON.stringify({ require: { 'laravel/framework': '^11' } }), true, 'php:1');
    const lines = file.trimEnd().split('\n');
    const check = JSON.parse(lines[3].slice('RUN '.length)) as string[];
    assert.deepEqual(check.slice(0, 2), ['php', '-r']);
    assert.match(check[2], /has no composer on its PATH: set deploy\.runtimes\.php-laravel\.baseImage/);
    assert.match(lines[5], /^RUN \["composer", "install", "--no-dev", "--no-interaction"/);
    assert.equal(lines.at(-1), 'CMD ["sh","-c","exec php artisan serve --host=0.0.0.0 --port=\\"$PORT\\""]');
    assert.throws(() => phpLaravelDockerfile('{', false, 'php:1'), /composer.json is not valid JSON/);
  });

});
