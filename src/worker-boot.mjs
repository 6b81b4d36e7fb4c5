// The first module of a worker thread started from the TypeScript sources (see worker.ts): loader hooks are
// per thread, so tsx registers its own here before the worker's module, whose URL is the last argument.
import { register } from "tsx/esm/api";

register();
await import(process.argv.at(-1));
