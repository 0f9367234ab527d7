import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A small app payload: an exe-like file, a lib dir, a file name with spaces. */
export function makeSmallPayload(root: string): number {
  const files: Record<string, string> = {
    'ollama.exe': 'stand-in server\n',
    'lib/ollama/llama-server.exe': 'stand-in engine\n',
    'lib/ollama/ggml-base.dll': 'stand-in library\n',
    'docs/read me (first).txt': 'hello\n',
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return Object.keys(files).length;
}

/**
 * A payload shaped like Ollama's Windows tree: lib/ollama/cuda_v12/… and rocm/… several
 * levels deep with long names, `count` files in all. Returns the relative paths.
 */
export function makeDeepPayload(root: string, count: number): string[] {
  const paths: string[] = [];
  const backends = ['cuda_v11', 'cuda_v12', 'cuda_v13', 'rocm', 'vulkan'];
  for (let i = 0; paths.length < count; i++) {
    const backend = backends[i % backends.length]!;
    const depth = 1 + (i % 4);
    const dirs = ['lib', 'ollama', backend];
    for (let d = 0; d < depth; d++) dirs.push(`rocblas_library_gfx${1030 + ((i + d) % 12)}_subdirectory_level_${d}`);
    const name = `${i % 3 === 0 ? 'TensileLibrary_Type_HH_Contraction_l_Ailk_Bljk_Cijk_Dijk_' : 'ggml-'}${backend}-${i}${i % 7 === 0 ? ' copy' : ''}.${i % 2 ? 'dll' : 'dat'}`;
    const rel = [...dirs, name].join('/');
    mkdirSync(join(root, ...dirs), { recursive: true });
    writeFileSync(join(root, rel), `${i}\n`);
    paths.push(rel);
  }
  // Names that differ only by case or punctuation must still get distinct identifiers.
  for (const rel of ['lib/ollama/Same-Name.dll', 'lib/ollama/same_name.dll', 'lib/ollama/same.name.dll']) {
    writeFileSync(join(root, rel), rel);
    paths.push(rel);
  }
  return paths;
}
