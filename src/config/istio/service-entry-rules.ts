import type { z } from 'zod';
import type { PathPart } from '../config-path.js';
import { checkExportTo } from './common-rules.js';
import type { Findings, RuleContext } from './findings.js';
import { fqdnProblem, ipSubnetProblem, isDns1123Label, isIpAddress, labelKeyProblem, labelValueProblem, wildcardDomainProblem } from './names.js';
import type { serviceEntrySpecSchema } from './service-entry.js';

/**
 * The rules Istio applies to a ServiceEntry beyond its structure, from istio/istio
 * pkg/config/validation/validation.go (ValidateServiceEntry, validateWorkloadEntry,
 * ValidateUnixAddress) and the CRD's CEL rules, in our own code.
 *
 * @module
 */

type Spec = z.output<typeof serviceEntrySpecSchema>;
type Endpoint = NonNullable<Spec['endpoints']>[number];

/** Protocol names Istio knows (`protocol.Parse`, any case). */
const PROTOCOLS = new Set(['tcp', 'udp', 'grpc', 'grpc-web', 'http', 'http_proxy', 'http2', 'https', 'tls', 'mongo', 'redis', 'mysql']);
const HTTP_PROTOCOLS = new Set(['http', 'http2', 'http_proxy', 'grpc', 'grpc-web']);
const TLS_PROTOCOLS = new Set(['https', 'tls']);
const TCP_PROTOCOLS = new Set(['tcp', 'https', 'tls', 'mongo', 'redis', 'mysql']);
const UNIX = 'unix://';

