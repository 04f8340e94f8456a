// Interim responses (1xx) are not the response: a 103 Early Hints before a 500 must not
// count as the request's outcome anywhere.
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

describe('interim responses', () => {
  it('the circuit breaker counts the final 500 after a 103 Early Hints, not the 103', async () => {
    const hinting = await startBackend({
      id: 'hints',
      handle: (_req, res) => {
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
        res.statusCode = 500;
        res.end('broken');
      },
    });
    servers.push(hinting);
    const rule = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: api
  annotations:
    proxyless.dev/circuit-breaker: '{"volumeThreshold": 3, "errorThresholdPercentage": 50, "failOn": ["5xx"]}'
spec: { host: api }`;
    const m = createMesh({ discovery: [staticEndpoints({ api: [hinting.address] })], config: rule });
    meshes.push(m);
    for (let i = 0; i < 3; i++) {
      const res = await request('http://api/', { dispatcher: m.dispatcher });
      expect(res.statusCode).toBe(500);
      await res.body.text();
    }
    await expect(request('http://api/', { dispatcher: m.dispatcher })).rejects.toMatchObject({ code: 'PROXYLESS_ERR_CIRCUIT_OPEN' });
    expect(hinting.requests).toBe(3);
  });
});
