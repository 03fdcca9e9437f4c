'use strict';
// The README's JavaScript examples, run against a launched redis-server.
// Every ```js block of README.md is written to a temporary file with the
// example URL (redis://127.0.0.1:6379) replaced by the test server's URL and
// require('nearcache') (and 'nearcache/keyv', 'nearcache/otel') pointed at
// this package, then run with node in a
// child process: a thrown error or a rejected promise fails the test. Blocks
// that are not meant to run are fenced with their real language (```sh).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startRedis } = require('./helpers');

const README = path.resolve(__dirname, '../../README.md');
const PACKAGE = path.resolve(__dirname, '..');
const EXAMPLE_URL = 'redis://127.0.0.1:6379';
const blocks = [...fs.readFileSync(README, 'utf8').matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);

let server;
let dir;

before(async () => {
  server = await startRedis();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearcache-readme-'));
});

after(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await server.stop();
});

function run(file) {
  return new Promise((resolve) => {
    // NODE_PATH: the packages the examples use besides nearcache (keyv,
    // cache-manager, @opentelemetry/*) are this package's devDependencies.
    const env = { ...process.env, NODE_PATH: path.join(PACKAGE, 'node_modules') };
    execFile(process.execPath, [file], { timeout: 60_000, env }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr });
    });
  });
}

test('README.md has js examples that use the example URL', () => {
  assert.ok(blocks.length > 0, 'README.md has no ```js block');
  for (const block of blocks) assert.ok(block.includes(EXAMPLE_URL), `a README js block does not use ${EXAMPLE_URL}`);
});

blocks.forEach((block, i) => {
  test(`README.md js block ${i + 1} runs`, async () => {
    const code = block
      .split(EXAMPLE_URL)
      .join(server.url)
      .replace(/require\((['"])nearcache(\/[a-z]+)?\1\)/g, (_m, _q, sub) =>
        `require(${JSON.stringify(sub ? path.join(PACKAGE, `${sub.slice(1)}.js`) : PACKAGE)})`,
      );
    const file = path.join(dir, `block-${i + 1}.js`);
    fs.writeFileSync(file, code);
    const { code: status, stdout, stderr } = await run(file);
    assert.equal(status, 0, `block ${i + 1} failed (${status}):\n${stderr}\n${stdout}`);
  });
});
