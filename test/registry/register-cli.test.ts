import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { CLI, startDozen, TEST_TOKEN, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';

interface LoadEntry {
  instance: string;
  app: string;
  load: { cpu: number; memory: number; processes: number; at: number } | null;
}

describe('dozen register beside an app', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  let app: ChildProcess;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry' } });
    // The "app": a process with one child, busy part of the time so it has CPU to report.
    app = spawn(process.execPath, ['-e', `require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); setInterval(() => { const end = Date.now() + 100; while (Date.now() < end); }, 300);`], { stdio: 'ignore', detached: true });
  });
  after(async () => {
    // Its own process group, so its child goes too (killing the app alone left the child running).
    if (app?.pid) process.kill(-app.pid, 'SIGKILL');
    await dozen?.stop();
  });

  it('appears in the routes, reports its process load every second, and is gone after SIGTERM', async () => {
    const register = spawn(process.execPath, [CLI, 'register', '--app', 'chat', '--port', '3000', '--domain', 'chat.app.example.net', '--domain', 'chat.example.org', '--server', dozen.url, '--pid', String(app.pid), '--ttl', '5'], {
      env: { PATH: process.env.PATH, DOZEN_TOKEN: TEST_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    register.stdout!.on('data', (chunk) => (output += chunk));
    register.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => register.once('exit', (code) => resolve(code)));
    try {
      const route = await waitFor('chat in the routes', async () => {
        const snapshot = await (await dozen.api('/registry/routes')).json();
        return snapshot.apps.find((entry: { app: string }) => entry.app === 'chat');
      }, 10_000, 50);
      assert.deepEqual(route.domains, ['chat.app.example.net', 'chat.example.org']);
      assert.equal(route.backends[0].port, 3000);
      const id = route.backends[0].instance;
      await waitFor('its "registered" line', async () => output.includes(`registered chat as ${id}`), 2000, 20);

      // Three distinct samples, about a second apart.
      const samples: NonNullable<LoadEntry['load']>[] = [];
      await waitFor('three load samples', async () => {
        const figures = await (await dozen.api('/registry/load')).json();
        const load = figures.instances.find((entry: LoadEntry) => entry.instance === id)?.load;
        if (load && load.at !== samples.at(-1)?.at) samples.push(load);
        return samples.length >= 3;
      }, 8000, 100);
      for (const sample of samples) {
        assert.equal(sample.processes, 2, JSON.stringify(sample));
        assert.ok(sample.memory > 10 * 1024 * 1024, `memory ${sample.memory}`);
      }
      assert.ok(samples.some((sample) => sample.cpu > 5), `cpu figures ${samples.map((sample) => sample.cpu).join(', ')}`);
      const gaps = samples.slice(1).map((sample, index) => sample.at - samples[index].at);
      for (const gap of gaps) assert.ok(gap > 700 && gap < 1500, `gaps ${gaps.join(', ')}`);

      register.kill('SIGTERM');
      assert.equal(await exited, 0, output);
      assert.match(output, new RegExp(`deregistered ${id}`));
      const after = await (await dozen.api('/registry/routes')).json();
      assert.equal(after.apps.find((entry: { app: string }) => entry.app === 'chat'), undefined);
    } finally {
      register.kill('SIGKILL');
    }
  });

  it('registers again under the same id when the server lost it, and leaves when its process is gone', async () => {
    const doomed = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const register = spawn(process.execPath, [CLI, 'register', '--app', 'blog', '--port', '3001', '--id', 'blog-7', '--server', dozen.url, '--token', TEST_TOKEN, '--pid', String(doomed.pid)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    register.stdout!.on('data', (chunk) => (output += chunk));
    register.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => register.once('exit', (code) => resolve(code)));
    const listed = async () => {
      const services = await (await dozen.api('/registry/services')).json();
      return services.some((service: { instances: { id: string }[] }) => service.instances.some((instance) => instance.id === 'blog-7'));
    };
    try {
      await waitFor('blog-7 registered', listed, 10_000, 50);
      assert.equal((await dozen.api('/registry/instances/blog-7', { method: 'DELETE' })).status, 204);
      assert.equal(await listed(), false);
      await waitFor('blog-7 registered again', listed, 3000, 50);
      doomed.kill('SIGKILL');
      assert.equal(await exited, 1, output);
      assert.match(output, /dozen: process \d+ is gone; blog-7 deregistered/);
      assert.equal(await listed(), false);
    } finally {
      register.kill('SIGKILL');
      doomed.kill('SIGKILL');
    }
  });

  it('says in one line why it cannot register, with a non-zero exit', async () => {
    const register = spawn(process.execPath, [CLI, 'register', '--app', 'Bad_Name', '--port', '3000', '--server', dozen.url, '--token', TEST_TOKEN], { stdio: ['ignore', 'pipe', 'pipe'] });
    let errors = '';
    register.stderr!.on('data', (chunk) => (errors += chunk));
    const code = await new Promise<number | null>((resolve) => register.once('exit', (exitCode) => resolve(exitCode)));
    assert.equal(code, 1);
    assert.equal(errors.trim().split('\n').length, 1, errors);
    assert.match(errors, /^dozen: register refused \(400\): app: expected a lower-case app name/);
  });

  for (const [what, args, line, exit] of [
    ['a --meta without =', ['--meta', 'team'], /^dozen: --meta "team": expected key=value$/, 2],
    ['a --pid of no process', ['--pid', '999999999'], /^dozen: --pid 999999999: no such process$/, 2],
    ['a server that does not answer', ['--server', 'http://127.0.0.1:2'], /^dozen: http:\/\/127\.0\.0\.1:2 did not answer: .*ECONNREFUSED/, 1],
  ] as const) {
    it(`refuses ${what} in one line before registering anything`, async () => {
      const register = spawn(process.execPath, [CLI, 'register', '--app', 'cli-check', '--port', '3000', '--server', dozen.url, '--token', TEST_TOKEN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let errors = '';
      register.stderr!.on('data', (chunk) => (errors += chunk));
      const code = await new Promise<number | null>((resolve) => register.once('exit', (exitCode) => resolve(exitCode)));
      assert.equal(code, exit, errors);
      assert.match(errors.trim(), line);
      const services = await (await dozen.api('/registry/services')).json();
      assert.ok(!services.some((entry: { app: string }) => entry.app === 'cli-check'), 'nothing was registered');
    });
  }
});