/** Checks a parsed ServiceEntry spec; `labels` are the resource's own metadata labels (waypoints). */
export function checkServiceEntry(spec: Spec, context: RuleContext & { labels?: Readonly<Record<string, string>> | undefined }, findings: Findings): void {
  const resolution = spec.resolution ?? 'NONE';
  const selector = spec.workloadSelector;
  if (selector !== undefined) {
    for (const [key, value] of Object.entries(selector.labels ?? {})) {
      const problem = labelKeyProblem(key) ?? labelValueProblem(value);
      if (problem !== undefined && !key.includes('*') && !value.includes('*')) findings.error(['spec', 'workloadSelector', 'labels', key], key, problem);
    }
    if (Object.keys(selector.labels ?? {}).length === 0) findings.warn(['spec', 'workloadSelector'], 'a workloadSelector without labels selects every workload in the namespace');
    if (spec.endpoints !== undefined) findings.errorText(['spec', 'workloadSelector'], 'either workloadSelector or endpoints, not both');
  }

  spec.hosts.forEach((host, i) => {
    if (host === '*') findings.error(['spec', 'hosts', i], host, 'a host other than "*"');
    else {
      const problem = wildcardDomainProblem(host);
      if (problem !== undefined) findings.error(['spec', 'hosts', i], host, `a host name or "*.domain" (${problem})`);
      else if (resolution !== 'DYNAMIC_DNS' && host.includes('*') && !host.startsWith('*.')) {
        findings.warn(['spec', 'hosts', i], `the partial wildcard "${host}": Istio accepts it with a warning; it matches any host ending in "${host.slice(1)}"`);
      }
    }
  });

  const addresses = spec.addresses ?? [];
  addresses.forEach((address, i) => {
    const problem = ipSubnetProblem(address);
    if (problem !== undefined) findings.error(['spec', 'addresses', i], address, `an IP address or CIDR block (${problem})`);
  });
  if (addresses.some((a) => a.includes('/')) && resolution !== 'NONE' && resolution !== 'STATIC') {
    findings.errorText(['spec', 'addresses'], `IP addresses without CIDR blocks with resolution ${resolution} (CIDR blocks are for NONE and STATIC)`);
  }

  const portNames = new Set<string>();
  const portNumbers = new Set<number>();
  let tcpWithoutAddress = false;
  spec.ports.forEach((port, i) => {
    const at: PathPart[] = ['spec', 'ports', i];
    if (portNames.has(port.name)) findings.error([...at, 'name'], port.name, 'port names unique in the entry');
    else if (!isDns1123Label(port.name)) findings.error([...at, 'name'], port.name, 'a port name such as "http" (a DNS-1123 label)');
    portNames.add(port.name);
    if (portNumbers.has(port.number)) findings.error([...at, 'number'], port.number, 'port numbers unique in the entry');
    portNumbers.add(port.number);
    if (port.protocol !== undefined && port.protocol !== '' && !PROTOCOLS.has(port.protocol.toLowerCase())) {
      findings.error([...at, 'protocol'], port.protocol, 'a protocol: HTTP, HTTPS, HTTP2, GRPC, GRPC-Web, TLS, TCP, UDP, Mongo, Redis, MySQL, HTTP_PROXY (any case)');
    }
    if (addresses.length === 0 && (port.protocol === undefined || port.protocol === '' || port.protocol === 'TCP')) tcpWithoutAddress = true;
  });
  if (tcpWithoutAddress) {
    findings.warn(['spec', 'addresses'], 'addresses are needed for ports with protocol TCP (or none): Istio captures such traffic by IP address and warns when there is none');
  }
  if (spec.ports.length === 0) findings.warn(['spec', 'ports'], 'an entry without ports: proxyless applies an entry to the ports it declares, so no request reaches it');

  const endpoints = spec.endpoints ?? [];
  endpoints.forEach((endpoint, i) => checkEndpointShape(endpoint, ['spec', 'endpoints', i], findings));
  switch (resolution) {
    case 'NONE':
      if (endpoints.length > 0) findings.errorText(['spec', 'endpoints'], 'no endpoints with resolution NONE (the default): requests go where the caller sent them; set resolution STATIC or DNS');
      if (selector !== undefined) findings.warn(['spec', 'workloadSelector'], 'a workloadSelector with resolution NONE selects nothing: requests go where the caller sent them');
      break;
    case 'STATIC':
      if (spec.endpoints === undefined || endpoints.length === 0) {
        if (selector === undefined) findings.warn(['spec', 'endpoints'], 'a STATIC entry without endpoints: Istio may take them from WorkloadEntries, which proxyless does not read; requests then go to the host name itself');
      }
      endpoints.forEach((endpoint, i) => checkEndpoint(endpoint, ['spec', 'endpoints', i], portNames, false, findings));
      if (endpoints.some((e) => e.address?.startsWith(UNIX)) && spec.ports.length !== 1) findings.errorText(['spec', 'ports'], 'exactly one port in an entry with unix socket endpoints');
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      if (endpoints.length === 0) {
        const i = spec.hosts.findIndex((host) => fqdnProblem(host) !== undefined);
        if (i >= 0) findings.error(['spec', 'hosts', i], spec.hosts[i], `a host name without wildcards: resolution ${resolution} without endpoints resolves the hosts themselves`);
      }
      if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) findings.errorText(['spec', 'endpoints'], 'at most one endpoint with resolution DNS_ROUND_ROBIN');
      endpoints.forEach((endpoint, i) => checkEndpoint(endpoint, ['spec', 'endpoints', i], portNames, true, findings));
      if (addresses.length > 0 && spec.hosts.length > 1 && spec.ports.some((p) => TCP_PROTOCOLS.has((p.protocol ?? '').toLowerCase()))) {
        findings.warn(['spec', 'hosts'], 'several hosts with addresses and a TCP port: the hosts cannot be told apart on that port');
      }
      break;
    case 'DYNAMIC_DNS':
      spec.hosts.forEach((host, i) => {
        if (!host.startsWith('*')) findings.error(['spec', 'hosts', i], host, 'a wildcard host ("*.example.com") with resolution DYNAMIC_DNS');
      });
      if (addresses.length > 0) findings.errorText(['spec', 'addresses'], 'no addresses with resolution DYNAMIC_DNS (requests are routed by host name)');
      if (endpoints.length > 0) findings.errorText(['spec', 'endpoints'], 'no endpoints with resolution DYNAMIC_DNS (the requested host name is resolved)');
      spec.ports.forEach((port, i) => {
        const protocol = (port.protocol ?? '').toLowerCase();
        if (!['http', 'tls', 'grpc', 'http2'].includes(protocol)) findings.error(['spec', 'ports', i, 'protocol'], port.protocol, 'HTTP, HTTP2, GRPC or TLS with resolution DYNAMIC_DNS');
      });
      if (spec.location === 'MESH_INTERNAL' && usesWaypoint(context.labels)) findings.error(['spec', 'location'], spec.location, 'MESH_EXTERNAL with resolution DYNAMIC_DNS behind a waypoint');
      break;
  }
  if (resolution !== 'NONE' && spec.hosts.length > 1) {
    const plain = spec.ports.some((p) => {
      const protocol = (p.protocol ?? '').toLowerCase();
      return !HTTP_PROTOCOLS.has(protocol) && !TLS_PROTOCOLS.has(protocol);
    });
    if (plain) findings.errorText(['spec', 'hosts'], `one host, or only HTTP and TLS ports: with resolution ${resolution}, several hosts on a TCP port (or one without protocol) cannot be told apart`);
  }
  checkExportTo(spec.exportTo, context.namespace, findings, { serviceEntry: true });
}

