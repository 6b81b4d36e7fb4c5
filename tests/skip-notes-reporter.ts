// A vitest reporter that lists, after the summary, every test that skipped itself and why (ctx.skip(note):
// the browser test on a machine without Chromium). A skip is never silent (issue 17). Tests left out by a
// name filter (-t) carry no note and are not listed.
import path from "node:path";
import type { Reporter, TestModule } from "vitest/node";

export default class SkipNotesReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const lines = modules.flatMap((module) =>
      [...module.children.allTests("skipped")].flatMap((test) => {
        const result = test.result();
        const note = result.state === "skipped" ? result.note : undefined;
        return note ? [`  ${path.relative(process.cwd(), module.moduleId)} > ${test.fullName}: ${note}`] : [];
      }),
    );
    if (lines.length) process.stdout.write(`\nSkipped on this machine (${lines.length}):\n${lines.join("\n")}\n`);
  }
}
