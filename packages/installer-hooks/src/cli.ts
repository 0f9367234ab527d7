#!/usr/bin/env node
// llm-upgrade-installer: build an MSI or an NSIS installer with the llm-upgrade hooks from a
// description JSON (paths in it are relative to the JSON file).
//   llm-upgrade-installer msi  --description D.json --out app.msi      [--work-dir DIR]
//   llm-upgrade-installer nsis --description D.json --out setup.exe    [--nsi FILE] [--work-dir DIR]
//   llm-upgrade-installer inno --description D.json --out setup.exe    [--work-dir DIR]  (ISCC; under Wine on Linux)
//   llm-upgrade-installer wxs|nsh|iss|wix-snippet --description D.json (print the rendered source)
import { EXIT, isLlmUpgradeError } from '@llm-upgrade/core';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildMsi } from './build-msi.js';
import { buildInno } from './build-inno.js';
import { buildNsis } from './build-nsis.js';
import { resolveDescription, type InstallerDescription } from './description.js';
import { renderInnoIncludeFor } from './inno.js';
import { renderNsisInclude } from './nsis.js';
import { readPayload } from './payload.js';
import { renderWixSource, renderWixToolsetSnippet } from './wix.js';

function loadDescription(file: string): InstallerDescription {
  const base = dirname(resolve(file));
  const raw = JSON.parse(readFileSync(file, 'utf8')) as InstallerDescription;
  return { ...raw, payloadDir: resolve(base, raw.payloadDir), upgraderExe: resolve(base, raw.upgraderExe) };
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      description: { type: 'string' },
      out: { type: 'string' },
      'work-dir': { type: 'string' },
      nsi: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command || !values.description) {
    process.stdout.write(
      'usage: llm-upgrade-installer msi|nsis|inno|wxs|nsh|iss|wix-snippet --description D.json [--out FILE] [--work-dir DIR] [--nsi FILE]\n',
    );
    return values.help ? 0 : 2;
  }
  const description = loadDescription(values.description);
  switch (command) {
    case 'msi':
    case 'nsis': {
      if (!values.out) throw new Error('--out FILE is required');
      const opts = { outFile: values.out, ...(values['work-dir'] ? { workDir: values['work-dir'] } : {}) };
      const r =
        command === 'msi'
          ? await buildMsi(description, opts)
          : await buildNsis(description, { ...opts, ...(values.nsi ? { nsiFile: values.nsi } : {}) });
      process.stderr.write(`built ${r.outFile} (${(r.bytes / 1048576).toFixed(1)} MiB)\n`);
      return 0;
    }
    case 'inno': {
      if (!values.out) throw new Error('--out FILE is required');
      const r = await buildInno(description, { outFile: values.out, ...(values['work-dir'] ? { workDir: values['work-dir'] } : {}) });
      process.stderr.write(`built ${r.outFile} (${(r.bytes / 1048576).toFixed(1)} MiB)\n`);
      return 0;
    }
    case 'iss':
      process.stdout.write(renderInnoIncludeFor(resolveDescription(description, 'inno')));
      return 0;
    case 'wxs': {
      const d = resolveDescription(description, 'msi');
      process.stdout.write(renderWixSource(d, readPayload(d.payloadDir)).wxs);
      return 0;
    }
    case 'wix-snippet':
      process.stdout.write(renderWixToolsetSnippet(resolveDescription(description, 'msi'), description.upgraderExe));
      return 0;
    case 'nsh':
      process.stdout.write(renderNsisInclude(resolveDescription(description, 'nsis')));
      return 0;
    default:
      process.stderr.write(`unknown command ${command}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // ToolError and DescriptionError are LlmUpgradeErrors: their code picks the exit code (core's one table).
    if (isLlmUpgradeError(e)) {
      process.stderr.write(`llm-upgrade-installer: error [${e.code}]: ${e.message}\nhint: ${e.hint}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    process.stderr.write(`llm-upgrade-installer: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = EXIT.internal;
  },
);
