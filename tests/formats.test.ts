// The library readers (issue 18 §1): each format's fixture, written from its specification and real export
// examples (invented papers), checked field by field. No model: these only read files.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseDate } from "../src/corpus/bibliographic.ts";
import { readCorpus, readLibraryFile, type Paper } from "../src/corpus/index.ts";
import { ROOT, tempDir } from "./helpers.ts";

const LIBRARY = path.join(ROOT, "tests", "fixtures", "library");
const corpus = readCorpus(LIBRARY);
const paper = (id: string): Paper => {
  const found = corpus.papers.find((p) => p.id === id);
  if (!found) throw new Error(`no paper ${id}`);
  return found;
};
const bibOf = (id: string) => paper(id).bib!;
/** A corpus folder of these files, read. */
const read = (files: Record<string, string | Buffer>) => {
  const dir = tempDir();
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return readCorpus(dir);
};

describe("BibTeX", () => {
  it("decodes LaTeX (accents, \\&, {{Case}}, math), @string macros, month = mar, names and institutions", () => {
    const p = paper("mueller2021sparse");
    expect(p.title).toBe("Sparse Attention for Long Documents in Öresund Archives");
    expect(p.abstract).toBe(
      "We study sparse attention over long documents. The cost drops from O(n²) to O(n log n) while accuracy & recall stay within 1% of dense attention on Archive retrieval.",
    );
    expect(p.source).toEqual({ file: "library.bib", line: 8 });
    expect(p.bib).toEqual({
      authors: ["Jörg Müller", "Kirsten Ørsted", "Ludmiła Wałęsa", "Nordic Language Consortium"],
      date: "2021-03",
      venue: "Journal of Machine Learning Studies",
      doi: "10.5555/jmls.2021.0012",
      arxiv: null,
      pmid: null,
      url: null,
      keywords: ["attention", "long documents", "sparsity"],
      type: "article-journal",
    });
    expect(p.meta).toMatchObject({ entrytype: "article", pages: "1--24", volume: "12" });
  });

  it("reads arXiv eprint/archivePrefix, ß and Æ, BibLaTeX date, \\AA; skips @comment and @preamble", () => {
    expect(bibOf("strasse2022graphs")).toMatchObject({ authors: ["Hans Straße", "Eadric Ælfric"], date: "2022", arxiv: "2203.01234", venue: "Proceedings of the Workshop on Urban Learning", type: "paper-conference" });
    expect(bibOf("sato2023protein")).toMatchObject({ authors: ["Hiroshi Satō", "Aiko Nakamura"], date: "2023-07-14", url: "https://example.org/papers/sato2023" });
    expect(paper("sato2023protein").abstract).toContain("within 2 Å RMSD");
    expect(corpus.papers.filter((p) => p.source.file === "library.bib").map((p) => p.id)).toEqual(["mueller2021sparse", "strasse2022graphs", "sato2023protein"]);
  });

  it("a damaged entry costs that entry only; an entry without an abstract is reported with line, key and title", () => {
    expect(corpus.problems.filter((p) => p.file === "library.bib")).toEqual([
      // In line order (review-newuser18 #7), though the parser meets the malformed entry first.
      { file: "library.bib", line: 32, message: 'noabstract2020 "A Paper Without an Abstract" has no abstract; skipped', kind: "no-abstract" },
      { file: "library.bib", line: 38, message: expect.stringMatching(/^@article\{broken2019: cannot be parsed/) },
    ]);
  });

  it("decodes a Latin-1 file that declares it (JabRef's % Encoding header)", () => {
    const p = paper("lindqvist2017");
    expect(p.title).toBe("Ångström-Scale Defects in Perovskite Solar Cells");
    expect(p.bib!.authors).toEqual(["Åsa Lindqvist", "Søren Nørgaard"]);
    expect(corpus.problems.some((x) => x.file === "jabref-latin1.bib")).toBe(false);
  });

  it("crossref: a child takes its parent's venue and year, never its DOI", () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, "c.bib"),
      "@inproceedings{child, title = {Child Paper}, crossref = {conf2020}, abstract = {Child abstract.}}\n" +
        "@proceedings{conf2020, title = {Proceedings of the Example Conference}, year = 2020, doi = {10.5555/conf.2020}, abstract = {A volume.}}\n",
    );
    const child = readCorpus(dir).papers.find((p) => p.id === "child")!;
    expect(child.bib).toMatchObject({ venue: "Proceedings of the Example Conference", date: "2020", doi: null });
  });
});

