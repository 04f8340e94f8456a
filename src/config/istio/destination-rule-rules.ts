import type { z } from 'zod';
import type { PathPart } from '../config-path.js';
import { checkExportTo, checkSelectorHasLabels } from './common-rules.js';
import type { destinationRuleSpecSchema } from './destination-rule.js';
import type { Findings, RuleContext } from './findings.js';
import { checkLoadBalancer } from './load-balancer-rules.js';
import { isZeroDuration } from './normalize.js';
import { fqdnProblem, isDns1123Label, isIpAddress, wildcardDomainProblem } from './names.js';
import type { connectionPoolSchema, outlierDetectionSchema, portTrafficPolicySchema, trafficPolicySchema } from './traffic-policy.js';

/**
 * The rules Istio applies to a DestinationRule beyond its structure, from istio/istio
 * pkg/config/validation (validation.go: ValidateDestinationRule, validateTrafficPolicy
 * and what it calls; agent/validation.go: ValidateTLS), in our own code.
 *
 * @module
 */

type Spec = z.output<typeof destinationRuleSpecSchema>;
type TrafficPolicy = z.output<typeof trafficPolicySchema>;
type PortPolicy = z.output<typeof portTrafficPolicySchema>;

/** Checks a parsed DestinationRule spec. */
export function checkDestinationRule(spec: Spec, context: RuleContext, findings: Findings): void {
  const hostProblem = wildcardDomainProblem(spec.host);
  if (hostProblem !== undefined) findings.error(['spec', 'host'], spec.host, `a host name, "*.domain" or "*" (${hostProblem})`);
  checkTrafficPolicy(spec.trafficPolicy, ['spec', 'trafficPolicy'], context, findings);
  const names = new Set<string>();
  (spec.subsets ?? []).forEach((subset, i) => {
    const at: PathPart[] = ['spec', 'subsets', i];
    if (subset.name === '') findings.error([...at, 'name'], subset.name, 'a subset name such as "v1"');
    else if (!isDns1123Label(subset.name)) findings.error([...at, 'name'], subset.name, 'a subset name such as "v1" (a DNS-1123 label: letters, digits and inner dashes, at most 63 characters)');
    if (names.has(subset.name)) findings.error([...at, 'name'], subset.name, 'subset names unique within the rule');
    names.add(subset.name);
    checkTrafficPolicy(subset.trafficPolicy, [...at, 'trafficPolicy'], context, findings);
  });
  checkExportTo(spec.exportTo, context.namespace, findings, { workloadSelector: spec.workloadSelector !== undefined });
  if (spec.workloadSelector !== undefined) checkSelectorHasLabels(spec.workloadSelector.matchLabels, ['spec', 'workloadSelector'], findings);
}

function checkTrafficPolicy(policy: TrafficPolicy | undefined, at: PathPart[], context: RuleContext, findings: Findings): void {
  if (policy === undefined) return;
  const fields = ['outlierDetection', 'connectionPool', 'loadBalancer', 'tls', 'portLevelSettings', 'tunnel', 'proxyProtocol', 'retryBudget'] as const;
  if (fields.every((f) => policy[f] === undefined || (f === 'portLevelSettings' && policy[f]!.length === 0))) {
    findings.errorText(at, `a traffic policy with at least one of ${fields.join(', ')}`);
    return;
  }
  if (policy.tunnel !== undefined && policy.proxyProtocol !== undefined) {
    findings.errorText(at, 'either tunnel or proxyProtocol, not both');
    return;
  }
  checkPolicyParts(policy, at, context, findings);
  (policy.portLevelSettings ?? []).forEach((port, i) => checkPortPolicy(port, [...at, 'portLevelSettings', i], context, findings));
  const tunnel = policy.tunnel;
  if (tunnel !== undefined) {
    const here = [...at, 'tunnel'];
    if (tunnel.protocol !== undefined && tunnel.protocol !== '' && tunnel.protocol !== 'CONNECT' && tunnel.protocol !== 'POST') findings.error([...here, 'protocol'], tunnel.protocol, '"CONNECT" or "POST"');
    if (fqdnProblem(tunnel.targetHost) !== undefined && !isIpAddress(tunnel.targetHost)) findings.error([...here, 'targetHost'], tunnel.targetHost, 'a host name or an IP address');
    if (tunnel.targetPort < 1 || tunnel.targetPort > 65535) findings.error([...here, 'targetPort'], tunnel.targetPort, 'a port number from 1 to 65535');
  }
}

function checkPortPolicy(port: PortPolicy, at: PathPart[], context: RuleContext, findings: Findings): void {
  if (port.port.number === undefined) findings.errorText([...at, 'port'], 'a port: {number: N} for a port-level setting');
  else if (port.port.number < 1 || port.port.number > 65535) {
    findings.warn([...at, 'port', 'number'], `port ${port.port.number} is not a port number (1-65535): Istio accepts it, and the setting never applies`);
  }
  if (port.outlierDetection === undefined && port.connectionPool === undefined && port.loadBalancer === undefined && port.tls === undefined) {
    findings.errorText(at, 'a port-level setting with at least one of loadBalancer, connectionPool, outlierDetection, tls');
    return;
  }
  checkPolicyParts(port, at, context, findings);
}

