// Ctrl-C in the CLI: exit 130, but first let native work running in worker threads end its current step.
// Terminating a worker in the middle of an onnxruntime run aborts the whole process (the binding throws into
// an environment already torn down: exit 134, not 130). Whatever owns such workers registers here.

const hooks = new Set<() => Promise<void>>();

/** Run `hook` (stop your workers cleanly) on Ctrl-C; returns the function that unregisters it. */
export function onInterrupt(hook: () => Promise<void>): () => void {
  hooks.add(hook);
  return () => hooks.delete(hook);
}

/** Every registered hook, settled (a failing one does not stop the others). */
export async function runInterruptHooks(): Promise<void> {
  await Promise.allSettled([...hooks].map((hook) => hook()));
}
