'use strict';
// The package layout (issue 16): the loader's napi-rs platform names, the
// `version` export, and the prepack guard that keeps `npm pack` of node/
// from shipping a package that can neither load nor build.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const nearcache = require('..');
const { platformTag, candidates } = require('../platform.js');
const pkg = require('../package.json');

const glibc = { getReport: () => ({ header: { glibcVersionRuntime: '2.36' } }) };
const musl = { getReport: () => ({ header: {} }) };

test('version: the addon reports the workspace version, which package.json repeats', () => {
  assert.match(nearcache.version, /^\d+\.\d+\.\d+$/);
  assert.equal(nearcache.version, pkg.version);
});

test('platformTag: napi-rs names', () => {
  assert.equal(platformTag({ platform: 'linux', arch: 'x64', report: glibc }), 'linux-x64-gnu');
  assert.equal(platformTag({ platform: 'linux', arch: 'arm64', report: musl }), 'linux-arm64-musl');
  assert.equal(platformTag({ platform: 'darwin', arch: 'arm64' }), 'darwin-arm64');
  assert.equal(platformTag({ platform: 'win32', arch: 'x64' }), 'win32-x64-msvc');
  if (process.platform === 'linux') assert.match(platformTag(), new RegExp(`^linux-${process.arch}-(gnu|musl)$`));
});

test('candidates: the prebuilt file for the platform first, then the one built from source', () => {
  assert.deepEqual(
    candidates('linux-x64-gnu', '/p').map((f) => path.basename(f)),
    ['nearcache.linux-x64-gnu.node', 'nearcache.node'],
  );
});

test('prepack: node/ itself is not a complete package (no rust/, no prebuilt addon)', () => {
  const run = spawnSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'build.js'), '--prepack'], {
    encoding: 'utf8',
  });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /run `make dist`/);
});
