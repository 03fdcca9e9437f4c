#!/usr/bin/env node
// Builds the native addon with cargo and copies it to ./nearcache.node.
// Runs as the package's `install` script:
// - in the npm tarball of `make dist`, which carries a prebuilt addon for
//   linux-x64-gnu (nearcache.linux-x64-gnu.node) and the Rust sources
//   (rust/: a cargo workspace of core/ and node/ with its Cargo.lock), it
//   uses the prebuilt addon when it loads here and builds nothing; on any
//   other platform it builds from rust/ (`--locked`), and without cargo it
//   fails naming the platform;
// - in a clone (`npm install ./node`) it builds from the repository.
//
//   node scripts/build.js            release build (what `npm install` runs)
//   node scripts/build.js --debug    debug build
//   node scripts/build.js --dts      also regenerate index.d.ts (needs the
//                                    devDependency @napi-rs/cli)
//   node scripts/build.js --dts --check   ... and fail if it changed
//   node scripts/build.js --prepack  fail unless this directory is a
//                                    complete package (`npm pack` runs it)
//
// NEARCACHE_FEATURES=test-hooks adds cargo features (`make node-test` builds
// the test hooks in; a plain `npm install` never does).
// NEARCACHE_BUILD_FROM_SOURCE=1 skips the prebuilt addon.
//
// Plain cargo, no `--target`: a target triple would build every dependency
// a second time in another directory (see the repository's notes). Honors
// CARGO_TARGET_DIR through cargo's own JSON messages.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { platformTag, prebuiltTags, binaryName } = require('../platform.js');

const here = path.resolve(__dirname, '..');
const debug = process.argv.includes('--debug');
const dts = process.argv.includes('--dts');
const checkDts = process.argv.includes('--check');
const cargo = process.env.CARGO || 'cargo';
const tag = platformTag();
// The npm tarball's Rust sources (see the top of this file); a clone has none.
const packagedManifest = path.join(here, 'rust', 'node', 'Cargo.toml');
const packaged = fs.existsSync(packagedManifest);

if (process.argv.includes('--prepack')) {
  // `npm pack` straight from node/ would ship a package that can neither load
  // nor build: no addon and no Rust sources. `make dist` stages a complete one.
  if (!packaged || prebuiltTags(here).length === 0) {
    console.error('nearcache: this directory lacks the prebuilt addon or rust/: run `make dist` (writes dist/nearcache-<version>.tgz)');
    process.exit(1);
  }
  process.exit(0);
}

if (!debug && !dts && !process.env.NEARCACHE_BUILD_FROM_SOURCE && usePrebuilt()) process.exit(0);

const args = ['build', '--manifest-path', packaged ? packagedManifest : path.join(here, 'Cargo.toml'), '--lib', '--message-format=json-render-diagnostics'];
if (!debug) args.push('--release');
if (packaged || process.env.NEARCACHE_LOCKED) args.push('--locked');
if (process.env.NEARCACHE_FEATURES) args.push('--features', process.env.NEARCACHE_FEATURES);

const env = { ...process.env };
let typeDefDir = null;
if (dts) {
  // napi-derive writes one type-def file per #[napi] item into this folder
  // while it compiles the crate; the napi CLI renders them into index.d.ts.
  // `napi build` would do the same but always passes `--target`, which
  // builds every dependency a second time.
  typeDefDir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'nearcache-typedef-'));
  env.NAPI_TYPE_DEF_TMP_FOLDER = typeDefDir;
  env.NAPI_FORCE_BUILD_NEARCACHE_NODE = String(Date.now());
}
const run = spawnSync(cargo, args, { cwd: here, env, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 << 20 });
if (run.error) {
  const carried = prebuiltTags(here);
  if (carried.length) {
    console.error(`nearcache: no prebuilt addon for this platform (${tag}); this package carries one for ${carried.join(', ')} only.`);
  }
  console.error(`nearcache: building the addon for ${tag} from source needs a Rust toolchain, and ${cargo} cannot run (${run.error.message}): https://rustup.rs`);
  process.exit(1);
}
if (run.status !== 0) {
  console.error(`nearcache: cargo build failed (exit status ${run.status})`);
  process.exit(run.status || 1);
}
let library = null;
for (const line of run.stdout.toString().split('\n')) {
  if (!line.startsWith('{')) continue;
  const msg = JSON.parse(line);
  if (msg.reason === 'compiler-artifact' && msg.target && msg.target.name === 'nearcache_node') {
    library = msg.filenames.find((f) => /\.(so|dylib|dll)$/.test(f)) || library;
  }
}
if (!library) {
  console.error('nearcache: cargo did not report the nearcache_node library');
  process.exit(1);
}
// Copy to a temporary name and rename, so a running process that has the
// old file mapped keeps a consistent image.
const dest = path.join(here, 'nearcache.node');
const tmp = `${dest}.${process.pid}.tmp`;
fs.copyFileSync(library, tmp);
fs.renameSync(tmp, dest);
console.error(`nearcache: built ${path.relative(process.cwd(), dest) || dest} (${debug ? 'debug' : 'release'})`);

if (dts) {
  writeDts().catch((e) => {
    console.error(`nearcache: ${e.stack || e}`);
    process.exit(1);
  });
}

// The prebuilt addon for this platform, if the package carries one and it
// loads in this process (a wrong libc or an old glibc fails here, at install,
// and then the addon is built from source instead).
function usePrebuilt() {
  const file = path.join(here, `${binaryName}.${tag}.node`);
  if (!fs.existsSync(file)) return false;
  try {
    require(file);
  } catch (e) {
    console.error(`nearcache: the prebuilt ${path.basename(file)} does not load here (${e.message}); building from source`);
    return false;
  }
  console.error(`nearcache: using the prebuilt addon ${path.basename(file)}`);
  return true;
}

async function writeDts() {
  const { generateTypeDef } = await import('@napi-rs/cli');
  const header = fs.readFileSync(path.join(here, 'scripts', 'dts-header.d.ts'), 'utf8');
  const out = await generateTypeDef({ typeDefDir, dtsHeader: header, cwd: here });
  fs.rmSync(typeDefDir, { recursive: true, force: true });
  const file = path.join(here, 'index.d.ts');
  const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (before === out.dts) {
    console.error('nearcache: index.d.ts is up to date');
    return;
  }
  fs.writeFileSync(file, out.dts);
  if (checkDts) {
    console.error('nearcache: index.d.ts was stale and has been regenerated; commit it');
    process.exit(1);
  }
  console.error('nearcache: wrote index.d.ts');
}
