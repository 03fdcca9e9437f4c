'use strict';
// A small node:http service on nearcache; the same routes as
// examples/python-service/app.py (see there), so that either service reads
// what the other wrote.
//
//   NEARCACHE_CONFIG=examples/nearcache.toml node examples/node-service/server.js [PORT]
//
// Port 0 (the default) picks a free loopback port; the first line on stdout
// is `listening on http://127.0.0.1:PORT`.

const http = require('node:http');
const crypto = require('node:crypto');

let nearcache;
try {
  nearcache = require('nearcache');
} catch {
  nearcache = require('../../node'); // run from a clone, before `npm install ./node`
}

const cache = new nearcache.Cache(); // NEARCACHE_CONFIG, then NEARCACHE_URL
const SESSION_TTL = '1h';

// What a product page would cost to build (a database query, say).
function product(n) {
  return JSON.stringify({ id: n, name: `product ${n}`, price: (Number(n) * 3) % 100 });
}

async function handle(req, res) {
  const parts = new URL(req.url, 'http://x').pathname.split('/').filter(Boolean);
  const reply = (status, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  if (req.method === 'POST' && parts.length === 1 && parts[0] === 'sessions') {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const data = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    const id = crypto.randomBytes(8).toString('hex');
    await cache.setJson(`session:${id}`, { user: data.user ?? null, by: 'node' }, { ttl: SESSION_TTL });
    return reply(201, JSON.stringify({ id, by: 'node' }));
  }
  if (req.method === 'GET' && parts.length === 2 && parts[0] === 'sessions') {
    const value = await cache.get(`session:${parts[1]}`);
    return value === null ? reply(404, '{}') : reply(200, value);
  }
  if (req.method === 'GET' && parts.length === 2 && parts[0] === 'products' && /^\d+$/.test(parts[1])) {
    return reply(200, await cache.getOrLoad(`product:${parts[1]}`, () => product(parts[1]), { ttl: '5m' }));
  }
  if (req.method === 'GET' && parts.length === 1 && parts[0] === 'stats') {
    const s = cache.stats();
    return reply(200, JSON.stringify({ l1_hits: s.l1_hits, l1_misses: s.l1_misses }));
  }
  return reply(404, '{}');
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end(`${err.code ?? 'error'}: ${err.message}`);
  });
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

// SIGTERM (the examples test stops the service by PID): finish what is in
// flight, then exit.
process.on('SIGTERM', () => {
  server.close();
  cache.close().then(() => process.exit(0));
});
