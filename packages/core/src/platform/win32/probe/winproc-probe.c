/*
 * winproc-probe: prints what the Win32 backend reads through koffi, using the same calls,
 * so Wine (or a real Windows box) can be compared with the TypeScript decoder.
 *
 *   winproc-probe layout      sizes and offsets of PROCESSENTRY32W and RM_PROCESS_INFO
 *   winproc-probe list        one line per process: pid<TAB>ppid<TAB>creation<TAB>exe
 *                             (creation = FILETIME as a decimal 64-bit value, or "-" when the
 *                             process could not be opened; exe from QueryFullProcessImageNameW)
 *
 * Build: x86_64-w64-mingw32-gcc -O2 -o winproc-probe.exe winproc-probe.c
 * Output is UTF-8.
 */
#include <windows.h>
#include <tlhelp32.h>
#include <restartmanager.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

static void print_utf8(const WCHAR *w)
{
    char buf[4 * MAX_PATH + 8];
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, buf, sizeof(buf), NULL, NULL);
    fputs(n > 0 ? buf : "?", stdout);
}

static int layout(void)
{
    printf("PROCESSENTRY32W size=%zu th32ProcessID=%zu th32ParentProcessID=%zu szExeFile=%zu\n",
           sizeof(PROCESSENTRY32W), offsetof(PROCESSENTRY32W, th32ProcessID),
           offsetof(PROCESSENTRY32W, th32ParentProcessID), offsetof(PROCESSENTRY32W, szExeFile));
    printf("RM_PROCESS_INFO size=%zu strAppName=%zu strServiceShortName=%zu ApplicationType=%zu\n",
           sizeof(RM_PROCESS_INFO), offsetof(RM_PROCESS_INFO, strAppName),
           offsetof(RM_PROCESS_INFO, strServiceShortName), offsetof(RM_PROCESS_INFO, ApplicationType));
    return 0;
}

static int list(void)
{
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    if (snap == INVALID_HANDLE_VALUE) {
        fprintf(stderr, "CreateToolhelp32Snapshot failed: %lu\n", GetLastError());
        return 1;
    }
    PROCESSENTRY32W e;
    e.dwSize = sizeof(e);
    for (BOOL ok = Process32FirstW(snap, &e); ok; ok = Process32NextW(snap, &e)) {
        printf("%lu\t%lu\t", e.th32ProcessID, e.th32ParentProcessID);
        HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, e.th32ProcessID);
        if (!h) {
            printf("-\t");
            print_utf8(e.szExeFile);
            printf("\terror=%lu\n", GetLastError());
            continue;
        }
        FILETIME created, exited, kernel, user;
        if (GetProcessTimes(h, &created, &exited, &kernel, &user))
            printf("%llu\t", ((unsigned long long)created.dwHighDateTime << 32) | created.dwLowDateTime);
        else
            printf("-\t");
        WCHAR path[32768];
        DWORD size = sizeof(path) / sizeof(path[0]);
        if (QueryFullProcessImageNameW(h, 0, path, &size))
            print_utf8(path);
        else
            print_utf8(e.szExeFile);
        printf("\n");
        CloseHandle(h);
    }
    CloseHandle(snap);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "layout") == 0) return layout();
    if (argc > 1 && strcmp(argv[1], "list") == 0) return list();
    fprintf(stderr, "usage: winproc-probe layout|list\n");
    return 2;
}
