import { Mesh } from './mesh.js';
import type { MeshOptions } from './types.js';

/**
 * Creates a mesh client. Every option is validated here; a bad one throws an
 * `InvalidOptionError` naming the field, the value and what is expected.
 *
 * ```ts
 * const mesh = createMesh({ discovery: [staticEndpoints({ reviews: ['127.0.0.1:9080'] })] });
 * const res = await mesh.fetch('http://reviews/api/reviews/1');
 * await mesh.close();
 * ```
 */
export function createMesh(options?: MeshOptions): Mesh {
  return new Mesh(options);
}
