/** Orders batch results by the keys asked for, with `missing` for keys that found nothing. */
export function inKeyOrder<K, R, V>(
  keys: readonly K[],
  rows: readonly R[],
  keyOf: (row: R) => K,
  valueOf: (row: R) => V,
  missing: V,
): V[] {
  const found = new Map<K, V>();
  for (const row of rows) found.set(keyOf(row), valueOf(row));
  return keys.map((k) => (found.has(k) ? (found.get(k) as V) : missing));
}

/** Groups rows under the keys asked for, each group in row order; [] for keys with none. */
export function groupedInKeyOrder<K, R>(keys: readonly K[], rows: readonly R[], keyOf: (row: R) => K): R[][] {
  const groups = new Map<K, R[]>();
  for (const row of rows) {
    const k = keyOf(row);
    const g = groups.get(k);
    if (g) g.push(row);
    else groups.set(k, [row]);
  }
  return keys.map((k) => groups.get(k) ?? []);
}
