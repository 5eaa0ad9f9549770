/** A ready release as pruning sees it. */
export interface KeptRelease {
  id: string;
  createdAt: number;
  imageRemovedAt: number | null;
}

/**
 * The ready releases of one app whose images go: all but the newest `keep`,
 * except those `inUse` (the app's current release, any instance's). Those
 * already removed are not listed again.
 */
export function releasesToPrune(ready: KeptRelease[], keep: number, inUse: ReadonlySet<string>): string[] {
  const newestFirst = [...ready].sort((left, right) => right.createdAt - left.createdAt);
  return newestFirst
    .slice(keep)
    .filter((release) => release.imageRemovedAt === null && !inUse.has(release.id))
    .map((release) => release.id);
}
