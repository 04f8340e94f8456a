import * as z from 'zod';
import type { AppliedKind } from '../../kinds.js';
import type { KindRules } from '../../kind-rules.js';

/** Placeholder until the security schemas land. */
const placeholder: KindRules = { schema: z.looseObject({}), check: () => {}, normalize: (p) => p, dryRunAllowed: true };

/** The rules of the security kinds (validated; applied with issue 14). */
export const SECURITY_KIND_RULES: Readonly<Record<Extract<AppliedKind, 'PeerAuthentication' | 'AuthorizationPolicy' | 'RequestAuthentication'>, KindRules>> = {
  PeerAuthentication: placeholder,
  AuthorizationPolicy: placeholder,
  RequestAuthentication: placeholder,
};
