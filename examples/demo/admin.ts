/**
 * The demo's admin server: each phase makes a fresh mesh, and each gets `mesh.admin()` on
 * the same port, so one dashboard URL follows the whole demo (the page's event stream
 * reconnects by itself when a phase's mesh, and its admin server, closes).
 */
import { createServer } from 'node:net';
import type { Mesh } from 'proxyless';

/** A port free right now on 127.0.0.1 (listen on 0, note it, close). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The port every phase's admin server listens on. */
export class DemoAdmin {
  private constructor(readonly port: number) {}

  /** Picks the port (`PROXYLESS_DEMO_ADMIN_PORT`, else a free one). */
  static async start(env: NodeJS.ProcessEnv): Promise<DemoAdmin> {
    const wanted = Number(env.PROXYLESS_DEMO_ADMIN_PORT);
    return new DemoAdmin(Number.isInteger(wanted) && wanted > 0 && wanted < 65536 ? wanted : await freePort());
  }

  /** The dashboard's address. */
  get dashboardUrl(): string {
    return `http://127.0.0.1:${this.port}/dashboard`;
  }

  /** Starts `mesh`'s admin server on the demo's port (closed with the mesh). A port taken meanwhile is not worth failing the demo for. */
  async attach(mesh: Mesh): Promise<void> {
    await mesh.admin({ port: this.port }).catch((error: Error) => process.emitWarning(`demo admin server not started: ${error.message}`));
  }
}
