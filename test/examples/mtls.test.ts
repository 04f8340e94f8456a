// The mTLS example (examples/mtls): STRICT mTLS between two meshes with dev CA SVIDs, the
// allowed caller served, a stranger denied by AuthorizationPolicy, plaintext refused, and
// a rotation under traffic with no failed request.
import { afterEach, describe, expect, it } from 'vitest';
import { startExample, type RunningExample } from './run-example.js';

describe('examples/mtls', () => {
  let run: RunningExample | undefined;
  afterEach(() => run?.kill());

  it('serves productpage, denies a stranger, refuses plaintext, and rotates under traffic without a failure', async () => {
    run = startExample('examples/mtls/main.ts');
    const exit = await run.exit(90_000);
    const stdout = run.stdout();
    expect(exit, stdout + run.stderr()).toMatchObject({ code: 0, signal: null });
    expect(stdout).toContain('productpage -> 200 reviews for cluster.local/ns/default/sa/productpage');
    expect(stdout).toContain('stranger    -> 403 RBAC: access denied');
    expect(stdout).toMatch(/plaintext {3}-> 400 mutual TLS is required on port \d+ \(PeerAuthentication mode STRICT\)/);
    expect(stdout).toContain('DENIED (403): 1 ALLOW policy applies and none matches');
    const rotation = /rotation under traffic: (\d+) requests ok, (\d+) failed, (\d+) server rotations, (\d+) server certificates served/.exec(stdout);
    expect(rotation, stdout).not.toBeNull();
    const [, ok, failed, rotations, certificates] = rotation!.map(Number);
    expect(failed).toBe(0);
    expect(ok).toBeGreaterThan(0);
    expect(rotations).toBeGreaterThanOrEqual(2);
    expect(certificates).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
