import { describe, expect, it } from 'vitest';
import { findFileUsers, RM_BATCH_FILES, usersOf, WINE_STUB_SESSION } from './restart-manager.js';
import { ERROR_MORE_DATA, ERROR_SUCCESS, type RestartManagerApi, type RmProcessInfo } from './winapi.js';

/** A Restart Manager over a table "file → processes using it", with RM's session rules. */
class FakeRm implements RestartManagerApi {
  sessions = new Map<number, string[]>();
  ended: number[] = [];
  batchSizes: number[] = [];
  getListCalls: number[] = [];
  next = 1;
  /** The list grows by this many processes between RmGetList calls (a racing process). */
  growth = 0;
  constructor(
    readonly users: Map<string, RmProcessInfo[]>,
    readonly stubSession = false,
  ) {}
  startSession() {
    const session = this.stubSession ? WINE_STUB_SESSION : this.next++;
    this.sessions.set(session, []);
    return { error: ERROR_SUCCESS, session };
  }
  registerFiles(session: number, files: readonly string[]) {
    this.batchSizes.push(files.length);
    this.sessions.get(session)?.push(...files);
    return ERROR_SUCCESS;
  }
  getList(session: number, capacity: number) {
    this.getListCalls.push(capacity);
    const found = new Map<string, RmProcessInfo>();
    for (const f of this.sessions.get(session) ?? []) for (const p of this.users.get(f) ?? []) found.set(`${p.pid}`, p);
    const list = [...found.values()];
    for (let i = 0; i < this.growth; i++) list.push({ pid: 50_000 + i, startKey: '1', appName: 'racer', serviceShortName: '', appType: 0 });
    if (list.length > capacity) {
      this.growth = 0;
      return { error: ERROR_MORE_DATA, needed: list.length, processes: [] };
    }
    return { error: ERROR_SUCCESS, needed: list.length, processes: list };
  }
  endSession(session: number) {
    this.ended.push(session);
    return ERROR_SUCCESS;
  }
}

const p = (pid: number): RmProcessInfo => ({
  pid,
  startKey: String(134399808000000000n + BigInt(pid)),
  appName: `p${pid}.exe`,
  serviceShortName: '',
  appType: 5,
});

describe('usersOf', () => {
  it('grows the array on ERROR_MORE_DATA and always ends the session', () => {
    const many = Array.from({ length: 40 }, (_, i) => p(100 + i));
    const rm = new FakeRm(new Map([['C:\\m\\a.bin', many]]));
    rm.growth = 3;
    const users = usersOf(rm, ['C:\\m\\a.bin']);
    expect(users).toHaveLength(40);
    expect(rm.getListCalls[0]).toBe(16);
    expect(rm.getListCalls.length).toBeGreaterThan(1);
    expect(rm.ended).toEqual([1]);
  });
  it("refuses Wine's stub session instead of reporting nobody", () => {
    const rm = new FakeRm(new Map(), true);
    expect(() => usersOf(rm, ['C:\\x'])).toThrow(/stub/);
    expect(rm.ended).toEqual([WINE_STUB_SESSION]);
  });
});

describe('findFileUsers', () => {
  it('registers at most 1000 files per session and pins each user to its file', () => {
    const files = Array.from({ length: 2500 }, (_, i) => `C:\\Ollama\\lib\\f${i}.dll`);
    const rm = new FakeRm(
      new Map([
        ['C:\\Ollama\\lib\\f7.dll', [p(8120)]],
        ['C:\\Ollama\\lib\\f1999.dll', [p(8120), p(9020)]],
        ['C:\\Ollama\\lib\\f2400.dll', [p(6604)]],
      ]),
    );
    const hits = findFileUsers(rm, files);
    expect(Math.max(...rm.batchSizes)).toBeLessThanOrEqual(RM_BATCH_FILES);
    expect(rm.batchSizes.slice(0, 1)).toEqual([1000]);
    expect(hits.map((h) => `${h.process.pid}@${h.file}`).sort()).toEqual([
      '6604@C:\\Ollama\\lib\\f2400.dll',
      '8120@C:\\Ollama\\lib\\f1999.dll',
      '8120@C:\\Ollama\\lib\\f7.dll',
      '9020@C:\\Ollama\\lib\\f1999.dll',
    ]);
    expect(rm.ended.length).toBe(rm.next - 1);
  });
  it('finds nobody in batches nobody uses', () => {
    const rm = new FakeRm(new Map());
    expect(findFileUsers(rm, ['C:\\a', 'C:\\b'])).toEqual([]);
    expect(rm.batchSizes).toEqual([2]);
  });
});
