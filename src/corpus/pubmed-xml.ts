// PubMed XML (`<PubmedArticleSet>`, from PubMed's "Save → XML" or E-utilities efetch), parsed with
// fast-xml-parser. Structured abstracts keep their section labels ("Methods: …"); the DOI comes from
// `ELocationID EIdType="doi"` or the article id list; MeSH descriptors and keywords become keywords.
import { XMLParser } from "fast-xml-parser";
import { normaliseArxiv, normaliseDoi, normalisePmid, parseDate, splitKeywords } from "./bibliographic.ts";
import { stripMarkup } from "./markup.ts";
import type { CorpusProblem, RawEntry, ReadResult } from "./paper.ts";
import { lineOf } from "./positions.ts";

export const isPubmedXml = (text: string) => /<PubmedArticleSet[\s>]/.test(text.slice(0, 64 * 1024));

const LISTS = new Set(["PubmedArticle", "Author", "AbstractText", "MeshHeading", "Keyword", "ArticleId", "ELocationID", "PublicationType", "KeywordList"]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  // Titles and abstract sections hold inline markup (<i>, <sup>): kept as text, stripped below.
  stopNodes: ["*.ArticleTitle", "*.AbstractText", "*.VernacularTitle"],
  isArray: (name) => LISTS.has(name),
  parseTagValue: false,
  processEntities: false,
});

type Node = Record<string, unknown>;
const node = (value: unknown): Node => (value && typeof value === "object" && !Array.isArray(value) ? (value as Node) : {});
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);
const textOf = (value: unknown): string => {
  if (typeof value === "string" || typeof value === "number") return stripMarkup(String(value)).replace(/\s+/g, " ").trim();
  const n = node(value);
  return n["#text"] === undefined ? "" : textOf(n["#text"]);
};

export function readPubmedXml(text: string, file: string): ReadResult {
  const problems: CorpusProblem[] = [];
  const line = lineOf(text);
  const starts = [...text.matchAll(/<PubmedArticle[\s>]/g)].map((m) => line(m.index!));
  let doc: Node;
  try {
    doc = parser.parse(text) as Node;
  } catch (error) {
    return { entries: [], problems: [{ file, line: 1, message: `XML that cannot be parsed (${(error as Error).message.split("\n")[0]}); skipped` }] };
  }
  const entries: RawEntry[] = [];
  list(node(doc.PubmedArticleSet).PubmedArticle).forEach((article, i) => {
    const at = starts[i] ?? 1;
    const entry = toEntry(node(article), file, at);
    if (entry) entries.push(entry);
    else problems.push({ file, line: at, message: "PubmedArticle without a PMID; skipped" });
  });
  return { entries, problems };
}

function toEntry(article: Node, file: string, line: number): RawEntry | null {
  const citation = node(article.MedlineCitation);
  const pmid = normalisePmid(textOf(citation.PMID));
  if (!pmid) return null;
  const a = node(citation.Article);
  const sections = list(node(a.Abstract).AbstractText).map((s) => {
    const label = typeof s === "object" ? (node(s)["@Label"] as string | undefined) : undefined;
    const body = textOf(s);
    return label && body ? `${label[0]}${label.slice(1).toLowerCase()}: ${body}` : body;
  });
  const authors = list(node(a.AuthorList).Author).map((x) => {
    const au = node(x);
    return textOf(au.CollectiveName) || [textOf(au.ForeName) || textOf(au.Initials), textOf(au.LastName)].filter(Boolean).join(" ");
  });
  const journal = node(a.Journal);
  const pub = node(node(journal.JournalIssue).PubDate);
  const rawDate = pub.MedlineDate !== undefined ? textOf(pub.MedlineDate) : [textOf(pub.Year), textOf(pub.Month), textOf(pub.Day)].filter(Boolean).join(" ");
  const notes: string[] = [];
  const when = parseDate(rawDate);
  if (when.impossible) notes.push(`impossible date ${JSON.stringify(rawDate)} ignored`);
  const articleIds = list(node(node(article.PubmedData).ArticleIdList).ArticleId).map(node);
  const idOf = (kind: string) =>
    textOf(list(a.ELocationID).map(node).find((e) => e["@EIdType"] === kind)) || textOf(articleIds.find((e) => e["@IdType"] === kind));
  const mesh = list(node(citation.MeshHeadingList).MeshHeading).map((h) => textOf(node(h).DescriptorName));
  const keywords = list(citation.KeywordList).flatMap((k) => list(node(k).Keyword).map(textOf));
  return {
    id: `pmid:${pmid}`,
    title: textOf(a.ArticleTitle) || textOf(a.VernacularTitle),
    abstract: sections.filter(Boolean).join(" "),
    source: { file, line },
    meta: { PMID: pmid, journal: textOf(journal.Title), publicationTypes: list(node(a.PublicationTypeList).PublicationType).map(textOf) },
    bib: {
      authors: authors.filter(Boolean),
      date: when.date,
      venue: textOf(journal.Title) || textOf(journal.ISOAbbreviation) || null,
      doi: normaliseDoi(idOf("doi")),
      arxiv: normaliseArxiv(idOf("arxiv")),
      pmid,
      url: null,
      keywords: splitKeywords([...mesh, ...keywords]),
      type: textOf(list(node(a.PublicationTypeList).PublicationType)[0]) || null,
    },
    ...(notes.length ? { notes } : {}),
  };
}
