// A fake Ollama release made the way Ollama's CI makes it (.github/workflows/release.yaml):
// a tree with bin/ollama and lib/ollama/..., archived with `tar c -T list --owner 0 --group 0 |
// zstd -19`, an add-on archive for the same prefix (-rocm), a .tgz and a .zip variant, and
// `sha256sum.txt` over every asset (`<sha256>  ./<name>`). Plus an install laid out like
// install.sh (PREFIX/bin/ollama, PREFIX/lib/ollama) with another tool beside it in bin/.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compileFakeRunner } from './compile.js';
import { runProcess } from './run.js';

export interface OllamaReleaseOptions {
  version: string;
  /** Directory for the assets (default: a new temp dir of `kit`). */
  outDir?: string;
  /** Asset name prefix (default `ollama-linux-amd64`). */
  assetPrefix?: string;
  /** Extra files in the base archive, e.g. `{ 'bin/othertool': '...' }` for a hostile release. */
  extraFiles?: Record<string, string>;
}

export interface OllamaRelease {
  version: string;
  /** Where the assets and sha256sum.txt are. */
  dir: string;
  /** The unpacked base tree (bin/, lib/ollama/) and the add-on tree (lib/ollama/rocm_v6). */
  baseTree: string;
  rocmTree: string;
  /** `<prefix>.tar.zst`: bin/ollama, lib/ollama/{llama-server,*.so,cuda_v12/}. */
  base: string;
  /** `<prefix>-rocm.tar.zst`: lib/ollama/rocm_v6/... */
  rocm: string;
  /** `<prefix>.tgz` and `<prefix>-rocm.tgz`: the same trees, gzip (older releases). */
  baseTgz: string;
  rocmTgz: string;
  /** `<prefix>.zip` and `<prefix>-rocm.zip` (zip -y: symlinks stored as links). */
  baseZip: string;
  rocmZip: string;
  /** `sha256sum.txt`: `<hex>  ./<name>` for every asset above. */
  sha256sums: string;
  /** SHA-256 (hex) of each asset by file name. */
  sha256: Record<string, string>;
  /** Files of the add-on, relative to the prefix. */
  rocmFiles: string[];
}

