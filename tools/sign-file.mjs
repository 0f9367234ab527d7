#!/usr/bin/env node
// Signs one file with the certificate from the environment; for makensis's !finalize and
// !uninstfinalize ("node tools/sign-file.mjs '%1'" = 0). Without a certificate it does nothing.
import { signWindowsFiles, signingFromEnv } from './lib/sign.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: sign-file.mjs FILE');
  process.exit(2);
}
const [result] = await signWindowsFiles([file], signingFromEnv());
if (!result.signed) console.error(`sign-file: ${file} left unsigned: ${result.reason}`);
