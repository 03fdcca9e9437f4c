// ESM entry: the CommonJS module's exports.
import nearcache from './index.js';

export const { Cache, ScanCursor, codes, version, localCopies } = nearcache;
export default nearcache;