export interface TempDirMaker {
  makeTempDir(prefix?: string): Promise<string>;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

async function shell(script: string, cwd: string): Promise<void> {
  const r = await runProcess('bash', ['-c', `set -euo pipefail; ${script}`], { cwd });
  if (r.code !== 0) throw new Error(`${script}: exit ${r.code}: ${r.stderr.trim()}`);
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Writes a .so stand-in: a few hundred KiB whose bytes depend on the version (so v1 and v2 differ). */
async function fakeLibrary(path: string, version: string, kib = 256): Promise<void> {
  const tag = Buffer.from(`${path.split('/').slice(-2).join('/')} ${version}\n`);
  const buf = Buffer.alloc(kib * 1024);
  for (let i = 0; i < buf.length; i += tag.length) tag.copy(buf, i);
  await writeFile(path, buf);
}

/** Top-level components as Ollama's CI lists them: bin/*, lib/ollama/* (directories recurse). */
async function componentList(tree: string): Promise<string[]> {
  const out: string[] = [];
  for (const top of ['bin', 'lib/ollama']) {
    const names = await readdir(join(tree, top)).catch(() => [] as string[]);
    for (const n of names.sort()) out.push(`${top}/${n}`);
  }
  return out;
}

/** tar -T list | compressor > out, like release.yaml; zip -y for the zip variant. */
async function archive(tree: string, components: string[], out: string, format: 'tar.zst' | 'tgz' | 'zip'): Promise<void> {
  const list = `${out}.list`;
  await writeFile(list, `${components.join('\n')}\n`);
  if (format === 'zip') await shell(`zip -qry ${q(out)} ${components.map(q).join(' ')}`, tree);
  else {
    const compress = format === 'tar.zst' ? 'zstd -19 -q -T1 -c' : 'gzip -9 -c';
    await shell(`tar c -T ${q(list)} --owner 0 --group 0 | ${compress} > ${q(out)}`, tree);
  }
  await runProcess('rm', ['-f', list]);
}

/**
 * Builds the release: `bin/ollama` and `lib/ollama/llama-server` are the compiled fake runner
 * (`--version` prints `ollama version is V`; `serve` answers GET /api/version on OLLAMA_HOST and
 * execs lib/ollama/llama-server engines that mmap a file given with `--model`).
 */
export async function makeOllamaRelease(kit: TempDirMaker, opts: OllamaReleaseOptions): Promise<OllamaRelease> {
  const v = opts.version;
  const dir = opts.outDir ?? (await kit.makeTempDir(`ollama-release-${v}-`));
  await mkdir(dir, { recursive: true });
  const work = await kit.makeTempDir(`ollama-release-tree-${v}-`);
  const baseTree = join(work, 'base');
  const rocmTree = join(work, 'rocm');
  const lib = join(baseTree, 'lib', 'ollama');
  await compileFakeRunner({ version: v, outDir: join(baseTree, 'bin'), name: 'ollama' });
  await compileFakeRunner({ version: v, outDir: lib, name: 'llama-server' });
  await fakeLibrary(join(lib, 'libggml-base.so'), v);
  await fakeLibrary(join(lib, 'libggml-cpu-x64.so'), v);
  await mkdir(join(lib, 'cuda_v12'), { recursive: true });
  await fakeLibrary(join(lib, 'cuda_v12', 'libggml-cuda.so'), v, 512);
  await fakeLibrary(join(lib, 'cuda_v12', 'libcudart.so.12.8.90'), v, 64);
  await symlink('libcudart.so.12.8.90', join(lib, 'cuda_v12', 'libcudart.so.12'));
  for (const [rel, content] of Object.entries(opts.extraFiles ?? {})) {
    await mkdir(join(baseTree, rel, '..'), { recursive: true });
    await writeFile(join(baseTree, rel), content);
  }
  const rocmDir = join(rocmTree, 'lib', 'ollama', 'rocm_v6');
  await mkdir(join(rocmDir, 'rocblas', 'library'), { recursive: true });
  await fakeLibrary(join(rocmDir, 'libggml-hip.so'), v, 384);
  await fakeLibrary(join(rocmDir, 'rocblas', 'library', 'TensileLibrary.dat'), v, 32);
  const rocmFiles = ['lib/ollama/rocm_v6/libggml-hip.so', 'lib/ollama/rocm_v6/rocblas/library/TensileLibrary.dat'];

  const prefix = opts.assetPrefix ?? 'ollama-linux-amd64';
  const baseComponents = [
    ...(await componentList(baseTree)),
    ...Object.keys(opts.extraFiles ?? {}).filter((p) => !p.startsWith('bin/') && !p.startsWith('lib/ollama/')),
  ];
  const rocmComponents = await componentList(rocmTree);
  const names = {
    base: `${prefix}.tar.zst`,
    rocm: `${prefix}-rocm.tar.zst`,
    baseTgz: `${prefix}.tgz`,
    rocmTgz: `${prefix}-rocm.tgz`,
    baseZip: `${prefix}.zip`,
    rocmZip: `${prefix}-rocm.zip`,
  };
  await archive(baseTree, baseComponents, join(dir, names.base), 'tar.zst');
  await archive(rocmTree, rocmComponents, join(dir, names.rocm), 'tar.zst');
  await archive(baseTree, baseComponents, join(dir, names.baseTgz), 'tgz');
  await archive(rocmTree, rocmComponents, join(dir, names.rocmTgz), 'tgz');
  await archive(baseTree, baseComponents, join(dir, names.baseZip), 'zip');
  await archive(rocmTree, rocmComponents, join(dir, names.rocmZip), 'zip');

  const sha256: Record<string, string> = {};
  for (const name of Object.values(names).sort()) sha256[name] = await sha256File(join(dir, name));
  const sha256sums = join(dir, 'sha256sum.txt');
  await writeFile(
    sha256sums,
    Object.entries(sha256)
      .map(([name, hex]) => `${hex}  ./${name}\n`)
      .join(''),
  );
  const at = (n: string) => join(dir, n);
  return {
    version: v,
    dir,
    baseTree,
    rocmTree,
    base: at(names.base),
    rocm: at(names.rocm),
    baseTgz: at(names.baseTgz),
    rocmTgz: at(names.rocmTgz),
    baseZip: at(names.baseZip),
    rocmZip: at(names.rocmZip),
    sha256sums,
    sha256,
    rocmFiles,
  };
}

export interface OllamaInstall {
  /** The install prefix (like /usr/local): holds bin/ and lib/. */
  prefix: string;
  /** PREFIX/bin (put it on PATH). */
  binDir: string;
  /** PREFIX/bin/ollama. */
  bin: string;
  /** PREFIX/lib/ollama. */
  lib: string;
  /** PREFIX/bin/othertool: another program (the fake runner, version 9.9.9) that is none of Ollama's. */
  othertool: string;
  version: string;
}

/**
 * Lays out an install the way install.sh does: the base archive (and `addOns`) extracted into
 * PREFIX (`zstd -d | tar x -C PREFIX`), so PREFIX/bin/ollama and PREFIX/lib/ollama; plus
 * PREFIX/bin/othertool, a program of another product sharing bin/.
 */
export async function layOutOllamaInstall(
  kit: TempDirMaker,
  release: OllamaRelease,
  opts: { prefix?: string; addOns?: string[] } = {},
): Promise<OllamaInstall> {
  const prefix = opts.prefix ?? join(await kit.makeTempDir('ollama-prefix-'), 'usr', 'local');
  await mkdir(join(prefix, 'bin'), { recursive: true });
  await mkdir(join(prefix, 'lib'), { recursive: true });
  for (const a of [release.base, ...(opts.addOns ?? [])]) await shell(`zstd -d -q -c ${q(a)} | tar x -C ${q(prefix)}`, prefix);
  const othertool = await compileFakeRunner({ version: '9.9.9', outDir: join(prefix, 'bin'), name: 'othertool' });
  return {
    prefix,
    binDir: join(prefix, 'bin'),
    bin: join(prefix, 'bin', 'ollama'),
    lib: join(prefix, 'lib', 'ollama'),
    othertool,
    version: release.version,
  };
}
