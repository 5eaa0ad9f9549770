import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodejsDockerfile } from './runtime-template.js';

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
