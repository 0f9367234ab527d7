// Skips a release step whose inputs are unchanged: the step's key (a hash of everything it
// reads) and the hashes of the files it wrote are kept in <out>/.work/steps.json. A step is
// fresh when the key matches and every output still has the recorded hash.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hashFile } from './hash.mjs';

export class StepCache {
  constructor(file) {
    this.file = file;
    this.steps = {};
    try {
      if (existsSync(file)) this.steps = JSON.parse(readFileSync(file, 'utf8')).steps ?? {};
    } catch {
      this.steps = {}; // a damaged cache only costs a rebuild
    }
  }

  /** The recorded outputs ({ path: {sha256, size} }) when `name` ran with `key` and they are intact, else null. */
  async fresh(name, key) {
    const entry = this.steps[name];
    if (!entry || entry.key !== key) return null;
    for (const [path, want] of Object.entries(entry.outputs)) {
      if (!existsSync(path)) return null;
      const got = await hashFile(path);
      if (got.sha256 !== want.sha256) return null;
    }
    return entry.outputs;
  }

  async record(name, key, paths) {
    const outputs = {};
    for (const p of paths) outputs[p] = await hashFile(p);
    this.steps[name] = { key, outputs };
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify({ steps: this.steps }, null, 2)}\n`);
    await rename(tmp, this.file);
    return outputs;
  }

  forget(name) {
    delete this.steps[name];
  }
}