/** The parts a traffic policy and a port-level setting share. */
function checkPolicyParts(policy: TrafficPolicy | PortPolicy, at: PathPart[], context: RuleContext, findings: Findings): void {
  checkOutlierDetection(policy.outlierDetection, [...at, 'outlierDetection'], findings);
  checkConnectionPool(policy.connectionPool, [...at, 'connectionPool'], findings);
  checkLoadBalancer(policy.loadBalancer, policy.outlierDetection !== undefined, [...at, 'loadBalancer'], findings);
  checkTls(policy.tls, [...at, 'tls'], context, findings);
}

function checkOutlierDetection(outlier: z.output<typeof outlierDetectionSchema> | undefined, at: PathPart[], findings: Findings): void {
  if (outlier === undefined) return;
  if (!outlier.splitExternalLocalOriginErrors && (outlier.consecutiveLocalOriginFailures ?? 0) > 0) {
    findings.error([...at, 'consecutiveLocalOriginFailures'], outlier.consecutiveLocalOriginFailures, 'splitExternalLocalOriginErrors: true (local-origin failures are counted apart only when it is set)');
  }
  for (const key of ['maxEjectionPercent', 'minHealthPercent'] as const) {
    const value = outlier[key];
    if (value !== undefined && (value < 0 || value > 100)) findings.error([...at, key], value, 'a percentage from 0 to 100');
  }
}

function checkConnectionPool(pool: z.output<typeof connectionPoolSchema> | undefined, at: PathPart[], findings: Findings): void {
  if (pool === undefined) return;
  if (pool.http === undefined && pool.tcp === undefined) {
    findings.errorText(at, 'a connection pool with http, tcp or both');
    return;
  }
  const http = pool.http;
  if (http !== undefined) {
    for (const key of ['http1MaxPendingRequests', 'http2MaxRequests', 'maxRequestsPerConnection', 'maxRetries', 'maxConcurrentStreams'] as const) {
      const value = http[key];
      if (value !== undefined && value < 0) findings.error([...at, 'http', key], value, 'a number >= 0');
    }
    if (http.h2UpgradePolicy === 'UPGRADE' && http.useClientProtocol) findings.errorText([...at, 'http'], 'useClientProtocol unset or false when h2UpgradePolicy is UPGRADE');
    const keepAlive = http.http2KeepAlive;
    if (keepAlive !== undefined) {
      if (keepAlive.interval === undefined) findings.errorText([...at, 'http', 'http2KeepAlive', 'interval'], 'an interval for http2KeepAlive (required)');
      if (keepAlive.timeout === undefined) findings.errorText([...at, 'http', 'http2KeepAlive', 'timeout'], 'a timeout for http2KeepAlive (required)');
    }
  }
  const tcp = pool.tcp;
  if (tcp?.maxConnections !== undefined && tcp.maxConnections < 0) findings.error([...at, 'tcp', 'maxConnections'], tcp.maxConnections, 'a number >= 0');
  if (isZeroDuration(tcp?.idleTimeout)) {
    findings.warn([...at, 'tcp', 'idleTimeout'], 'turns the idle timeout off in Istio; proxyless keeps its default idle timeout for pooled connections');
  }
}

/** `ClientTLSSettings` (ValidateTLS). */
function checkTls(tls: TrafficPolicy['tls'], at: PathPart[], context: RuleContext, findings: Findings): void {
  if (tls === undefined) return;
  const credential = tls.credentialName ?? '';
  if (credential.startsWith('configmap://')) {
    const [namespace, name] = credential.slice('configmap://'.length).split('/');
    if (!namespace || !name) findings.error([...at, 'credentialName'], credential, 'configmap://<namespace>/<name>');
    else if (namespace !== context.namespace) findings.error([...at, 'credentialName'], credential, `a configmap:// credential in the rule's own namespace, ${context.namespace}`);
  }
  if (tls.insecureSkipVerify) {
    if (tls.mode === 'SIMPLE' && (tls.caCertificates || credential || tls.subjectAltNames !== undefined)) {
      findings.errorText([...at, 'insecureSkipVerify'], 'insecureSkipVerify without caCertificates, credentialName or subjectAltNames (they verify what it skips)');
    }
    if (tls.mode === 'MUTUAL' && (tls.caCertificates || tls.subjectAltNames !== undefined)) {
      findings.errorText([...at, 'insecureSkipVerify'], 'insecureSkipVerify without caCertificates or subjectAltNames (they verify what it skips)');
    }
  }
  if ((tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL') && credential !== '') {
    if (tls.clientCertificate || tls.caCertificates || tls.privateKey || tls.caCrl) {
      findings.errorText(at, 'either credentialName or certificate files (clientCertificate, privateKey, caCertificates, caCrl), not both');
    }
    return;
  }
  if (tls.mode === 'MUTUAL') {
    if (!tls.clientCertificate) findings.errorText([...at, 'clientCertificate'], 'a client certificate for MUTUAL TLS (or a credentialName)');
    if (!tls.privateKey) findings.errorText([...at, 'privateKey'], 'a private key for MUTUAL TLS (or a credentialName)');
  }
}
