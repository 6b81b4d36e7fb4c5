// Paper ids and paper identity across files.
//
// An id is the record's own key where it has one (JSONL `id`, BibTeX citation key, RIS `ID`, CSL id,
// `pmid:<n>`, OpenAlex `W…`), else a slug of the title, with a content hash when other papers share the
// slug. An id, once given, never changes while its paper is in the corpus (issue 17 §7): with the index's
// ids at hand (KnownIds), a derived id the index already holds for a paper stays that paper's, whatever
// papers appear or disappear beside it. Entries are one paper when their ids are equal or when they share
// a DOI, arXiv id or PMID (issue 18 §2): one is kept (the one the index already holds, else the first in
// path order) and the others are noted with both locations.
import { contentSuffix, slugify, type SourceLocation } from "./paper.ts";
import type { Bibliographic } from "./bibliographic.ts";

/** What assigning an id needs to know of an entry: small, so a whole large corpus of them fits in memory. */
export interface Identity {
  explicitId: string | undefined;
  /** The title's slug (empty when the entry has an explicit id). */
  slug: string;
  /** sha256 of title and abstract, hex (see contentSuffix). */
  digest: string;
  source: SourceLocation;
  /** "DOI 10.1/x", "arXiv 2301.00001", "PMID 123": records sharing one are the same paper. */
  keys: string[];
}

/** What the index holds, for keeping ids stable (implemented by the Store; absent for a plain read). */
export interface KnownIds {
  /** Is this id a paper in the index? */
  has(id: string): boolean;
  /** The index's papers whose id is this slug, or this slug with a hash suffix, with their content hash. */
  derived(slug: string): { id: string; file: string; line: number; contentHash: Buffer }[];
}

export function identityOf(entry: { id?: string | undefined; title: string; abstract: string; source: SourceLocation; bib?: Bibliographic | undefined }): Identity {
  const bib = entry.bib;
  return {
    explicitId: entry.id,
    slug: entry.id === undefined ? slugify(entry.title) : "",
    digest: contentSuffix(entry.title, entry.abstract, 64),
    source: entry.source,
    keys: bib ? [bib.doi && `DOI ${bib.doi}`, bib.arxiv && `arXiv ${bib.arxiv}`, bib.pmid && `PMID ${bib.pmid}`].filter((k): k is string => !!k) : [],
  };
}

const at = (s: SourceLocation) => `${s.file}:${s.line}`;

/**
 * Each entry's id, or null for an entry that is another's duplicate (noted in `notices` with both
 * locations). Explicit ids as written; derived ids as above, consulting `known` so that none moves.
 */
export function assignIds(items: Identity[], notices: string[], known?: KnownIds): (string | null)[] {
  const ids = derivedIds(items, known);
  return dedupe(items, ids, notices, known);
}

function derivedIds(items: Identity[], known: KnownIds | undefined): string[] {
  const explicit = new Set(items.flatMap((e) => (e.explicitId !== undefined ? [e.explicitId] : [])));
  const groups = new Map<string, number[]>();
  items.forEach((e, i) => {
    if (e.explicitId !== undefined) return;
    const group = groups.get(e.slug);
    if (group) group.push(i);
    else groups.set(e.slug, [i]);
  });
  const ids = items.map((e) => e.explicitId ?? "");
  for (const [slug, members] of groups) {
    const base = slug || "untitled";
    // Entries with the same title and abstract (an NFD/NFC twin, a copy) are one paper: they count once.
    const firstOf = new Map<string, number>();
    for (const i of members) if (!firstOf.has(items[i]!.digest)) firstOf.set(items[i]!.digest, i);
    const stored = known?.derived(base) ?? [];
    const taken = new Set<string>();
    const byDigest = new Map<string, string>();
    const claim = (digest: string, match: (s: (typeof stored)[number]) => boolean) => {
      const s = stored.find((x) => !taken.has(x.id) && match(x));
      if (!s) return;
      taken.add(s.id);
      byDigest.set(digest, s.id);
    };
    // The index's id for the same content, then for the same place (an edited abstract keeps its id).
    for (const digest of firstOf.keys()) claim(digest, (s) => s.contentHash.toString("hex") === digest.slice(0, 32));
    for (const [digest, i] of firstOf) if (!byDigest.has(digest)) claim(digest, (s) => s.file === items[i]!.source.file && s.line === items[i]!.source.line);
    // A new paper gets the bare slug only when it alone has it and no paper of the index holds it.
    const bareFree = !!slug && !explicit.has(slug) && firstOf.size === 1 && !stored.some((s) => s.id === slug);
    for (const digest of firstOf.keys()) {
      if (byDigest.has(digest)) continue;
      let id = bareFree ? slug : `${base}-${digest.slice(0, 8)}`;
      if (explicit.has(id)) id = `${base}-${digest.slice(0, 16)}`;
      byDigest.set(digest, id);
    }
    for (const i of members) ids[i] = byDigest.get(items[i]!.digest)!;
  }
  return ids;
}

/** Entries with the same id, DOI, arXiv id or PMID are one paper: keep one, note the others. */
function dedupe(items: Identity[], ids: string[], notices: string[], known: KnownIds | undefined): (string | null)[] {
  const parent = items.map((_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const firstWith = new Map<string, number>();
  const why = new Map<number, string>();
  items.forEach((item, i) => {
    for (const key of [`id ${ids[i]}`, ...item.keys]) {
      const j = firstWith.get(key);
      if (j === undefined) firstWith.set(key, i);
      else if (root(i) !== root(j)) {
        parent[root(i)] = root(j);
        if (!why.has(i)) why.set(i, key);
      }
    }
  });
  const members = new Map<number, number[]>();
  items.forEach((_, i) => {
    const group = members.get(root(i));
    if (group) group.push(i);
    else members.set(root(i), [i]);
  });
  const result: (string | null)[] = items.map(() => null);
  for (const group of members.values()) {
    const kept = (group.length > 1 && known ? group.find((i) => known.has(ids[i]!)) : undefined) ?? group[0]!;
    result[kept] = ids[kept]!;
    for (const i of group) {
      if (i === kept) continue;
      const item = items[i]!;
      const key = why.get(i) ?? why.get(kept) ?? `id ${ids[i]}`;
      const what = key.startsWith("id ")
        ? ids[i] === ids[kept] && item.explicitId === undefined
          ? `the same title and abstract as ${ids[kept]}`
          : `duplicate id ${ids[i]}`
        : `the same ${key} as ${ids[kept]}${ids[i] !== ids[kept] ? ` (here ${ids[i]})` : ""}`;
      notices.push(`${what} at ${at(item.source)}: kept the one at ${at(items[kept]!.source)}`);
    }
  }
  return result;
}