describe("RIS", () => {
  it("reads a BOM, CRLF, continuation lines and repeated tags", () => {
    const p = paper("okafor2020");
    expect(p.title).toBe("Federated Learning on Hospital Wards");
    expect(p.abstract).toBe(
      "Hospitals cannot pool patient records. We train a sepsis model across twelve wards with federated averaging and secure aggregation, and match the accuracy of a pooled model within two points.",
    );
    expect(p.source).toEqual({ file: "library.ris", line: 1 });
    expect(p.bib).toEqual({
      authors: ["Chidi Okafor", "Åsa Lindqvist"],
      date: "2020-05-02",
      venue: "Journal of Clinical AI",
      doi: "10.5555/fedhosp.2020.3",
      arxiv: null,
      pmid: null,
      url: "https://example.org/okafor2020",
      keywords: ["federated learning", "privacy"],
      type: "article-journal",
    });
  });

  it("a last record without ER still loads; DA gives the day; a record without an abstract is reported", () => {
    expect(paper("tanaka2019")).toMatchObject({ title: "Tidal Energy Forecasting with Gaussian Processes", source: { line: 46 } });
    expect(bibOf("ng2021streets")).toMatchObject({ date: "2021-09-14", type: "paper-conference", venue: "Proceedings of the Humanitarian Mapping Conference" });
    expect(corpus.problems.filter((p) => p.file === "library.ris")).toEqual([
      { file: "library.ris", line: 39, message: 'noabs-ris "A Technical Report Without Abstract" has no abstract; skipped', kind: "no-abstract" },
    ]);
  });
});

describe("RIS conference records (review-newuser18 #2)", () => {
  it("a TY CONF record keeps its PY, Y1 or DA year (citation-js maps PY to event-date for CONF)", () => {
    const conf = (id: string, dateTags: string) =>
      `TY  - CONF\nID  - ${id}\nTI  - Speech Recognition on Tiny Devices ${id}\nAU  - Haddad, Rami\n${dateTags}\nAB  - We recognise speech on microcontrollers with a small network.\nT2  - Proceedings of Tiny ML\nER  - \n`;
    const r = read({ "m.ris": [conf("py", "PY  - 2023"), conf("y1", "Y1  - 2022///"), conf("da", "DA  - 2021/09/14"), conf("bad", "PY  - 2023/13/45")].join("\n") });
    expect(Object.fromEntries(r.papers.map((p) => [p.id, p.bib!.date]))).toEqual({ py: "2023", y1: "2022", da: "2021-09-14", bad: null });
    expect(r.notices).toContainEqual(expect.stringMatching(/m\.ris:\d+: impossible date "2023\/13\/45" ignored/));
  });
});

describe("a Latin-1 .bib without an encoding header (review-newuser18 #6)", () => {
  it("is reported with its file and the line JabRef's header would fix", () => {
    const latin1 = readFileSync(path.join(LIBRARY, "jabref-latin1.bib")).toString("latin1").split("\n").slice(1).join("\n");
    const r = read({ "a.bib": Buffer.from(latin1, "latin1") });
    expect(r.problems).toEqual([{ file: "a.bib", line: 3, message: expect.stringMatching(/invalid UTF-8.*U\+FFFD.*% Encoding: ISO-8859-1/) }]);
  });
});

