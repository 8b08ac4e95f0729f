/**
 * Mechanism features a campaign may restrict generation to (`--features ept,spp,pk,xo,tlb`).
 * Contract: a feature switched off removes the ops and entry bits that exercise it from
 * generation; the machine itself is unchanged (a trace built without `spp` runs anywhere).
 */
export type Feature = 'ept' | 'spp' | 'pk' | 'xo' | 'tlb';
export const FEATURES: readonly Feature[] = ['ept', 'spp', 'pk', 'xo', 'tlb'];

export const FEATURE_DOCS: Readonly<Record<Feature, string>> = {
  ept: 'EPT entry rewrites (permissions, memory types, reserved bits) and EPTP writes',
  spp: 'sub-page write permissions: SPPT entries, EPT bit 61, SPP control',
  pk: 'protection keys: PKRU, IA32_PKRS, CR4.PKE/PKS, keys in guest leaf entries',
  xo: 'execute-only EPT and mode-based execute control (MBEC, XU)',
  tlb: 'invalidations: INVLPG, INVVPID, INVEPT',
};

/** Parses a comma list; returns an error string for an unknown name. */
export function parseFeatures(list: string): ReadonlySet<Feature> | string {
  const out = new Set<Feature>();
  for (const raw of list.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    if (!(FEATURES as readonly string[]).includes(name)) {
      return `unknown feature '${name}' (known: ${FEATURES.join(', ')})`;
    }
    out.add(name as Feature);
  }
  if (out.size === 0) return 'empty feature list';
  return out;
}

export function allFeatures(): ReadonlySet<Feature> {
  return new Set(FEATURES);
}
