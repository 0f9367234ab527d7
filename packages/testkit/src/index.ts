// @llm-upgrade/testkit: real process trees for tests, demos and benchmarks (Linux).
//
//   const kit = new TestKit();
//   const install = await kit.makeSampleInstall({ version: '0.5.1' });
//   const server = await kit.spawnTree(install.bin, ['serve', '--engines', '2', '--', '--model', install.model]);
//   // server.ready.engines -> engine pids; ... run the code under test ...
//   await kit.cleanup(); // afterEach/afterAll: kills by pid (identity-checked), removes temp dirs
//
// The module-level functions below use one shared default kit, for callers that need only one.
import { TestKit, type SampleInstall, type SampleInstallOptions, type SpawnTreeOptions, type SpawnedTree } from './kit.js';

export { TestKit, parseReadyLine, waitFor } from './kit.js';
export type { Ready, SampleInstall, SampleInstallOptions, SpawnTreeOptions, SpawnedTree } from './kit.js';
export { compileFakeRunner, fakeRunnerSource } from './compile.js';
export type { CompileOptions } from './compile.js';
export { descendantsOf, identityOf, isAlive, listPids, readProcLink, readStat, runningUnder, selfAndAncestors } from './proc.js';
export { freePort, versionAt } from './net.js';
export { layOutOllamaInstall, makeOllamaRelease } from './ollama-release.js';
export type { OllamaInstall, OllamaRelease, OllamaReleaseOptions, TempDirMaker } from './ollama-release.js';
export { runProcess, sh } from './run.js';
export type { ProcessRun, RunOptions } from './run.js';
export type { ProcEntry } from './proc.js';

export const defaultKit = new TestKit();

export const makeTempDir = (prefix?: string): Promise<string> => defaultKit.makeTempDir(prefix);
export const makeSampleInstall = (opts: SampleInstallOptions): Promise<SampleInstall> => defaultKit.makeSampleInstall(opts);
export const spawnTree = (exe: string, args: string[], opts?: SpawnTreeOptions): Promise<SpawnedTree> =>
  defaultKit.spawnTree(exe, args, opts);
export const track = (pid: number): void => defaultKit.track(pid);
export const cleanup = (): Promise<void> => defaultKit.cleanup();
export { startGithubApi } from './github-api.js';
export type { FakeAsset, FakeRelease, GithubApiOptions, GithubApiServer, RecordedRequest } from './github-api.js';
export { bootContainer, nspawnUnavailable } from './nspawn.js';
export type { Container, NspawnBind, NspawnOptions } from './nspawn.js';
