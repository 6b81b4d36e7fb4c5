// The README's library example runs as written on plain Node 20 against the packed package: `npm pack` of a
// fresh build (made in a staging copy, so the repo's own dist/ is never rewritten under running tests),
// unpacked into a temp project's node_modules beside the dependencies already installed here.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bundledPapers, ROOT, tempDir, writeTxt } from "./helpers.ts";

describe("the packed package", () => {
  it("imports as `papersift` with types, and the README's library example runs on plain Node", () => {
    const stage = tempDir();
    for (const entry of ["package.json", "tsconfig.json", "tsconfig.build.json", "README.md", "bin", "src", "web", "models", "corpus", "docs"]) {
      cpSync(path.join(ROOT, entry), path.join(stage, entry), { recursive: true });
    }
    symlinkSync(path.join(ROOT, "node_modules"), path.join(stage, "node_modules"));
    execFileSync("npm", ["run", "build", "--silent"], { cwd: stage, stdio: "pipe" });
    const [packed] = JSON.parse(execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", stage], { cwd: stage, encoding: "utf8" })) as { filename: string; files: { path: string }[] }[];
    const files = packed!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(["dist/index.mjs", "dist/types/index.d.ts", "bin/papersift.js", "models/sentence-transformers/all-MiniLM-L6-v2/onnx/model_quantized.onnx"]));
    expect(files.some((f) => f.startsWith("tests/") || f.startsWith("index-cache/"))).toBe(false);

    // A user's project: the tarball unpacked as node_modules/papersift, its dependencies beside it.
    const project = tempDir();
    const modules = path.join(project, "node_modules");
    mkdirSync(path.join(modules, "papersift"), { recursive: true });
    execFileSync("tar", ["-xzf", path.join(stage, packed!.filename), "-C", path.join(modules, "papersift"), "--strip-components=1"]);
    for (const name of readdirSync(path.join(ROOT, "node_modules"))) {
      if (name !== ".bin" && name !== "papersift") symlinkSync(path.join(ROOT, "node_modules", name), path.join(modules, name));
    }
    writeTxt(path.join(project, "corpus", "papers.txt"), bundledPapers().slice(0, 5));

    // The example exactly as the README shows it.
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    const example = /## Library[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)![1]!;
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(path.join(project, "example.js"), example);
    const run = spawnSync(process.execPath, ["example.js"], { cwd: project, encoding: "utf8", timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(bundledPapers()[0]!.title.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));

    // Types: a consumer's TypeScript sees the API's types through `exports`.
    writeFileSync(path.join(project, "check.ts"), 'import { openIndex, type Hit } from "papersift";\nconst index = await openIndex("x");\nconst hit: Hit | undefined = (await index.search("q", { k: 1, category: ["cs.CL"] })).results[0];\nexport const title: string | undefined = hit?.title;\n');
    writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: ["node"] }, files: ["check.ts"] }),
    );
    const tsc = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", project], { encoding: "utf8" });
    expect(tsc.status, tsc.stdout).toBe(0);
  }, 180_000);
});