describe("CSL-JSON", () => {
  it("reads names (family/given, literal), issued date-parts, DOI, container-title, keyword; strips JATS", () => {
    const p = paper("kowalski2022");
    expect(p.abstract).toBe("We pretrain a transformer on 400 plant genomes. It predicts promoter regions with 91 % accuracy and transfers to Arabidopsis mutants.");
    expect(p.source).toEqual({ file: "library.json", line: 2 });
    expect(p.bib).toEqual({
      authors: ["Łukasz Kowalski", "Guðrún Þórsdóttir", "OpenGenome Consortium"],
      date: "2022-11",
      venue: "Plant Informatics",
      doi: "10.5555/plantinf.2022.118",
      arxiv: null,
      pmid: null,
      url: null,
      keywords: ["genomics", "language models"],
      type: "article-journal",
    });
  });

  it("a single item (not an array) is read too", () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "one.json"), JSON.stringify({ id: "solo", type: "article", title: "Solo", abstract: "Alone.", DOI: "10.5555/SOLO" }));
    expect(readCorpus(dir).papers).toMatchObject([{ id: "solo", bib: { doi: "10.5555/solo" } }]);
  });
});

describe("PubMed", () => {
  it("MEDLINE .nbib: continuation lines, FAU names, DP date, LID DOI, MeSH without subheadings, OT keywords", () => {
    const p = paper("pmid:31000001");
    expect(p.title).toBe("Wearable sensors predict falls in older adults: a prospective cohort study.");
    expect(p.abstract).toMatch(/^Falls are a leading cause of injury in older adults\. We followed 812 participants .* 0\.81\.$/);
    expect(p.bib).toEqual({
      authors: ["Ingrid Ødegaard", "Pablo Fernández-Ruiz"],
      date: "2021-03-15",
      venue: "Journal of Aging and Sensors",
      doi: "10.5555/wear.2021.14",
      arxiv: null,
      pmid: "31000001",
      url: null,
      keywords: ["Aged", "Accidental Falls", "Wearable Electronic Devices", "gait"],
      type: "Journal Article",
    });
  });

  it("MEDLINE saved as .txt is told from papersift's .txt by its PMID lines", () => {
    expect(paper("pmid:31000003").bib).toMatchObject({ date: "2024-01-08", keywords: ["Renal Insufficiency, Chronic", "deep learning"] });
    expect(corpus.files.find((f) => f.file === "pubmed-saved.txt")!.format).toBe("MEDLINE");
  });

  it("PubMed XML: labelled abstract sections, inline markup, ELocationID DOI, collective names, MeSH", () => {
    const p = paper("pmid:31000004");
    expect(p.title).toBe("Bed-net use and Anopheles resistance: an agent-based model.");
    expect(p.abstract).toBe(
      "Background: Insecticide-treated nets lose effect as mosquitoes adapt. Methods: We simulate 200 villages with an agent-based model of net use & resistance. Results: Rotating insecticides every 3 years halves resistance at 104 bites.",
    );
    expect(p.source).toEqual({ file: "pubmed.xml", line: 4 });
    expect(p.bib).toMatchObject({
      authors: ["Wanjiru Mwangi", "Noël Lefèvre", "Malaria Modelling Group"],
      date: "2022-07-04",
      venue: "Journal of Malaria Modelling",
      doi: "10.5555/malaria.2022.7",
      pmid: "31000004",
      keywords: ["Malaria", "Insecticide Resistance"],
    });
  });
});

describe("OpenAlex", () => {
  it("JSONL works: abstract from the inverted index, authorships, primary topic, told from papersift JSONL by content", () => {
    const p = paper("W1000000001");
    expect(p.abstract).toBe("Healthy reefs are noisy. We classify reef health from hydrophone recordings with a small audio network and track recovery after bleaching.");
    expect(p.bib).toEqual({
      authors: ["Siosaia Fifita", "Björn Åkesson"],
      date: "2023-02-20",
      venue: "Marine Acoustics Letters",
      doi: "10.5555/coral.2023.5",
      arxiv: null,
      pmid: null,
      url: "https://doi.org/10.5555/coral.2023.5",
      keywords: ["Underwater Acoustics and Reef Ecology", "Ecology", "Environmental Science", "soundscape"],
      type: "article",
    });
    expect(p.meta).not.toHaveProperty("abstract_inverted_index");
  });

  it("a .json API response (results) with the work's line and its PMID", () => {
    expect(paper("W1000000003")).toMatchObject({ source: { file: "openalex.json", line: 8 }, bib: { pmid: "31000009", venue: "Cryosphere Remote Sensing" } });
  });
});

