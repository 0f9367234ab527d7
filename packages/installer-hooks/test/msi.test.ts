import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DOWNGRADE_ERROR_MESSAGE,
  MSI_AUTHORITATIVE_STOP,
  MSI_BEST_EFFORT_STOP,
  MSI_BINARY_KEY,
  MSI_CA_BITS,
  buildMsi,
  isValidMsiIdentifier,
  msiStopArguments,
  resolveDescription,
  type InstallerDescription,
} from '../src/index.js';
import { exportTable, extractStream, tables, type Row } from './helpers/msiinfo.js';
import { evaluateMsiCondition } from './helpers/msi-condition.js';
import { makeDeepPayload, makeSmallPayload } from './helpers/payload.js';
import { makeStandInUpgrader } from './helpers/stand-in.js';
import { missingTools } from './helpers/tools.js';

const missing = missingTools('wixl', 'msibuild', 'msiinfo');
if (missing) console.warn(`[installer-hooks] MSI tests skipped: ${missing}`);

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const seq = (rows: Row[], action: string): number => {
  const row = rows.find((r) => r.Action === action);
  if (!row) throw new Error(`${action} is not in InstallExecuteSequence`);
  return Number(row.Sequence);
};

describe.skipIf(missing !== '')('MSI built by wixl + msibuild (small payload)', () => {
  let work: string;
  let msi: string;
  let upgrader: string;
  let description: InstallerDescription;
  let payloadFiles: number;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'llm-upgrade-msi-test-'));
    payloadFiles = makeSmallPayload(join(work, 'payload'));
    upgrader = makeStandInUpgrader(work).file;
    description = {
      productName: 'Sample LLM App',
      manufacturer: 'llm-upgrade tests',
      version: '2.5.0',
      upgradeCode: '0F6C1B7E-3D2A-4E8B-9C51-7A2D3E4F5061',
      payloadDir: join(work, 'payload'),
      installDirName: 'Sample LLM App',
      upgraderExe: upgrader,
      upgraderArgs: ['--grace', '5s', '--timeout', '60s'],
    };
    msi = join(work, 'out', 'sample.msi');
    await buildMsi(description, { outFile: msi, workDir: join(work, 'build') });
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('embeds the upgrader in the Binary table, byte for byte', () => {
    const binary = exportTable(msi, 'Binary');
    expect(binary.map((r) => r.Name)).toEqual([MSI_BINARY_KEY]);
    expect(sha256(extractStream(msi, `Binary.${MSI_BINARY_KEY}`))).toBe(sha256(readFileSync(upgrader)));
  });

  it('has exactly the two custom actions, both type 2 (EXE from the Binary table)', () => {
    const actions = exportTable(msi, 'CustomAction');
    expect(actions.map((a) => a.Action).sort()).toEqual([MSI_AUTHORITATIVE_STOP.action, MSI_BEST_EFFORT_STOP.action].sort());
    const byName = Object.fromEntries(actions.map((a) => [a.Action, a]));
    expect(Number(byName[MSI_BEST_EFFORT_STOP.action]!.Type)).toBe(66);
    expect(Number(byName[MSI_AUTHORITATIVE_STOP.action]!.Type)).toBe(3074);
    for (const a of actions) {
      expect(a.Source).toBe(MSI_BINARY_KEY);
      expect(a.Target).toBe(msiStopArguments(resolveDescription(description, 'msi'), a.Action === MSI_BEST_EFFORT_STOP.action));
    }
  });

  it('no deferred or SYSTEM action runs an installed file, a directory path or a property path', () => {
    for (const a of exportTable(msi, 'CustomAction')) {
      const type = Number(a.Type);
      const elevatedOrDeferred = (type & (MSI_CA_BITS.inScript | MSI_CA_BITS.noImpersonate)) !== 0;
      // 2 = EXE in Binary; 18 = installed file, 34 = directory + path, 50 = property path.
      if (elevatedOrDeferred) expect(type & 0x3f, `${a.Action} type ${type}`).toBe(MSI_CA_BITS.exeInBinaryTable);
      expect([18, 34, 50]).not.toContain(type & 0x3f);
    }
  });

  it('orders best effort < InstallValidate < InstallInitialize < stop < RemoveExistingProducts < InstallFiles', () => {
    const rows = exportTable(msi, 'InstallExecuteSequence');
    const order = [
      seq(rows, 'CostFinalize'),
      seq(rows, MSI_BEST_EFFORT_STOP.action),
      seq(rows, 'InstallValidate'),
      seq(rows, 'InstallInitialize'),
      seq(rows, MSI_AUTHORITATIVE_STOP.action),
      seq(rows, 'RemoveExistingProducts'),
      seq(rows, 'RemoveFiles'),
      seq(rows, 'InstallFiles'),
      seq(rows, 'InstallFinalize'),
    ];
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(new Set(order).size).toBe(order.length);
  });

  it('runs both actions on install, major upgrade, repair and uninstall, and not otherwise', () => {
    const rows = exportTable(msi, 'InstallExecuteSequence');
    for (const action of [MSI_BEST_EFFORT_STOP.action, MSI_AUTHORITATIVE_STOP.action]) {
      const condition = rows.find((r) => r.Action === action)!.Condition;
      expect(evaluateMsiCondition(condition, {})).toBe(true);
      expect(evaluateMsiCondition(condition, { WIX_UPGRADE_DETECTED: '{0}' })).toBe(true);
      expect(evaluateMsiCondition(condition, { Installed: '1', REMOVE: 'ALL' })).toBe(true);
      expect(evaluateMsiCondition(condition, { Installed: '1', REINSTALL: 'ALL' })).toBe(true);
      expect(evaluateMsiCondition(condition, { Installed: '1' })).toBe(false);
    }
  });

  it('upgrades older versions and blocks downgrades', () => {
    const upgrade = exportTable(msi, 'Upgrade');
    const code = resolveDescription(description, 'msi').upgradeCode;
    const older = upgrade.find((r) => r.VersionMax === '2.5.0' && r.VersionMin === '');
    const newer = upgrade.find((r) => r.VersionMin === '2.5.0' && r.VersionMax === '');
    expect(older?.UpgradeCode).toBe(code);
    expect(newer?.UpgradeCode).toBe(code);
    // Older versions: detected and removed (no OnlyDetect bit), version max exclusive.
    expect(Number(older!.Attributes) & 2).toBe(0);
    expect(Number(older!.Attributes) & 512).toBe(0);
    // Newer versions: only detected (bit 2), min exclusive (no 256), and a launch condition stops the install.
    expect(Number(newer!.Attributes) & 2).toBe(2);
    expect(Number(newer!.Attributes) & 256).toBe(0);
    const launch = exportTable(msi, 'LaunchCondition');
    const block = launch.find((r) => r.Description === DOWNGRADE_ERROR_MESSAGE);
    expect(block).toBeDefined();
    expect(evaluateMsiCondition(block!.Condition, { [newer!.ActionProperty!]: '{newer-product}' })).toBe(false);
    expect(evaluateMsiCondition(block!.Condition, {})).toBe(true);
    const rows = exportTable(msi, 'InstallExecuteSequence');
    expect(seq(rows, 'FindRelatedProducts')).toBeLessThan(seq(rows, 'LaunchConditions'));
    expect(
      exportTable(msi, 'Property')
        .find((p) => p.Property === 'SecureCustomProperties')
        ?.Value?.split(';'),
    ).toContain(newer!.ActionProperty);
  });

  it('installs every payload file in its own 64-bit component', () => {
    const files = exportTable(msi, 'File');
    const components = exportTable(msi, 'Component');
    expect(files).toHaveLength(payloadFiles);
    expect(components).toHaveLength(payloadFiles);
    for (const c of components) expect(Number(c.Attributes) & 256, c.Component).toBe(256);
    expect(files.map((f) => f.FileName).sort()).toEqual(['ggml-base.dll', 'llama-server.exe', 'ollama.exe', 'read me (first).txt']);
    const dirs = exportTable(msi, 'Directory');
    expect(dirs.find((d) => d.Directory === 'INSTALLDIR')).toMatchObject({
      Directory_Parent: 'ProgramFiles64Folder',
      DefaultDir: 'Sample LLM App',
    });
    expect(tables(msi)).toContain('Binary');
  });
});

