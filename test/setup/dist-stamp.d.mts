export interface SourceDigest {
  hash: string;
  files: Record<string, string>;
}

export type DistFreshness = { fresh: true; digest: SourceDigest; stamped: boolean } | { fresh: false; digest: SourceDigest; message: string };

export const repoRoot: string;
export function sourceDigest(root?: string): SourceDigest;
export function writeStamp(digest: SourceDigest, root?: string): void;
export function distFreshness(root?: string): DistFreshness;
export function assertDistFresh(root?: string): void;
