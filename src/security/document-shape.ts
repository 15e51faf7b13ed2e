import { Kind, parse, type DocumentNode, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';

/** Times one response key may appear in one selection set: a fragment or two repeat `id`, not more. */
export const MAX_SAME_KEY = 10;

/**
 * graphql-js's OverlappingFieldsCanBeMerged compares every pair of fields that share a
 * response key in one selection set (fragments spread into it included), and their
 * sub-selections pair by pair: a field repeated n times costs n² comparisons, nested repeats
 * multiply. Under the token cap that is still 150 ms for one `id` repeated 990 times. No
 * client needs a key that often, so a document where one response key appears more than
 * `maxSameKey` times in one selection set (through inline and named fragments) is refused
 * before Apollo validates it. Each fragment's keys are counted once (memo), so this check is
 * linear in the document.
 */
export function sameKeyOverflow(document: DocumentNode, maxSameKey: number): string | null {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const memo = new Map<string, Map<string, number> | null>();

  const keysOf = (set: SelectionSetNode): Map<string, number> => {
    const counts = new Map<string, number>();
    const add = (key: string, n: number) => counts.set(key, (counts.get(key) ?? 0) + n);
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) add((s.alias ?? s.name).value, 1);
      else if (s.kind === Kind.INLINE_FRAGMENT) for (const [k, n] of keysOf(s.selectionSet)) add(k, n);
      else for (const [k, n] of fragmentKeys(s.name.value)) add(k, n);
    }
    return counts;
  };
  const fragmentKeys = (name: string): Map<string, number> => {
    if (memo.has(name)) return memo.get(name) ?? new Map();
    const f = fragments.get(name);
    memo.set(name, null); // a cycle counts nothing here; validation refuses it anyway
    const counts = f ? keysOf(f.selectionSet) : new Map<string, number>();
    memo.set(name, counts);
    return counts;
  };

  let found: string | null = null;
  const visit = (set: SelectionSetNode) => {
    for (const [key, n] of keysOf(set)) {
      if (n > maxSameKey) {
        found = `"${key.slice(0, 50)}" is asked for ${n} times in one selection, over the limit of ${maxSameKey}`;
        return;
      }
    }
    for (const s of set.selections) {
      if (found) return;
      if (s.kind !== Kind.FRAGMENT_SPREAD && s.selectionSet) visit(s.selectionSet);
    }
  };
  for (const d of document.definitions) {
    if (found) break;
    if (d.kind === Kind.OPERATION_DEFINITION || d.kind === Kind.FRAGMENT_DEFINITION) visit(d.selectionSet);
  }
  return found;
}

/**
 * The check above, run before Apollo: the problem to answer (400), or null. The document is
 * parsed once more here (linear, and under the token cap: tens of microseconds); a document that does not
 * parse is left for Apollo to answer. Verdicts on accepted texts up to 4 KB are kept (1,000
 * of them at most), so a client repeating its queries pays for the parse once.
 */
export function documentShapeCheck(opts: { maxTokens: number; maxSameKey: number }): (query: unknown) => string | null {
  const accepted = new Set<string>();
  const KEPT = 1000;
  const KEPT_TEXT_CHARS = 4096;
  return (query) => {
    if (typeof query !== 'string' || accepted.has(query)) return null;
    let document: DocumentNode;
    try {
      document = parse(query, { maxTokens: opts.maxTokens, noLocation: true });
    } catch {
      // Apollo parses it again and answers the syntax error.
      return null;
    }
    const problem = sameKeyOverflow(document, opts.maxSameKey);
    if (problem) return problem;
    // Only short texts are kept: 1,000 texts near the body limit would hold 100 MB.
    if (query.length <= KEPT_TEXT_CHARS) {
      if (accepted.size >= KEPT) accepted.clear();
      accepted.add(query);
    }
    return null;
  };
}