describe("identity across files (issue 18 §2)", () => {
  it("the same DOI, arXiv id or PMID in another format is one paper: kept once, the other noted with both locations", () => {
    expect(corpus.papers).toHaveLength(14);
    expect(corpus.notices).toEqual(
      expect.arrayContaining([
        "the same arXiv 2203.01234 as strasse2022graphs (here strasse-csl) at library.json:25: kept the one at library.bib:21",
        "the same DOI 10.5555/cbl.2023.77 as sato2023protein (here sato-ris) at library.ris:17: kept the one at library.bib:44",
        "the same DOI 10.5555/fedhosp.2020.3 as okafor2020 (here W1000000002) at openalex.jsonl:2: kept the one at library.ris:1",
        "duplicate id pmid:31000001 at pubmed.xml:42: kept the one at pubmed.nbib:1",
      ]),
    );
  });

  it("distinct papers sharing a title are both kept", () => {
    const same = corpus.papers.filter((p) => p.title === "Graph Neural Networks for Street Layouts").map((p) => p.id);
    expect(same).toEqual(["strasse2022graphs", "ng2021streets"]);
  });

  it("every file reports its format and counts", () => {
    expect(corpus.files.map((f) => [f.file, f.format, f.entries, f.noAbstract, f.malformed])).toEqual([
      ["jabref-latin1.bib", "BibTeX", 1, 0, 0],
      ["library.bib", "BibTeX", 3, 1, 1],
      ["library.json", "CSL-JSON", 3, 0, 0],
      ["library.ris", "RIS", 4, 1, 0],
      ["openalex.json", "OpenAlex", 1, 0, 0],
      ["openalex.jsonl", "OpenAlex", 2, 0, 0],
      ["pubmed-saved.txt", "MEDLINE", 1, 0, 0],
      ["pubmed.nbib", "MEDLINE", 1, 1, 0],
      ["pubmed.xml", "PubMed XML", 2, 0, 0],
    ]);
  });
});

describe("arXiv JSONL gets metadata too", () => {
  it("authors as one string are split (affiliations dropped, LaTeX accents decoded); id, DOI and categories", () => {
    const dir = tempDir();
    const arxiv = {
      id: "0704.0001",
      authors: "C. Bal\\'azs, E. L. Berger (ANL), P. M. Nadolsky and C.-P. Yuan",
      title: "Diphoton production",
      abstract: "A calculation.",
      doi: "10.1103/PhysRevD.76.013009",
      "journal-ref": "Phys.Rev.D76:013009,2007",
      categories: "hep-ph hep-ex",
      versions: [{ version: "v1", created: "Mon, 2 Apr 2007 19:18:42 GMT" }],
    };
    writeFileSync(path.join(dir, "a.jsonl"), JSON.stringify(arxiv) + "\n");
    expect(readCorpus(dir).papers[0]!.bib).toEqual({
      authors: ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"],
      date: "2007-04-02",
      venue: "Phys.Rev.D76:013009,2007",
      doi: "10.1103/physrevd.76.013009",
      arxiv: "0704.0001",
      pmid: null,
      url: null,
      keywords: ["hep-ph", "hep-ex"],
      type: null,
    });
  });
});

describe("readLibraryFile (for recommend --from)", () => {
  it("reads one export into normalised papers, and says so for a file of an unknown type", () => {
    const read = readLibraryFile(path.join(LIBRARY, "library.ris"));
    expect(read.format).toBe("RIS");
    expect(read.papers.map((p) => p.id)).toEqual(["okafor2020", "sato-ris", "ng2021streets", "tanaka2019"]);
    const dir = tempDir();
    writeFileSync(path.join(dir, "x.pdf"), "%PDF");
    expect(readLibraryFile(path.join(dir, "x.pdf"))).toMatchObject({ papers: [], notices: [expect.stringMatching(/unknown file type/)] });
  });
});

