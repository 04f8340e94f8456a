// The dashboard in a real browser: Debian's chromium, headless, driven by playwright-core
// (its own browser downloads do not work here; the system executable is used).
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackends, type Backend } from '../../helpers/backends.js';

const CHROMIUM = '/usr/bin/chromium';
// The screenshot is taken every run (a page that cannot render fails here), but written
// over the committed docs/dashboard.png only when asked (UPDATE_SCREENSHOTS=1 npm test),
// so a test run leaves the working tree as it was.
const SCREENSHOT =
  process.env['UPDATE_SCREENSHOTS'] === '1'
    ? fileURLToPath(new URL('../../../docs/dashboard.png', import.meta.url))
    : join(tmpdir(), `proxyless-dashboard-${process.pid}.png`);

const CONFIG = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
  trafficPolicy:
    # Round robin keeps sending to a failing endpoint (Peak EWMA would shun it after one
    # failure, leaving its count short of the threshold): the ejection comes for sure.
    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection: { consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100 }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - name: canary
    route:
    - { destination: { host: reviews, subset: v1 }, weight: 90 }
    - { destination: { host: reviews, subset: v2 }, weight: 10 }
`;

// CI installs chromium (.ci/run's apt-get line); a machine without it cannot run this test.
describe.skipIf(!existsSync(CHROMIUM))('dashboard in chromium', () => {
  let backends: Backend[];
  let mesh: Mesh;
  let browser: Browser;
  let traffic = true;
  let loop: Promise<void>;

  beforeAll(async () => {
    backends = await startBackends(5);
    const reviews = backends.slice(0, 3).map((b, i) => ({ address: '127.0.0.1', port: b.port, labels: { version: i === 2 ? 'v2' : 'v1' } }));
    const ratings = backends.slice(3).map((b) => b.address);
    mesh = createMesh({ discovery: [staticEndpoints({ reviews, ratings })], config: CONFIG });
    // Traffic for the whole test: one request after another to each service.
    const send = (url: string): Promise<void> => mesh.fetch(url).then((r) => r.arrayBuffer().then(() => undefined), () => undefined);
    loop = (async () => {
      while (traffic) await Promise.all([send('http://reviews/'), send('http://ratings/')]);
    })();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    traffic = false;
    await loop;
    await browser?.close();
    await mesh.close();
    await closeAll(backends);
  });

  it('loads without console errors, shows the services under traffic, numbers change, and a killed endpoint shows ejected within 2 s', async () => {
    const admin = await mesh.admin({ intervalMs: 250 });
    const page = await browser.newPage({ viewport: { width: 1400, height: 820 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(admin.dashboardUrl);

    const v1 = 'reviews.default.svc.cluster.local:80/v1';
    await page.locator(`tr[data-service="${v1}"]`).waitFor();
    await page.locator('tr[data-service="ratings.default.svc.cluster.local:80"]').waitFor();
    await page.locator('[data-split="reviews.default.svc.cluster.local canary"]').waitFor();

    // Numbers change: the endpoint request counts grow from frame to frame.
    // Clicks are dispatched on the element: the table is redrawn every frame, so a mouse
    // click waiting for the row to be "stable" under a loaded machine would only test layout.
    await page.locator(`tr[data-service="${v1}"]`).dispatchEvent('click');
    const victim = backends[0]!;
    const row = page.locator(`tr[data-endpoint="127.0.0.1:${victim.port}"]`);
    await row.waitFor();
    const before = await row.locator('td').nth(6).textContent();
    await page.waitForFunction(
      ([key, seen]) => {
        // Runs in the page (this file's types have no DOM).
        const cell = (globalThis as any).document.querySelector(`tr[data-endpoint="${key}"]`)?.querySelectorAll('td')[6];
        return cell !== undefined && cell.textContent !== seen;
      },
      [`127.0.0.1:${victim.port}`, before] as const,
    );

    // Kill an endpoint: it shows as ejected (the DOM state is waited for, for at most 2 s).
    await victim.close();
    const killedAt = performance.now();
    await page.locator(`tr[data-endpoint="127.0.0.1:${victim.port}"][data-state="ejected"]`).waitFor({ timeout: 2000 });
    const shownAfterMs = performance.now() - killedAt;
    await page.locator('[data-kind="endpoint-ejected"]').first().waitFor();
    expect(await row.locator('.badge').textContent()).toMatch(/^ejected \(consecutive5xx, \d+s left\)$/);

    mkdirSync(fileURLToPath(new URL('.', `file://${SCREENSHOT}`)), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    if (process.env['UPDATE_SCREENSHOTS'] !== '1') rmSync(SCREENSHOT);
    expect(errors).toEqual([]);
    expect(shownAfterMs).toBeLessThanOrEqual(2000);
    await page.close();
    await admin.close();
  });

  // A page with 10,000 endpoints behind it on a shared 2-core machine: more time than the default.
  it('stays usable with 100 services and 10,000 endpoints: each frame carries a page of endpoints per service, the page lists every service', async () => {
    const SERVICES = 100;
    const PER_SERVICE = 100;
    const catalog: Record<string, string[]> = {};
    for (let s = 0; s < SERVICES; s++) {
      // Addresses nobody listens on: the services are built (explain), not called.
      catalog[`svc${s}`] = Array.from({ length: PER_SERVICE }, (_, i) => `10.${s}.${Math.floor(i / 250)}.${(i % 250) + 1}:8080`);
    }
    const big = createMesh({ discovery: [staticEndpoints(catalog)] });
    try {
      await Promise.all(Object.keys(catalog).map((name) => big.explain(`http://${name}/`)));
      const admin = await big.admin();
      const frame = (await (await fetch(`${admin.url}/dashboard/frame`)).json()) as { totals: { endpoints: number; services: number }; services: Array<{ endpoints: unknown[]; counts: { endpoints: number } }> };
      expect(frame.totals).toMatchObject({ services: SERVICES, endpoints: SERVICES * PER_SERVICE });
      expect(frame.services.every((s) => s.endpoints.length < s.counts.endpoints)).toBe(true);
      const page = await browser.newPage({ viewport: { width: 1400, height: 820 } });
      page.setDefaultTimeout(20_000);
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(admin.dashboardUrl);
      await page.locator('tr[data-service="svc99.default.svc.cluster.local:80"]').waitFor();
      expect(await page.locator('tr.svc').count()).toBe(SERVICES);
      // Paging: the next page of a service's endpoints comes from /clusters.
      await page.locator('tr[data-service="svc7.default.svc.cluster.local:80"]').dispatchEvent('click');
      const endpoints = page.locator('tr[data-endpoints-of="svc7.default.svc.cluster.local:80"]');
      await endpoints.locator('.more', { hasText: 'list all' }).dispatchEvent('click');
      await endpoints.filter({ hasText: 'showing 1-50 of 100 endpoints' }).waitFor();
      await endpoints.locator('.more', { hasText: 'next' }).dispatchEvent('click');
      await endpoints.filter({ hasText: 'showing 51-100 of 100 endpoints' }).waitFor();
      expect(await endpoints.locator('tr[data-endpoint]').count()).toBe(50);
      // The filter narrows the list.
      await page.locator('#filter').fill('svc42.');
      await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('tr.svc').length === 1);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await big.close();
    }
  }, 60_000);
});
