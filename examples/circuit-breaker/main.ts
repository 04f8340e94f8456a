// A circuit breaker, set on a DestinationRule from TypeScript: a replica that starts failing
// opens the circuit, calls are then refused at once (no request reaches the replica),
// and after `resetTimeout` probes go through and close it again once the replica is back.
//
//   npx tsx --conditions=proxyless-source examples/circuit-breaker/main.ts
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMesh, destinationRule, staticEndpoints } from 'proxyless';

// One `payments` replica; it answers 500 until `healthy` is set.
let healthy = false;
let received = 0;
const server = createServer((_req, res) => {
  received++;
  res.statusCode = healthy ? 200 : 500;
  res.end(healthy ? 'paid' : 'database down');
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;

const mesh = createMesh({
  discovery: [staticEndpoints({ payments: [address] })],
  config: [
    // A DestinationRule with the breaker typed from TypeScript; in YAML the same settings are
    // the `proxyless.dev/circuit-breaker` annotation (docs/config-from-code.md shows both).
    destinationRule({
      metadata: { name: 'payments' },
      spec: { host: 'payments' },
      // Opens when more than half of at least 5 tries in the last 10 s failed; probes after
      // 2 s; 2 successful probes in a row close it.
      circuitBreaker: { volumeThreshold: 5, errorThresholdPercentage: 50, rollingWindow: '10s', resetTimeout: '2s', halfOpenSuccesses: 2 },
    }),
  ],
});
const started = performance.now();
const at = (): string => `+${((performance.now() - started) / 1000).toFixed(2)} s`;
mesh.on('circuitOpen', (e) => console.log(`${at()} circuitOpen ${e.service}: refusing until ${new Date(e.retryAt!).toISOString()}`));
mesh.on('circuitHalfOpen', (e) => console.log(`${at()} circuitHalfOpen ${e.service}: probes go through`));
mesh.on('circuitClose', (e) => console.log(`${at()} circuitClose ${e.service}: requests flow again`));

/** One call; prints what the caller got (a status, or the mesh's error behind fetch's TypeError). */
async function call(label: string): Promise<void> {
  try {
    const res = await mesh.fetch('http://payments/charge', { method: 'POST', body: '{"amount": 5}' });
    console.log(`${at()} ${label}: ${res.status} ${await res.text()}`);
  } catch (error) {
    const e = ((error as { cause?: unknown }).cause ?? error) as { name: string; code?: string; statusCode?: number };
    console.log(`${at()} ${label}: ${e.name} ${e.code} statusCode=${e.statusCode} (not sent)`);
  }
}

// 1. The replica fails: a 500 is an answer, and the breaker counts it, until it opens.
let open = false;
mesh.once('circuitOpen', () => (open = true));
for (let i = 1; !open && i <= 20; i++) await call(`call ${i}`);
const halfOpen = once(mesh, 'circuitHalfOpen'); // listening from now: it comes resetTimeout after opening
// 2. While open, calls fail at once and the replica sees none of them.
const before = received;
await call('while open');
console.log(`${at()} the replica received ${received - before} request(s) while the circuit was open`);

// 3. The replica recovers; after resetTimeout the breaker lets probes through, and closes.
healthy = true;
console.log(`${at()} the replica is healthy again`);
await halfOpen;
const closed = once(mesh, 'circuitClose');
await call('probe 1');
await call('probe 2');
await closed;
await call('after close');

// Every breaker's state, to save and restore across a restart (mesh.restoreCircuitBreakers).
for (const [service, snapshot] of Object.entries(mesh.circuitBreakers())) console.log(`${service}: ${snapshot.state}`);
await mesh.close();
server.close();