describe("dates", () => {
  it("as precise as the source; impossible ones are null (and reported by the readers)", () => {
    expect(["2021", "2021-03", "2021-03-15", "2020/05/02/", "2023///", "2021 Mar 15", "2021 Mar-Apr", "Mon, 2 Apr 2007 19:18:42 GMT"].map((d) => parseDate(d).date)).toEqual([
      "2021", "2021-03", "2021-03-15", "2020-05-02", "2023", "2021-03-15", "2021-03", "2007-04-02",
    ]);
    for (const bad of ["2026-13-45", "0000-00-00", "2023-02-29", "2021-04-31", [2021, 13]]) expect(parseDate(bad), String(bad)).toEqual({ date: null, impossible: true });
    expect(corpus.notices).toContain('library.json:17: impossible date "2026-13-45" ignored');
    expect(paper("impossible-date").bib!.date).toBeNull();
  });
});

// The hostile review of the readers (notes/review-hostile18.md): each defect's repro, smallest form.
describe("hostile exports (review 18)", () => {

  it("#1 two different papers with one key are both kept (the first keeps it); an exact duplicate stays one", () => {
    const bird = "@article{smith2020, title={Bird Migration over the Sahara}, abstract={We track storks.}}\n";
    const soil = "@article{smith2020, title={Soil Microbes in Boreal Forests}, abstract={We sequence soil microbes.}}\n";
    const got = read({ "a.bib": bird + bird, "b.bib": soil, "c.ris": "TY  - JOUR\nID  - smith2020\nTI  - Coral Reefs\nAB  - Reef noise.\nER  - \n" });
    expect(got.papers.map((p) => [p.id.replace(/-[0-9a-f]{8}$/, "-#"), p.title])).toEqual([
      ["smith2020", "Bird Migration over the Sahara"],
      ["smith2020-#", "Soil Microbes in Boreal Forests"],
      ["smith2020-#", "Coral Reefs"],
    ]);
    const soilId = got.papers[1]!.id;
    expect(got.notices).toContain(`two papers have the id smith2020: the one at b.bib:1 is ${soilId} (the one at a.bib:1 keeps smith2020)`);
    expect(got.notices).toContain("duplicate entry smith2020 at a.bib:2: kept the one at a.bib:1");
    expect(got.files.find((f) => f.file === "a.bib")).toMatchObject({ entries: 2, duplicates: 1 });
  });

  it("#1 a key that is another format's id (pmid:…, W…) is a paper of its own; a chain notice names the real partner", () => {
    const got = read({
      "a.bib": "@article{pmid:31000001, title={Not the PubMed one}, abstract={Other.}}\n",
      "b.nbib": "PMID- 31000001\nTI  - The PubMed one\nAB  - Text.\nLID - 10.5555/x [doi]\n",
      "c.json": JSON.stringify([{ id: "csl1", type: "article", title: "Same DOI", abstract: "Again.", DOI: "10.5555/X" }]),
    });
    expect(got.papers.map((p) => p.title).sort()).toEqual(["Not the PubMed one", "The PubMed one"]);
    expect(got.papers.find((p) => p.title === "The PubMed one")!.id).toBe("pmid:31000001");
    expect(got.notices).toContain("the same DOI 10.5555/x as pmid:31000001 (here csl1) at c.json:1: kept the one at b.nbib:1");
  });

  it("#2 keyless BibTeX entries (JabRef's @Article{,) get title slugs, never the id \"\"", () => {
    const bib = [1, 2, 3].map((i) => `@Article{,\n title={Keyless paper ${i}},\n abstract={Abstract ${i}.},\n}\n`).join("");
    expect(read({ "jab.bib": bib }).papers.map((p) => p.id)).toEqual(["keyless-paper-1", "keyless-paper-2", "keyless-paper-3"]);
  });

  it("#7 many entries with an unclosed brace read in linear time, each reported", () => {
    const one = (i: number) => `@article{d${i},\n title = {Damaged {{entry},\n abstract = {${"lorem ".repeat(300)}},\n}\n`;
    const t0 = performance.now();
    const small = read({ "d.bib": Array.from({ length: 300 }, (_, i) => one(i)).join("") });
    const t1 = performance.now();
    const big = read({ "d.bib": Array.from({ length: 3000 }, (_, i) => one(i)).join("") });
    const t2 = performance.now();
    expect(small.problems).toHaveLength(300);
    expect(big.problems).toHaveLength(3000);
    // 10× the entries: linear is ~10× the time, quadratic ~100×. 40× leaves room for a busy machine.
    expect((t2 - t1) / Math.max(t1 - t0, 5)).toBeLessThan(40);
  });

  it("#8 #9 \\textbf, \\textit, \\textsc, \\texttt, \\textsuperscript, \\emph read as their text; a stray $ keeps the raw text", () => {
    const got = read({
      "l.bib":
        "@article{l5, title = {\\textbf{Bold} \\textit{E. coli} \\texttt{tt} x\\textsuperscript{2} \\textsc{Magic} \\emph{em} \\text{t} $\\beta$}, abstract = {A.}}\n" +
        "@article{l2, title = {Unmatched $ dollar sign in title}, abstract = {B \\textit{it}.}}\n",
    });
    expect(got.problems).toEqual([]);
    expect(got.papers.map((p) => [p.id, p.title, p.abstract])).toEqual([
      ["l5", "Bold E. coli tt x2 Magic em t β", "A."],
      ["l2", "Unmatched $ dollar sign in title", "B it."],
    ]);
  });
});

