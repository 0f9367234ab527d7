import { classify, getBackend, type Profile, type ScopedProcess } from '@llm-upgrade/core';

/** In-scope processes that run now, through core's scope rules. */
export async function inScopeNowFor(roots: string[], profile: Profile | undefined): Promise<ScopedProcess[]> {
  const backend = await getBackend();
  const snap = await backend.snapshot();
  return classify(snap, roots, profile, (p) => backend.pathKey(p)).filter((p) => p.inScope && p.state !== 'Z');
}
