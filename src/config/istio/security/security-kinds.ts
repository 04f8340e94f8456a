import type { z } from 'zod';
import type { KindRules } from '../../kind-rules.js';
import type { AppliedKind } from '../../kinds.js';
import { checkAuthorizationPolicy } from './authorization-rules.js';
import { checkPeerAuthentication, checkRequestAuthentication } from './security-rules.js';
import { authorizationPolicySchema, peerAuthenticationSchema, requestAuthenticationSchema } from './security-schemas.js';

const identity = (parsed: unknown): unknown => parsed;

/** The rules of the security kinds: validated as Istio validates them; applied with the security layers (issue 14). */
export const SECURITY_KIND_RULES: Readonly<Record<Extract<AppliedKind, 'PeerAuthentication' | 'AuthorizationPolicy' | 'RequestAuthentication'>, KindRules>> = {
  PeerAuthentication: {
    schema: peerAuthenticationSchema,
    check: (parsed, _context, findings) => checkPeerAuthentication((parsed as z.output<typeof peerAuthenticationSchema>).spec, findings),
    normalize: identity,
    dryRunAllowed: false,
  },
  AuthorizationPolicy: {
    schema: authorizationPolicySchema,
    check: (parsed, _context, findings) => checkAuthorizationPolicy(parsed as z.output<typeof authorizationPolicySchema>, findings),
    normalize: identity,
    dryRunAllowed: true,
  },
  RequestAuthentication: {
    schema: requestAuthenticationSchema,
    check: (parsed, _context, findings) => checkRequestAuthentication((parsed as z.output<typeof requestAuthenticationSchema>).spec, findings),
    normalize: identity,
    dryRunAllowed: false,
  },
};
