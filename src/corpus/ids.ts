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

/** A paper the index holds: where it was read and its content hash (sha256 of title and abstract, 16 bytes). */
export interface KnownPaper {
  id: string;
  file: string;
  line: number;
  contentHash: Buffer;
}

/** What the index holds, for keeping ids stable (implemented by the Store; absent for a plain read). */
export interface KnownIds {
  /** The index's paper with this id, if any. */
  paper(id: string): KnownPaper | undefined;
  /** The index's papers whose id is this slug (or key), or it with a hash suffix, with their content hash. */
  derived(slug: string): KnownPaper[];
}

export function identityOf(entry: { id?: string | undefined; title: string; abstract: string; source: SourceLocation; bib?: Bibliographic | undefined }): Identity {
  const bib = entry.bib;
  return {
    // An empty key (JabRef's `@Article{,`) is no key: the entry gets a slug like any keyless record.
    explicitId: entry.id?.trim() || undefined,
    slug: entry.id?.trim() ? "" : slugify(entry.title),
    digest: contentSuffix(entry.title, entry.abstract, 64),
    source: entry.source,
    keys: bib ? [bib.doi && `DOI ${bib.doi}`, bib.arxiv && `arXiv ${bib.arxiv}`, bib.pmid && `PMID ${bib.pmid}`].filter((k): k is string => !!k) : [],
  };
}

const at = (s: SourceLocation) => `${s.file}:${s.line}`;

/**
 * Each entry's id, or null for an entry that is another's duplicate (noted in `notices` with both
 * locations). Explicit ids as written; derived ids as above, consulting `known` so that none moves.
 * `aliases`, when given, receives each duplicate's own id → the kept paper's id, so that the key a user
 * knows a paper by (a BibTeX key folded into a RIS record of the same DOI) still finds it.
 */
export function assignIds(items: Identity[], notices: string[], known?: KnownIds, aliases?: Map<string, string>): (string | null)[] {
  const ids = derivedIds(items, known);
  return dedupe(items, ids, notices, known, aliases);
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

/**
 * Entries with the same DOI, arXiv id or PMID, or the same id and the same title and abstract, are one
 * paper: keep one, note the others. Distinct papers that share an id (two files' `smith2020`, a BibTeX key
 * `pmid:31000001` beside that PubMed record) are all kept: the one the index holds under that id keeps it
 * (else the first in path order), the others get the id with a content hash (disambiguate).
 */
function dedupe(items: Identity[], ids: string[], notices: string[], known: KnownIds | undefined, aliases?: Map<string, string>): (string | null)[] {
  const parent = items.map((_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const firstWith = new Map<string, number>();
  // Why an entry joined its group: the key it shares and the entry it shares it with.
  const why = new Map<number, { key: string; with: number }>();
  items.forEach((item, i) => {
    for (const key of [`id ${ids[i]}\n${item.digest}`, ...item.keys]) {
      const j = firstWith.get(key);
      if (j === undefined) firstWith.set(key, i);
      else if (root(i) !== root(j)) {
        parent[root(i)] = root(j);
        if (!why.has(i)) why.set(i, { key, with: j });
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
  const kept: number[] = [];
  const dropped: { i: number; keep: number }[] = [];
  for (const group of members.values()) {
    const keep = (group.length > 1 && known ? group.find((i) => known.paper(ids[i]!)) : undefined) ?? group[0]!;
    kept.push(keep);
    result[keep] = ids[keep]!;
    for (const i of group) if (i !== keep) dropped.push({ i, keep });
  }
  disambiguate(items, kept, result, notices, known);
  // Named as kept, after disambiguation: a partner that was kept may have a new id.
  const shown = (i: number) => result[i] ?? ids[i]!;
  for (const { i, keep } of dropped) {
    const { key, with: j } = why.get(i) ?? { key: `id ${ids[i]}`, with: keep };
    const what = key.startsWith("id ")
      ? items[i]!.explicitId === undefined
        ? `the same title and abstract as ${shown(j)}`
        : `duplicate entry ${ids[i]}`
      : ids[i] === shown(j)
        ? `duplicate id ${ids[i]}`
        : `the same ${key} as ${shown(j)} (here ${ids[i]})`;
    notices.push(`${what} at ${at(items[i]!.source)}: kept the one at ${at(items[keep]!.source)}`);
    if (ids[i] !== shown(keep)) aliases?.set(ids[i]!, shown(keep));
  }
  return result;
}

/**
 * Kept entries that still share an id are distinct papers: the one the index holds under the id (by content,
 * else by place) keeps it, else the first in path order; each other takes the index's `<id>-<hash>` for its
 * content or place, else a new one from its content hash, and a notice names both places.
 */
function disambiguate(items: Identity[], kept: number[], result: (string | null)[], notices: string[], known: KnownIds | undefined): void {
  const byId = new Map<string, number[]>();
  for (const i of kept.sort((a, b) => a - b)) {
    const group = byId.get(result[i]!);
    if (group) group.push(i);
    else byId.set(result[i]!, [i]);
  }
  const hashOf = (i: number) => items[i]!.digest.slice(0, 32);
  const sameContent = (i: number) => (p: KnownPaper) => p.contentHash.toString("hex") === hashOf(i);
  const samePlace = (i: number) => (p: KnownPaper) => p.file === items[i]!.source.file && p.line === items[i]!.source.line;
  for (const [id, group] of byId) {
    if (group.length < 2) continue;
    const held = known?.paper(id);
    // A `pmid:<n>` id belongs to the record of that PMID more than to a BibTeX key that copies it.
    const ownsIt = (i: number) => items[i]!.keys.some((k) => `pmid:${k.slice(5)}` === id && k.startsWith("PMID "));
    const owner = (held && (group.find((i) => sameContent(i)(held)) ?? group.find((i) => samePlace(i)(held)))) ?? group.find(ownsIt) ?? group[0]!;
    const stored = (known?.derived(id) ?? []).filter((p) => p.id !== id);
    const taken = new Set<string>();
    const claim = (i: number, match: (p: KnownPaper) => boolean) => stored.find((p) => !taken.has(p.id) && match(p))?.id;
    for (const i of group) {
      if (i === owner) continue;
      let other = claim(i, sameContent(i)) ?? claim(i, samePlace(i)) ?? `${id}-${items[i]!.digest.slice(0, 8)}`;
      if (byId.has(other) || taken.has(other)) other = `${id}-${items[i]!.digest.slice(0, 16)}`;
      taken.add(other);
      result[i] = other;
      notices.push(`two papers have the id ${id}: the one at ${at(items[i]!.source)} is ${other} (the one at ${at(items[owner]!.source)} keeps ${id})`);
    }
  }
}
