import type { z } from 'zod';
import type { PathPart } from '../../config-path.js';
import { checkSelectorHasLabels } from '../common-rules.js';
import type { Findings } from '../findings.js';
import { jwksProblem, jwksPrivateKeys } from './jwks.js';
import type { peerAuthenticationSchema, requestAuthenticationSchema, targetRefSchema } from './security-schemas.js';

/**
 * Istio's rules for PeerAuthentication and RequestAuthentication, and the selector and
 * targetRef rules the security kinds share (istio/istio pkg/config/validation/validation.go:
 * ValidatePeerAuthentication, ValidateRequestAuthentication, validateJwtRule,
 * validateOneOfSelectorType, validatePolicyTargetReference; pkg/config/security:
 * ParseJwksURI), in our own code.
 *
 * @module
 */

type TargetRef = z.output<typeof targetRefSchema>;

/** The kinds a policy's targetRef may name (group '' is Kubernetes' core group). */
const TARGET_KINDS = new Set(['core/Service', 'networking.istio.io/ServiceEntry', 'gateway.networking.k8s.io/Gateway', 'gateway.networking.k8s.io/GatewayClass']);

/** selector, targetRef, targetRefs: at most one; targetRefs name Services, ServiceEntries or Gateways of the policy's namespace. */
export function checkSelection(
  spec: { selector?: { matchLabels?: Record<string, string> | undefined } | undefined; targetRef?: TargetRef | undefined; targetRefs?: TargetRef[] | undefined },
  findings: Findings,
): void {
  const set = [spec.selector !== undefined ? 'selector' : '', spec.targetRef !== undefined ? 'targetRef' : '', (spec.targetRefs?.length ?? 0) > 0 ? 'targetRefs' : ''].filter(Boolean);
  if (set.length > 1) findings.errorText(['spec', set.includes('targetRefs') ? 'targetRefs' : 'targetRef'], `one of selector, targetRef, targetRefs (this policy sets ${set.join(' and ')})`);
  if (spec.selector !== undefined) checkSelectorHasLabels(spec.selector.matchLabels, ['spec', 'selector'], findings);
  const refs: Array<[TargetRef, PathPart[]]> = [
    ...(spec.targetRef ? [[spec.targetRef, ['spec', 'targetRef']] as [TargetRef, PathPart[]]] : []),
    ...(spec.targetRefs ?? []).map((ref, i): [TargetRef, PathPart[]] => [ref, ['spec', 'targetRefs', i]]),
  ];
  for (const [ref, at] of refs) {
    if (ref.namespace) findings.error([...at, 'namespace'], ref.namespace, 'no namespace: a policy targets resources of its own namespace only');
    if (!TARGET_KINDS.has(`${ref.group || 'core'}/${ref.kind}`)) findings.error([...at, 'kind'], `${ref.group ?? ''}/${ref.kind}`, 'a Service, a ServiceEntry (networking.istio.io), a Gateway or a GatewayClass (gateway.networking.k8s.io)');
  }
  if (refs.length > 0) {
    findings.warn(['spec', spec.targetRefs !== undefined ? 'targetRefs' : 'targetRef'], 'a policy with targetRefs applies to gateways and waypoints, never to an in-process workload');
  }
}

/** A PeerAuthentication (ValidatePeerAuthentication and the CRD's rules). */
export function checkPeerAuthentication(spec: z.output<typeof peerAuthenticationSchema>['spec'], findings: Findings): void {
  const labels = Object.keys(spec.selector?.matchLabels ?? {});
  if (spec.portLevelMtls !== undefined) {
    const ports = Object.keys(spec.portLevelMtls);
    if (ports.length === 0) findings.errorText(['spec', 'portLevelMtls'], 'at least one port in portLevelMtls (or leave it out)');
    if (labels.length === 0) findings.errorText(['spec', 'portLevelMtls'], 'a selector with labels: portLevelMtls applies to a workload, not to a namespace or the mesh');
    for (const port of ports) {
      if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) findings.error(['spec', 'portLevelMtls', port], port, 'a port number from 1 to 65535 as the key');
    }
  }
  if (spec.selector !== undefined) checkSelectorHasLabels(spec.selector.matchLabels, ['spec', 'selector'], findings);
}

/** Go's `url.Parse` as far as a JWKS URI needs it: http(s), a host, a numeric port. */
function jwksUriProblem(uri: string): string | undefined {
  const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)/.exec(uri);
  if (match === null) return 'an http:// or https:// URL such as "https://example.com/.well-known/jwks.json"';
  if (match[1] !== 'http' && match[1] !== 'https') return `an http:// or https:// URL (not ${match[1]}://)`;
  const authority = match[2]!.replace(/^[^@]*@/, '');
  const port = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(authority)?.[2];
  if (port !== undefined && !/^\d*$/.test(port)) return `an http:// or https:// URL with a numeric port (not "${port}")`;
  return undefined;
}

/** A RequestAuthentication (ValidateRequestAuthentication, validateJwtRule). */
export function checkRequestAuthentication(spec: z.output<typeof requestAuthenticationSchema>['spec'], findings: Findings): void {
  checkSelection(spec, findings);
  (spec.jwtRules ?? []).forEach((rule, i) => {
    const at: PathPart[] = ['spec', 'jwtRules', i];
    const uriKey = rule.jwksUri !== undefined ? 'jwksUri' : 'jwks_uri';
    const uri = rule.jwksUri ?? rule.jwks_uri;
    if (rule.jwks_uri !== undefined) findings.warn([...at, 'jwks_uri'], 'deprecated spelling: write jwksUri');
    if ([rule.jwksUri, rule.jwks_uri, rule.jwks].filter((x) => x !== undefined).length > 1) findings.errorText(at, 'either jwks or jwksUri, not both');
    if (!rule.issuer && !uri) findings.errorText(at, 'an issuer or a jwksUri (or both)');
    if (uri) {
      const problem = jwksUriProblem(uri);
      if (problem !== undefined) findings.error([...at, uriKey], uri, problem);
    }
    if (rule.jwks !== undefined && rule.jwks !== '') {
      const problem = jwksProblem(rule.jwks);
      if (problem !== undefined) findings.errorText([...at, 'jwks'], `a JSON Web Key Set (${problem})`);
      else {
        for (const index of jwksPrivateKeys(rule.jwks)) findings.warn([...at, 'jwks'], `key ${index} holds private key material; only public keys are needed to verify tokens (remove the private parts)`);
      }
    }
  });
}