describe("hostile exports (review 18): RIS, PubMed, JSON", () => {
  const rec = (id: string, title: string, ty = "TY  - JOUR\n") => `${ty}ID  - ${id}\nTI  - ${title}\nAB  - Abstract of ${id}.\nER  - \n\n`;

  it("#3 a RIS record without TY costs that record only, reported; #11 odd tag spacing and CR-only line ends", () => {
    const got = read({
      "a.ris": rec("noty1", "First without TY", "") + rec("r2", "Two"),
      "b.ris": rec("r1", "Good first") + rec("mid", "Middle without TY", "") + rec("r3", "Good third"),
      "c.ris": "TY  - JOUR\r\nID  - s1\r\nTI - Title with one space\r\nAB   - Abstract with three.\r\nAU- Nospace, A\r\nER  - \r\n",
      "d.ris": (rec("cr1", "Mac one") + rec("cr2", "Mac two")).replace(/\n/g, "\r"),
    });
    expect(got.papers.map((p) => [p.id, p.title, p.abstract])).toEqual([
      ["r2", "Two", "Abstract of r2."],
      ["r1", "Good first", "Abstract of r1."],
      ["r3", "Good third", "Abstract of r3."],
      ["s1", "Title with one space", "Abstract with three."],
      ["cr1", "Mac one", "Abstract of cr1."],
      ["cr2", "Mac two", "Abstract of cr2."],
    ]);
    expect(got.papers.find((p) => p.id === "s1")!.bib!.authors).toEqual(["A Nospace"]);
    expect(got.problems).toEqual([
      { file: "a.ris", line: 1, message: "RIS record without TY (the tag that starts a record); skipped" },
      { file: "b.ris", line: 7, message: "RIS record without TY (the tag that starts a record); skipped" },
    ]);
  });
});

