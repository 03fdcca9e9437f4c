'use strict';
// Loads the native addon, the way napi-rs's generated loaders do: the file
// prebuilt for this platform, `nearcache.<platform>.node` (the npm tarball
// of `make dist` carries `nearcache.linux-x64-gnu.node`), else
// `nearcache.node`, the one scripts/build.js builds from source (in a clone,
// or at install on a platform without a prebuilt addon). When neither loads,
// the error names the platform and says what to do.

const fs = require('node:fs');
const path = require('node:path');

const { platformTag, prebuiltTags, candidates } = require('./platform.js');

function load() {
  const tag = platformTag();
  const tried = [];
  for (const file of candidates(tag)) {
    if (!fs.existsSync(file)) continue;
    try {
      return require(file);
    } catch (e) {
      tried.push(`${path.basename(file)}: ${e.message}`);
    }
  }
  const carried = prebuiltTags();
  const lines = [
    `nearcache: no native addon loads on this platform (${tag}).`,
    carried.length
      ? `This package carries a prebuilt addon for ${carried.join(', ')} only, and none was built from source at install.`
      : 'No addon was built (a clone builds it with `npm install` or `node scripts/build.js`).',
    'Building from source needs a Rust toolchain (cargo, https://rustup.rs): install it, then run `npm rebuild nearcache`.',
  ];
  if (tried.length) lines.push(`Tried: ${tried.join('; ')}`);
  const err = new Error(lines.join('\n'));
  err.code = 'NC_NO_NATIVE_ADDON';
  throw err;
}

module.exports = load();