describe.skipIf(missing !== '')('MSI identifiers on an Ollama-deep payload', () => {
  let work: string;
  let msi: string;
  let paths: string[];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'llm-upgrade-msi-deep-'));
    paths = makeDeepPayload(join(work, 'payload'), 2000);
    const upgrader = makeStandInUpgrader(work).file;
    msi = join(work, 'deep.msi');
    await buildMsi(
      {
        productName: 'Deep App',
        manufacturer: 'llm-upgrade tests',
        version: '0.13.5',
        upgradeCode: '5B0D8C2A-1E47-4F6A-8B39-C2D1E0F9A877',
        payloadDir: join(work, 'payload'),
        installDirName: 'Ollama',
        upgraderExe: upgrader,
      },
      { outFile: msi },
    );
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds with every file present and every key a valid, unique identifier of ≤ 72 characters', () => {
    const files = exportTable(msi, 'File');
    const components = exportTable(msi, 'Component');
    const dirs = exportTable(msi, 'Directory');
    expect(files).toHaveLength(paths.length);
    expect(paths.length).toBeGreaterThanOrEqual(2000);
    for (const [rows, key] of [
      [files, 'File'],
      [components, 'Component'],
      [dirs, 'Directory'],
    ] as const) {
      const ids = rows.map((r) => r[key]!);
      for (const id of ids) expect(isValidMsiIdentifier(id), `${key} ${id}`).toBe(true);
      expect(new Set(ids.map((i) => i.toLowerCase())).size).toBe(ids.length);
    }
    expect(Math.max(...files.map((f) => f.File!.length))).toBeLessThanOrEqual(72);
    for (const c of components) expect(Number(c.Attributes) & 256).toBe(256);
  });

  it('keeps the real directory names, however deep', () => {
    const dirs = exportTable(msi, 'Directory');
    const byId = new Map(dirs.map((d) => [d.Directory!, d]));
    const pathOf = (id: string): string => {
      const d = byId.get(id)!;
      if (id === 'INSTALLDIR') return '';
      const parent = pathOf(d.Directory_Parent!);
      return parent ? `${parent}/${d.DefaultDir}` : d.DefaultDir!;
    };
    const files = exportTable(msi, 'File');
    const components = new Map(exportTable(msi, 'Component').map((c) => [c.Component!, c]));
    const installed = files.map((f) => {
      const dir = pathOf(components.get(f.Component_!)!.Directory_!);
      return dir ? `${dir}/${f.FileName}` : f.FileName!;
    });
    expect(installed.sort()).toEqual([...paths].sort());
  });
});
