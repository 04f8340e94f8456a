import { parseAllDocuments } from 'yaml';

/** The text that says "no resources" on purpose: Kubernetes' own empty list. */
export const EMPTY_CONFIG_MARKER = 'apiVersion: v1\nkind: List\nitems: []\n';

/**
 * True when mesh config text with no resources says so on purpose: one of its documents
 * is a Kubernetes empty list (`kind: List` with `items: []`, see
 * {@link EMPTY_CONFIG_MARKER}). An empty or comments-only text, or `---` alone, is what
 * a failed or truncated write leaves, so config sources refuse it in place of a config
 * that had resources; the empty list is what a person or tool writes to remove every
 * resource deliberately.
 */
export function declaresNoResources(text: string): boolean {
  try {
    for (const document of parseAllDocuments(text)) {
      if (document.errors.length > 0) continue;
      const value: unknown = document.toJS();
      if (value !== null && typeof value === 'object' && (value as { kind?: unknown }).kind === 'List') {
        const items = (value as { items?: unknown }).items;
        if (Array.isArray(items) && items.length === 0) return true;
      }
    }
  } catch {
    return false;
  }
  return false;
}
