import * as z from 'zod';
import { destinationRuleSchema } from './istio/destination-rule.js';
import { checkDestinationRule } from './istio/destination-rule-rules.js';
import type { Findings } from './istio/findings.js';
import { normalizeDestinationRule, normalizeServiceEntry, normalizeVirtualService } from './istio/normalize.js';
import { serviceEntrySchema } from './istio/service-entry.js';
import { checkServiceEntry } from './istio/service-entry-rules.js';
import { virtualServiceSchema } from './istio/virtual-service.js';
import { checkVirtualService } from './istio/virtual-service-rules.js';
import { SECURITY_KIND_RULES } from './istio/security/security-kinds.js';
import type { AppliedKind } from './kinds.js';
import { localRateLimitSchema } from './proxyless/local-rate-limit.js';

/** What a rule knows about the resource beyond its spec. */
export interface KindRuleContext {
  /** The resource's namespace (its own, or the mesh's). */
  readonly namespace: string;
  /** Its metadata labels. */
  readonly labels: Readonly<Record<string, string>> | undefined;
}

/** How one kind is validated: its schema, its rules, and the copy the mesh applies. */
export interface KindRules {
  /** The whole resource's schema (apiVersion, kind, metadata, spec). */
  readonly schema: z.ZodType;
  /** Istio's rules beyond the structure; paths from the resource root. */
  readonly check: (parsed: unknown, context: KindRuleContext, findings: Findings) => void;
  /** The validated copy as the mesh applies it (forms Istio treats alike made one). */
  readonly normalize: (parsed: unknown) => unknown;
  /** Whether the kind takes the `istio.io/dry-run` annotation. */
  readonly dryRunAllowed: boolean;
}

const identity = (parsed: unknown): unknown => parsed;

type Parsed<T extends z.ZodType> = z.output<T>;

/** The rules of every kind the loader validates. */
export const KIND_RULES: Readonly<Record<AppliedKind, KindRules>> = {
  VirtualService: {
    schema: virtualServiceSchema,
    check: (parsed, context, findings) => checkVirtualService((parsed as Parsed<typeof virtualServiceSchema>).spec, context, findings),
    normalize: (parsed) => normalizeVirtualService(parsed as Parsed<typeof virtualServiceSchema>),
    dryRunAllowed: false,
  },
  DestinationRule: {
    schema: destinationRuleSchema,
    check: (parsed, context, findings) => checkDestinationRule((parsed as Parsed<typeof destinationRuleSchema>).spec, context, findings),
    normalize: (parsed) => normalizeDestinationRule(parsed as Parsed<typeof destinationRuleSchema>),
    dryRunAllowed: false,
  },
  ServiceEntry: {
    schema: serviceEntrySchema,
    check: (parsed, context, findings) => checkServiceEntry((parsed as Parsed<typeof serviceEntrySchema>).spec, context, findings),
    normalize: (parsed) => normalizeServiceEntry(parsed as Parsed<typeof serviceEntrySchema>),
    dryRunAllowed: false,
  },
  ...SECURITY_KIND_RULES,
  LocalRateLimit: {
    schema: localRateLimitSchema,
    // Its rate-limit fields are checked by the schema (the same checks as the `rateLimit` option).
    check: () => {},
    normalize: identity,
    dryRunAllowed: false,
  },
};
