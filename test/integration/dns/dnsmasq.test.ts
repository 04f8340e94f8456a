import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { request } from 'undici';
import { createMesh, UnknownServiceError, type DestinationRule } from 'proxyless';
import { dns } from '../../../src/discovery/dns/index.js';
import { closeAll, startBackends, type Backend } from '../../helpers/backends.js';
import { findBinary } from '../../helpers/dns/daemon.js';
import { startDnsmasq, type Dnsmasq } from '../../helpers/dns/dnsmasq.js';
import { requireBinaries } from '../../helpers/system-binaries.js';

/**
 * The DNS source in a mesh against a real dnsmasq on 127.0.0.1: Kubernetes-style names
 * (A records, headless-service SRV records with priorities and weights), and a name
 * appearing when dnsmasq re-reads its hosts file on SIGHUP.
 */

const roundRobin = (host: string): DestinationRule => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: host, namespace: 'bookinfo' },
  spec: { host, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
});

const needs = requireBinaries([{ bin: 'dnsmasq', pkg: 'dnsmasq-base' }]);

// Skipped only off CI where the program is not installed (never in CI: it fails there);
// the test's name then says what is missing and the apt-get command (requireBinaries).
describe.skipIf(needs.skip)(`dns source with dnsmasq${needs.note}`, () => {
  let dnsmasq: Dnsmasq;
  let backends: Backend[];

  beforeAll(async () => {
    backends = await startBackends(4, 'r');
    const [r0, r1, r2, r3] = backends as [Backend, Backend, Backend, Backend];
    dnsmasq = await startDnsmasq({
      // NXDOMAIN (not REFUSED) for unknown names under these, as a cluster's DNS answers.
      localDomains: ['cluster.local', 'bookinfo'],
      hostRecords: [
        ['reviews.bookinfo.svc.cluster.local', '127.0.0.1'],
        ['r.ratings.bookinfo.svc.cluster.local', '127.0.0.1'],
      ],
      // A headless service's SRV set, port named "http": weights 1:2:3 in the preferred
      // tier, and a backup tier that must get nothing while the first has endpoints.
      srvHosts: [
        { name: '_http._tcp.ratings.bookinfo.svc.cluster.local', target: 'r.ratings.bookinfo.svc.cluster.local', port: r0.port, priority: 10, weight: 1 },
        { name: '_http._tcp.ratings.bookinfo.svc.cluster.local', target: 'r.ratings.bookinfo.svc.cluster.local', port: r1.port, priority: 10, weight: 2 },
        { name: '_http._tcp.ratings.bookinfo.svc.cluster.local', target: 'r.ratings.bookinfo.svc.cluster.local', port: r2.port, priority: 10, weight: 3 },
        { name: '_http._tcp.ratings.bookinfo.svc.cluster.local', target: 'r.ratings.bookinfo.svc.cluster.local', port: r3.port, priority: 20, weight: 100 },
      ],
    });
  });
  afterAll(async () => {
    await dnsmasq?.stop();
    await closeAll(backends ?? []);
  });

  it('Kubernetes names: reviews, reviews.bookinfo and the FQDN all resolve to the A record, with the URL port', async () => {
    const source = dns({ servers: [dnsmasq.address] });
    const mesh = createMesh({ namespace: 'bookinfo', discovery: [source], outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
    const port = backends[0]!.port;
    for (const host of ['reviews', 'reviews.bookinfo', 'reviews.bookinfo.svc', 'reviews.bookinfo.svc.cluster.local']) {
      const res = await mesh.fetch(`http://${host}:${port}/`);
      expect(await res.text()).toBe('r0');
    }
    // Every spelling is one service; the DNS name was asked once per type.
    expect(mesh.services().filter((s) => s.name === 'reviews.bookinfo.svc.cluster.local')).toHaveLength(1);
    expect(source.state()).toMatchObject({ name: `dns(${dnsmasq.address})`, ready: true, services: 1, endpoints: 1, names: 2 });
    await mesh.close();
  });

  it('a headless service: SRV targets and ports, split by SRV weight, the backup tier known and unused while the first is healthy', async () => {
    const mesh = createMesh({
      namespace: 'bookinfo',
      discovery: [dns({ servers: [dnsmasq.address], srv: true })],
      config: [roundRobin('ratings')],
    });
    const before = backends.map((b) => b.requests);
    for (let i = 0; i < 600; i++) {
      const res = await request('http://ratings/', { dispatcher: mesh.dispatcher });
      expect(res.statusCode).toBe(200);
      await res.body.text();
    }
    const got = backends.map((b, i) => b.requests - before[i]!);
    expect(got).toEqual([100, 200, 300, 0]);
    // The backup tier is known (tier 1, for failover on health) and gets nothing while tier 0 is healthy.
    const service = mesh.services().find((s) => s.name === 'ratings.bookinfo.svc.cluster.local')!;
    expect(service.endpoints.map((e) => [e.key, e.weight, e.labels['proxyless.dev/priority'] ?? '0']).sort()).toEqual(
      [
        [backends[0]!.address, 1, '0'],
        [backends[1]!.address, 2, '0'],
        [backends[2]!.address, 3, '0'],
        [backends[3]!.address, 100, '1'],
      ].sort(),
    );
    await mesh.close();
  });

  it('with srv on, a service without SRV records falls back to its A record and the URL port', async () => {
    const mesh = createMesh({ namespace: 'bookinfo', discovery: [dns({ servers: [dnsmasq.address], srv: true })] });
    const res = await mesh.fetch(`http://reviews:${backends[1]!.port}/`);
    expect(await res.text()).toBe('r1');
    await mesh.close();
  });

  it('a missing server binary fails the test naming the Debian package to install (no silent skip)', () => {
    expect(() => findBinary('dnsmasq-that-is-not-installed', 'dnsmasq-base')).toThrow(
      /dnsmasq-that-is-not-installed was not found .*Install the Debian package dnsmasq-base: apt-get install -y dnsmasq-base/,
    );
  });

  it('an unknown name is missing (REGISTRY_ONLY refuses it); once added to the hosts file and SIGHUP, it is served', async () => {
    const source = dns({ servers: [dnsmasq.address], minTtl: 200, maxNegativeTtl: 200 });
    const mesh = createMesh({ namespace: 'bookinfo', discovery: [source], outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
    const url = `http://details.bookinfo:${backends[3]!.port}/`;
    const refused = await request(url, { dispatcher: mesh.dispatcher }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnknownServiceError);
    await dnsmasq.setHosts('127.0.0.1 details.bookinfo.svc.cluster.local\n');
    // The mesh re-asks once the negative answer expires (200 ms); the source reports no
    // event the test can hold, so the mesh's view of the service is polled.
    const details = () => mesh.services().find((s) => s.name === 'details.bookinfo.svc.cluster.local');
    await vi.waitFor(() => expect(details()).toMatchObject({ status: 'known', endpoints: [expect.anything()] }), { timeout: 5000, interval: 20 });
    const res = await request(url, { dispatcher: mesh.dispatcher });
    expect(await res.body.text()).toBe('r3');
    await mesh.close();
  });
});