function usesWaypoint(labels: Readonly<Record<string, string>> | undefined): boolean {
  const value = labels?.['istio.io/use-waypoint'];
  return value !== undefined && value !== '' && value.toLowerCase() !== 'none';
}

/** The CRD's rules for any endpoint: an address or a network; unix sockets absolute, not directories, without ports. */
function checkEndpointShape(endpoint: Endpoint, at: PathPart[], findings: Findings): void {
  const address = endpoint.address;
  if (address === undefined || address === '') {
    if (endpoint.network === undefined || endpoint.network === '') findings.errorText([...at, 'address'], 'an address (or, for an endpoint in another network, a network)');
    else findings.warn([...at, 'address'], `an endpoint with a network (${endpoint.network}) and no address: Istio reaches it through that network's gateway; proxyless cannot, and leaves it out`);
    return;
  }
  if (address.startsWith(UNIX)) {
    const path = address.slice(UNIX.length);
    if (!path.startsWith('/') && !path.startsWith('@')) findings.error([...at, 'address'], address, 'a unix socket as an absolute path ("unix:///var/run/app.sock") or an abstract name ("unix://@app")');
    else if (path.endsWith('/')) findings.error([...at, 'address'], address, 'a unix socket file, not a directory');
    if (endpoint.ports !== undefined) findings.errorText([...at, 'ports'], 'no ports for a unix socket endpoint');
    findings.warn([...at, 'address'], 'a unix socket endpoint: proxyless connects over TCP only and leaves it out');
  }
  for (const [name, port] of Object.entries(endpoint.ports ?? {})) {
    if (!(name.length < 63 && /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(name))) findings.error([...at, 'ports', name], name, 'a port name (a DNS-1123 label)');
    if (port < 1 || port > 65535) findings.error([...at, 'ports', name], port, 'a port number from 1 to 65535');
  }
}

/** validateWorkloadEntry for STATIC (`hostNames` false: IP addresses only) and DNS endpoints. */
function checkEndpoint(endpoint: Endpoint, at: PathPart[], portNames: ReadonlySet<string>, hostNames: boolean, findings: Findings): void {
  const address = endpoint.address ?? '';
  if (address !== '' && !address.startsWith(UNIX) && !isIpAddress(address)) {
    if (!hostNames) findings.error([...at, 'address'], address, 'an IP address with resolution STATIC (use resolution DNS for host names)');
    else if (fqdnProblem(address) !== undefined) findings.error([...at, 'address'], address, 'an IP address or a host name');
  } else if (hostNames && address.startsWith(UNIX)) {
    findings.error([...at, 'address'], address, 'an IP address or a host name (unix sockets are for resolution STATIC)');
  }
  for (const name of Object.keys(endpoint.ports ?? {})) {
    if (!portNames.has(name)) findings.error([...at, 'ports', name], name, `the name of one of the entry's ports (${[...portNames].join(', ') || 'none declared'})`);
  }
}
