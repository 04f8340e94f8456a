import { isIP } from 'node:net';

/**
 * Istio's name rules (hosts, labels, namespaces, subnets), as small functions that say
 * why a name is refused, in words for an error message. Written from istio/istio
 * `pkg/config/labels/instance.go` and `pkg/config/validation/agent/validation.go`
 * (ValidateWildcardDomain, ValidateFQDN, ValidateIPSubnet), not copied.
 *
 * @module
 */

/** A DNS-1123 label as Istio checks it: letters (either case), digits and inner dashes. */
const DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
/** The first label of a host, which may be `*` or start with `*` / `*-` (partial wildcards). */
const WILDCARD_LABEL = /^(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;
/** Kubernetes label keys: an optional DNS prefix and `/`, then a qualified name. */
const LABEL_KEY = /^((?:[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)*)\/)?((?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
/** Kubernetes label values (possibly empty). */
const LABEL_VALUE = /^(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** A lower-case DNS-1123 label: a Kubernetes namespace name. */
const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;

/** A DNS-1123 label of at most 63 characters, either case (Istio's `IsDNS1123Label`). */
export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

/** A Kubernetes namespace name: a lower-case DNS-1123 label of at most 63 characters. */
export function isNamespaceName(value: string): boolean {
  return value.length <= 63 && NAMESPACE.test(value);
}

/** An IPv4 or IPv6 address (no port, no brackets). */
export function isIpAddress(value: string): boolean {
  return isIP(value) !== 0;
}

/** Why `domain`'s dot-separated labels are not DNS-1123 labels, or undefined (a trailing dot is allowed). */
function labelsProblem(domain: string, labels: readonly string[]): string | undefined {
  const top = labels[labels.length - 1]!;
  if (/^[+-]?\d+$/.test(top)) return `the top-level label "${top}" of "${domain}" is all digits`;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (i === labels.length - 1 && label === '') return undefined;
    if (!isDns1123Label(label)) return `label "${label}" of "${domain}" is not a DNS-1123 label (letters, digits and inner dashes, at most 63 characters)`;
  }
  return undefined;
}

/** Why `name` is not a length-checked, non-empty domain name, or undefined. */
function lengthProblem(name: string): string | undefined {
  if (name.length === 0) return 'an empty host name';
  if (name.length > 255) return `a host name of ${name.length} characters (at most 255)`;
  return undefined;
}

/**
 * Why `domain` is not a host name with an optional wildcard first label (`*`,
 * `*.example.com`, `*foo.example.com`, `reviews`, `reviews.bookinfo.svc.cluster.local`,
 * `istio.io.`), or undefined: Istio's `ValidateWildcardDomain`.
 */
export function wildcardDomainProblem(domain: string): string | undefined {
  const length = lengthProblem(domain);
  if (length !== undefined) return length;
  const dot = domain.indexOf('.');
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (!(first.length <= 63 && WILDCARD_LABEL.test(first))) {
    return `label "${first}" of "${domain}" is not a DNS-1123 label (a wildcard "*" may only lead the first label)`;
  }
  return dot < 0 ? undefined : labelsProblem(domain, domain.slice(dot + 1).split('.'));
}

/** Why `name` is not a fully qualified domain name without wildcards, or undefined: Istio's `ValidateFQDN`. */
export function fqdnProblem(name: string): string | undefined {
  return lengthProblem(name) ?? labelsProblem(name, name.split('.'));
}

/** Why `subnet` is neither an IP address nor a CIDR block, or undefined: Istio's `ValidateIPSubnet`. */
export function ipSubnetProblem(subnet: string): string | undefined {
  const parts = subnet.split('/');
  if (parts.length === 2) {
    const [address, bits] = parts as [string, string];
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    if (family === 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > max) return `"${subnet}" is not a CIDR block such as "10.0.0.0/8" or "2001:db8::/32"`;
    return undefined;
  }
  return isIP(subnet) !== 0 ? undefined : `"${subnet}" is not an IP address or a CIDR block`;
}

/** Why `key` is not a Kubernetes label key (`app`, `app.kubernetes.io/name`), or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const match = LABEL_KEY.exec(key);
  if (match === null) return 'a label key such as "app" or "app.kubernetes.io/name" (letters, digits, "-", "_", "." and one optional "prefix/")';
  if (match[1] !== undefined && match[1].length - 1 > 253) return 'a label key whose DNS prefix is at most 253 characters';
  if (match[2]!.length > 63) return 'a label key whose name part is at most 63 characters';
  return undefined;
}

/** Why `value` is not a Kubernetes label value (possibly empty), or undefined. */
export function labelValueProblem(value: string): string | undefined {
  return LABEL_VALUE.test(value) ? undefined : 'a label value: letters, digits, "-", "_" and ".", starting and ending with a letter or digit, or empty';
}