describe("hostile exports (review 18): PubMed XML", () => {
  const readXml = (text: string) => read({ "set.xml": text });
  const article = (pmid: number, title: string, abstract = `<AbstractText>Abstract ${pmid}.</AbstractText>`) =>
    `<PubmedArticle>\n<MedlineCitation><PMID>${pmid}</PMID>\n<Article><ArticleTitle>${title}</ArticleTitle><Abstract>${abstract}</Abstract></Article>\n</MedlineCitation>\n</PubmedArticle>\n`;
  const set = (...articles: string[]) => `<?xml version="1.0"?>\n<PubmedArticleSet>\n${articles.join("")}</PubmedArticleSet>\n`;

  it("#4 one broken or truncated article costs that article only", () => {
    const mid = readXml(set(article(1, "One"), article(2, "Two <i>unclosed").replace("</ArticleTitle>", ""), article(3, "Three")));
    expect(mid.papers.map((p) => p.id)).toEqual(["pmid:1", "pmid:3"]);
    expect(mid.problems).toEqual([{ file: "set.xml", line: 8, message: expect.stringMatching(/^PubmedArticle cannot be parsed \(.+\); skipped$/) }]);
    const cut = readXml(set(article(1, "One"), article(2, "Two")).slice(0, -80));
    expect(cut.papers.map((p) => p.id)).toEqual(["pmid:1"]);
    expect(cut.problems).toEqual([{ file: "set.xml", line: 8, message: "PubmedArticle does not end (a truncated file?); skipped" }]);
  });

  it("#4 a PubmedBookArticle (GeneReviews) is read; #10 CDATA is text, tags inside it kept", () => {
    const book =
      "<PubmedBookArticle>\n<BookDocument><PMID Version=\"1\">32000003</PMID>\n" +
      "<Book><Publisher><PublisherName>University of Washington</PublisherName></Publisher><BookTitle>GeneReviews®</BookTitle>" +
      "<PubDate><Year>2020</Year><Month>Jun</Month></PubDate></Book>\n" +
      "<ArticleTitle>A book chapter</ArticleTitle><AuthorList><Author><LastName>Roe</LastName><ForeName>Ann</ForeName></Author></AuthorList>\n" +
      "<Abstract><AbstractText>Book chapters are in PubMed exports too.</AbstractText></Abstract>\n</BookDocument>\n</PubmedBookArticle>\n";
    const got = readXml(set(article(1, "One", '<AbstractText Label="METHODS"><![CDATA[We used <stuff> & raw ampersands.]]></AbstractText>'), book));
    expect(got.problems).toEqual([]);
    expect(got.papers.map((p) => [p.id, p.title, p.abstract])).toEqual([
      ["pmid:1", "One", "Methods: We used <stuff> & raw ampersands."],
      ["pmid:32000003", "A book chapter", "Book chapters are in PubMed exports too."],
    ]);
    expect(got.papers[1]!.bib).toMatchObject({ authors: ["Ann Roe"], date: "2020-06", venue: "GeneReviews®", pmid: "32000003" });
  });
});

