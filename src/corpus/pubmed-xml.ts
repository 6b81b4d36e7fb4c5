// PubMed XML (`<PubmedArticleSet>`, from PubMed's "Save → XML" or E-utilities efetch), parsed with
// fast-xml-parser. Structured abstracts keep their section labels ("Methods: …"); the DOI comes from
// `ELocationID EIdType="doi"` or the article id list; MeSH descriptors and keywords become keywords.
// Each article (`<PubmedArticle>`, and `<PubmedBookArticle>` as GeneReviews chapters come) is parsed on its
// own, so a broken or truncated one (an interrupted download) costs that article only.
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
/** CDATA inside a stop node (a title, an abstract section) is text: escaped so that markup stripping keeps it. */
const cdataAsText = (text: string) =>
  text.includes("<![CDATA[") ? text.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, (_, body: string) => body.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")) : text;
const textOf = (value: unknown): string => {
  if (typeof value === "string" || typeof value === "number") return stripMarkup(cdataAsText(String(value))).replace(/\s+/g, " ").trim();
  const n = node(value);
  return n["#text"] === undefined ? "" : textOf(n["#text"]);
};

export function readPubmedXml(text: string, file: string): ReadResult {
  const problems: CorpusProblem[] = [];
  const line = lineOf(text);
  const entries: RawEntry[] = [];
  const starts = [...text.matchAll(/<(PubmedArticle|PubmedBookArticle)[\s>]/g)];
  starts.forEach((m, i) => {
    const [kind, at, next] = [m[1]!, m.index!, starts[i + 1]?.index ?? text.length];
    const close = text.indexOf(`</${kind}>`, at);
    const where = line(at);
    if (close < 0 || close > next) return problems.push({ file, line: where, message: `${kind} does not end (a truncated file?); skipped` });
    let doc: Node;
    try {
      doc = parser.parse(text.slice(at, close + kind.length + 3)) as Node;
    } catch (error) {
      return problems.push({ file, line: where, message: `${kind} cannot be parsed (${(error as Error).message.split("\n")[0]}); skipped` });
    }
    const article = node(list(doc[kind])[0]);
    const entry = kind === "PubmedArticle" ? toEntry(article, file, where) : bookEntry(article, file, where);
    if (entry) entries.push(entry);
    else problems.push({ file, line: where, message: `${kind} without a PMID; skipped` });
  });
  return { entries, problems };
}

/** A book chapter (`<PubmedBookArticle><BookDocument>`): the chapter's title, the book's title as venue. */
function bookEntry(article: Node, file: string, line: number): RawEntry | null {
  const doc = node(article.BookDocument);
  const book = node(doc.Book);
  const entry = fromParts({ pmidNode: doc.PMID, a: doc, keywordsOf: doc, pub: node(book.PubDate), venue: textOf(book.BookTitle), ids: node(article.PubmedBookData), file, line });
  if (entry && !entry.title) entry.title = textOf(book.BookTitle);
  return entry;
}

function toEntry(article: Node, file: string, line: number): RawEntry | null {
  const citation = node(article.MedlineCitation);
  const a = node(citation.Article);
  const journal = node(a.Journal);
  const pub = node(node(journal.JournalIssue).PubDate);
  const venue = textOf(journal.Title) || textOf(journal.ISOAbbreviation);
  const entry = fromParts({ pmidNode: citation.PMID, a, keywordsOf: citation, pub, venue, ids: node(article.PubmedData), file, line });
  if (entry) entry.meta = { PMID: entry.bib!.pmid, journal: textOf(journal.Title), publicationTypes: list(node(a.PublicationTypeList).PublicationType).map(textOf) };
  return entry;
}

interface Parts {
  pmidNode: unknown;
  /** Holds ArticleTitle, Abstract, AuthorList, ELocationID: the Article, or the BookDocument. */
  a: Node;
  /** Holds MeshHeadingList and KeywordList. */
  keywordsOf: Node;
  pub: Node;
  venue: string;
  /** PubmedData or PubmedBookData: the ArticleIdList. */
  ids: Node;
  file: string;
  line: number;
}

function fromParts({ pmidNode, a, keywordsOf: citation, pub, venue, ids, file, line }: Parts): RawEntry | null {
  const pmid = normalisePmid(textOf(pmidNode));
  if (!pmid) return null;
  const sections = list(node(a.Abstract).AbstractText).map((s) => {
    const label = typeof s === "object" ? (node(s)["@Label"] as string | undefined) : undefined;
    const body = textOf(s);
    return label && body ? `${label[0]}${label.slice(1).toLowerCase()}: ${body}` : body;
  });
  const authors = list(node(a.AuthorList).Author).map((x) => {
    const au = node(x);
    return textOf(au.CollectiveName) || [textOf(au.ForeName) || textOf(au.Initials), textOf(au.LastName)].filter(Boolean).join(" ");
  });
  const rawDate = pub.MedlineDate !== undefined ? textOf(pub.MedlineDate) : [textOf(pub.Year), textOf(pub.Month), textOf(pub.Day)].filter(Boolean).join(" ");
  const notes: string[] = [];
  const when = parseDate(rawDate);
  if (when.impossible) notes.push(`impossible date ${JSON.stringify(rawDate)} ignored`);
  const articleIds = list(node(ids.ArticleIdList).ArticleId).map(node);
  const idOf = (kind: string) =>
    textOf(list(a.ELocationID).map(node).find((e) => e["@EIdType"] === kind)) || textOf(articleIds.find((e) => e["@IdType"] === kind));
  const mesh = list(node(citation.MeshHeadingList).MeshHeading).map((h) => textOf(node(h).DescriptorName));
  const keywords = list(citation.KeywordList).flatMap((k) => list(node(k).Keyword).map(textOf));
  return {
    id: `pmid:${pmid}`,
    title: textOf(a.ArticleTitle) || textOf(a.VernacularTitle),
    abstract: sections.filter(Boolean).join(" "),
    source: { file, line },
    meta: { PMID: pmid },
    bib: {
      authors: authors.filter(Boolean),
      date: when.date,
      venue: venue || null,
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
