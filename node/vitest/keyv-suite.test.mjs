// @keyv/test-suite (Keyv's API compliance suite for storage adapters, written
// for vitest) against KeyvNearcache on a launched redis-server. The
// iterator tests are not part of the default suite; they run too, as
// @keyv/redis runs them.
import { createRequire } from 'node:module';
import * as test from 'vitest';
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite';
import Keyv from 'keyv';
import { KeyvNearcache } from 'nearcache/keyv'; // through package.json "exports"

const require = createRequire(import.meta.url);
const { startRedis } = require('../test/helpers.js');
const { Cache } = require('nearcache');

const server = await startRedis();
// One cache behind every store the suite makes (one L1, one set of
// connections), as an application would share it.
const cache = new Cache({ url: server.url });
const store = () => new KeyvNearcache(cache);

test.afterAll(async () => {
  await cache.close();
  await server.stop();
});

keyvTestSuite(test, Keyv, store);
keyvIteratorTests(test, Keyv, store);
