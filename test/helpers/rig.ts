// What a test file starts (real backends on 127.0.0.1, meshes over them), closed after
// each test: the one setup and teardown many integration tests wrote out again.
import { afterAll, afterEach } from 'vitest';
import { createMesh, staticEndpoints, type Mesh, type MeshOptions } from 'proxyless';
import { closeAll, startBackend, startBackends, type Backend, type BackendOptions } from './backends.js';

/** Starts backends and meshes for a test; each is closed after it. */
export interface TestRig {
  /** Starts a backend ({@link startBackend}). */
  backend(options: BackendOptions): Promise<Backend>;
  /** Starts `count` plain backends ({@link startBackends}: ids `b0`, `b1`, ...). */
  backends(count: number): Promise<Backend[]>;
  /** Creates a mesh. */
  mesh(options?: MeshOptions): Mesh;
  /** Creates a mesh whose discovery is a static source of `services`, each to its backends. */
  meshOver(services: Record<string, readonly Backend[]>, options?: Omit<MeshOptions, 'discovery'>): Mesh;
}

/**
 * Call once at the top of a test file (it registers an `afterEach`, or with `scope:
 * 'file'` an `afterAll`, for what a `beforeAll` set up): the meshes close first, so no
 * request is in flight when its backend goes, then the backends.
 */
export function testRig(options: { scope?: 'test' | 'file'; closeTimeoutMs?: number } = {}): TestRig {
  const servers: Backend[] = [];
  const meshes: Mesh[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(meshes.splice(0).map((m) => m.close()));
    await closeAll(servers.splice(0));
  };
  if (options.scope === 'file') afterAll(close, options.closeTimeoutMs);
  else afterEach(close, options.closeTimeoutMs);
  const mesh = (options?: MeshOptions): Mesh => {
    const m = createMesh(options);
    meshes.push(m);
    return m;
  };
  return {
    async backend(options) {
      const b = await startBackend(options);
      servers.push(b);
      return b;
    },
    async backends(count) {
      const started = await startBackends(count);
      servers.push(...started);
      return started;
    },
    mesh,
    meshOver: (services, options = {}) =>
      mesh({ ...options, discovery: [staticEndpoints(Object.fromEntries(Object.entries(services).map(([name, backends]) => [name, backends.map((b) => b.address)])))] }),
  };
}