describe("hostile exports (review 18): telling formats apart, encodings, deep JSON", () => {

  it("#5 a .txt is MEDLINE only when it reads as MEDLINE, not for one PMID- line", () => {
    const notes = "Bird Migration over the Sahara\n\nWe track storks crossing the Sahara.\n\nPMID- 12345678\n\nSoil Microbes in Boreal Forests\n\nWe sequence soil microbes.\n";
    const got = read({ "notes.txt": notes });
    expect(got.files[0]).toMatchObject({ format: "text", entries: 2 });
    expect(got.papers.map((p) => p.title)).toEqual(["Bird Migration over the Sahara", "Soil Microbes in Boreal Forests"]);
  });

  it("#6 a .json item nested 10,000 deep is skipped and reported; the others are read", () => {
    const deep = "[".repeat(10_000) + "]".repeat(10_000);
    const got = read({ "deep.json": `[{"id":"d1","title":"Deep","abstract":"x.","note":${deep}},\n{"id":"ok","title":"Fine","abstract":"y."}]` });
    expect(got.papers.map((p) => p.id)).toEqual(["ok"]);
    expect(got.problems).toEqual([{ file: "deep.json", line: 1, message: "nested deeper than 64 levels; skipped" }]);
  });

  it("#13 one CSL item with an abstract_inverted_index key does not turn the file into OpenAlex", () => {
    const mix = [
      { id: "c1", type: "article-journal", title: "Good CSL one", abstract: "Fine one." },
      { id: "c2", type: "article-journal", title: "Stray OpenAlex field", abstract: "Fine two.", abstract_inverted_index: null },
    ];
    const got = read({ "mix.json": JSON.stringify(mix) });
    expect(got.files[0]).toMatchObject({ format: "CSL-JSON", entries: 2 });
    expect(got.papers.map((p) => p.id)).toEqual(["c1", "c2"]);
  });

  it("#14 UTF-16 with a byte-order mark is decoded; UTF-16 JSON Lines is refused with what to do", () => {
    const bom16 = (text: string, be = false) => {
      const le = Buffer.from(`\uFEFF${text}`, "utf16le");
      return be ? le.swap16() : le;
    };
    const got = read({
      "u16.bib": bom16("@article{u1, title={Grüße aus UTF-16}, abstract={Little endian.}}\n"),
      "u16.ris": bom16("TY  - JOUR\nID  - u2\nTI  - Big endian RIS\nAB  - Big endian.\nER  - \n", true),
      "u16.jsonl": bom16('{"id":"u3","title":"T","abstract":"A."}\n'),
    });
    expect(got.papers.map((p) => [p.id, p.title])).toEqual([["u1", "Grüße aus UTF-16"], ["u2", "Big endian RIS"]]);
    expect(got.problems).toEqual([{ file: "u16.jsonl", line: 1, message: "UTF-16 text: JSON Lines are read as UTF-8; save the file as UTF-8; its papers in the index are kept" }]);
  });

  it("#16 CSL fields of the wrong type are read where they can be, and said where they cannot", () => {
    const items = [
      { id: "s1", type: "article", title: ["Title given", "as an array"], abstract: "A.", author: "Smith, John and Doe, Jane", issued: 2021 },
      { id: "s2", type: "article", title: "Abstract as an object", abstract: { text: "Hidden." } },
    ];
    const got = read({ "c.json": JSON.stringify(items, null, 1) });
    expect(got.papers.map((p) => [p.id, p.title, p.bib!.authors, p.bib!.date])).toEqual([["s1", "Title given as an array", ["John Smith", "Jane Doe"], "2021"]]);
    expect(got.problems).toEqual([{ file: "c.json", line: 13, message: 's2 "Abstract as an object" has no abstract (its abstract is an object, not text); skipped', kind: "no-abstract" }]);
  });

  it("#17 a broken OpenAlex inverted index is said, and a word never overwrites another", () => {
    const work = { id: "https://openalex.org/W1", title: "Reefs", abstract_inverted_index: { Healthy: [0], reefs: [1], are: [2], "noisy.": [3], dup: [1] } };
    const got = read({ "w.jsonl": JSON.stringify(work) + "\n" });
    expect(got.papers[0]!.abstract).toBe("Healthy reefs dup are noisy.");
    expect(got.notices).toContain("w.jsonl:1: abstract_inverted_index puts 2 words at one position; read in index order");
  });

  it("#15 BibTeX oddities are read as meant or said: late @string, missing crossref, a field twice, math, \\cite, \\href, \\relax", () => {
    const got = read({
      "o.bib":
        "@article{m1, title = {Roots $\\sqrt{x^{2}+y_{i}}$ and \\frac{a}{b} with $\\le \\geq \\infty$}, journal = later,\n" +
        "  author = {{\\relax Th}orsson, {\\'A}sa}, abstract = {As in \\cite{foo}, see \\href{http://a.b}{the site}.}}\n" +
        "@string{later = {Defined Later}}\n" +
        "@article{m2, title = {First}, title = {Second}, crossref = {nowhere}, abstract = {B.}}\n",
    });
    expect(got.papers.map((p) => [p.title, p.abstract, p.bib!.authors])).toEqual([
      ["Roots √(x^2+y_i) and a/b with ≤ ≥ ∞", "As in [foo], see the site.", ["Ása Thorsson"]],
      ["Second", "B.", []],
    ]);
    expect(got.notices).toEqual(
      expect.arrayContaining([
        "o.bib:1: @string later is used before it is defined; read as its name",
        "o.bib:4: title is given twice; the last one is read",
        "o.bib:4: crossref nowhere names no entry in this file",
      ]),
    );
  });
});
