import { request } from 'undici';
import type { Mesh } from '../../src/index.js';

/**
 * One GET through the mesh's dispatcher to `url`, body read: the response's status, or
 * the error's `code` (else its text) when the call failed. For tests that count outcomes.
 */
export async function statusOf(mesh: Pick<Mesh, 'dispatcher'>, url = 'http://api/'): Promise<number | string> {
  try {
    const res = await request(url, { dispatcher: mesh.dispatcher });
    await res.body.text();
    return res.statusCode;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}
