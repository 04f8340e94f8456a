import type { DashboardFrame } from '../admin/frame.js';

/** Why the admin endpoint could not be read: the message is what the CLI prints. */
export class AdminClientError extends Error {}

/** Where `proxyless top` and `status` read from: `--admin URL` (or PROXYLESS_ADMIN) and the token (`--token` or PROXYLESS_ADMIN_TOKEN). */
export interface AdminTarget {
  readonly url: string;
  readonly token: string | undefined;
}

/** Checks `--admin`: an http:// URL of an admin server (its root). */
export function adminTarget(admin: string | undefined, token: string | undefined): AdminTarget | string {
  const url = admin ?? process.env.PROXYLESS_ADMIN;
  if (url === undefined || url === '') return 'give the admin endpoint: --admin http://127.0.0.1:PORT (or set PROXYLESS_ADMIN)';
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) return `--admin ${JSON.stringify(url)} (expected: an http:// URL such as http://127.0.0.1:15000)`;
  return { url: url.replace(/\/+$/, ''), token: token ?? (process.env.PROXYLESS_ADMIN_TOKEN || undefined) };
}

/** Reads one dashboard frame; throws {@link AdminClientError} saying what to do when it cannot. */
export async function readFrame(target: AdminTarget, signal?: AbortSignal): Promise<DashboardFrame> {
  let response: Response;
  try {
    response = await fetch(`${target.url}/dashboard/frame`, {
      headers: target.token === undefined ? {} : { authorization: `Bearer ${target.token}` },
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(5000)]) : AbortSignal.timeout(5000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new AdminClientError(`cannot reach the admin endpoint at ${target.url}: ${why} (is the process running with mesh.admin(), and is this its address?)`);
  }
  if (response.status === 401) {
    await response.body?.cancel();
    throw new AdminClientError(
      target.token === undefined
        ? `the admin endpoint at ${target.url} needs a token: pass --token TOKEN or set PROXYLESS_ADMIN_TOKEN`
        : `the admin endpoint at ${target.url} refused the token (401): check --token or PROXYLESS_ADMIN_TOKEN`,
    );
  }
  if (!response.ok) {
    const text = (await response.text()).slice(0, 300);
    throw new AdminClientError(`the admin endpoint at ${target.url} answered ${response.status}: ${text}`);
  }
  const frame = (await response.json()) as DashboardFrame;
  if (frame === null || typeof frame !== 'object' || !Array.isArray(frame.services)) throw new AdminClientError(`${target.url}/dashboard/frame is not a proxyless admin endpoint's answer`);
  return frame;
}
