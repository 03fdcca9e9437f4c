'use strict';
// napi-rs's platform naming, shared by the loader (native.js) and the install
// script (scripts/build.js): which `nearcache.<platform>.node` this process
// wants, and which ones a package directory carries.

const fs = require('node:fs');
const path = require('node:path');

const binaryName = 'nearcache';

// napi-rs's platform names: `linux-x64-gnu`, `linux-arm64-musl`,
// `darwin-arm64`, `win32-x64-msvc`, ...
function platformTag(proc = process) {
  const { platform, arch } = proc;
  if (platform === 'linux') return `linux-${arch}-${isMusl(proc) ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

// glibc's Node reports the glibc it runs on; musl's does not.
function isMusl(proc) {
  try {
    const report = proc.report && typeof proc.report.getReport === 'function' ? proc.report.getReport() : null;
    const header = report && (typeof report === 'string' ? JSON.parse(report).header : report.header);
    return !(header && header.glibcVersionRuntime);
  } catch {
    return false;
  }
}

// The platforms this package carries a prebuilt addon for.
function prebuiltTags(dir = __dirname) {
  const re = new RegExp(`^${binaryName}\\.(.+)\\.node$`);
  return fs
    .readdirSync(dir)
    .map((f) => re.exec(f))
    .filter(Boolean)
    .map((m) => m[1])
    .sort();
}

function candidates(tag, dir = __dirname) {
  return [path.join(dir, `${binaryName}.${tag}.node`), path.join(dir, `${binaryName}.node`)];
}

module.exports = { binaryName, platformTag, prebuiltTags, candidates };
