/*
 * fake-runner: one small program that plays every process of a local LLM runner install, so
 * tests can build real process trees. Copy it under any name (ollama, llama-server,
 * "ollama app", ollama_llama_server, a-name-longer-than-15-chars) and pick the role by argv:
 *
 *   --version                      print "ollama version is <VERSION>" and exit 0
 *   serve [--port N] [--engines K] [--orphan] [--crash] [--zombie] [-- ENGINE-OPTIONS...]
 *                                  a server: K engine children (exec of <dir>/../lib/ollama/
 *                                  llama-server when present, else itself as "runner"),
 *                                  HTTP GET /api/version on 127.0.0.1:N (0 = any free port;
 *                                  without --port, the port of OLLAMA_HOST=host:port if set).
 *                                  --orphan: engines double-fork + setsid (parent is not us);
 *                                  --crash: SIGKILL ourselves once engines run (orphans them);
 *                                  --zombie: one child that exits and is never reaped.
 *   engine|runner [--model FILE] [--hold FILE]
 *                                  mmap FILE (MAP_SHARED, fd closed: mapping only) and/or keep
 *                                  an fd open on another file; then sleep forever.
 *   supervise [--once] -- CMD ARGS...
 *                                  run CMD and respawn it whenever it dies (--once: run it once
 *                                  and exit with its status).
 *   storm DEPTH [--width W] [--churn-ms M]
 *                                  a tree W wide and DEPTH deep that refills itself: every
 *                                  parent re-forks a dead child; with M > 0 leaves exit after
 *                                  about M ms, so new pids keep appearing.
 * Common options (any role): --ignore-term, --cwd DIR, --ready-file FILE.
 *
 * When set up, prints one line "ready <pid> [port=N] [engines=P,P] [child=P] [zombie=P]" to
 * stdout (or writes it to --ready-file atomically) so tests wait on an event, not a sleep.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef VERSION
#define VERSION "0.0.0"
#endif

#define MAX_ENGINES 64

struct options {
  int port, engines, orphan, crash, zombie, ignore_term, once, width, churn_ms;
  const char *model, *hold, *cwd, *ready_file;
  char **rest; /* after "--": engine options (serve) or the command (supervise) */
  int nrest;
};

static void die(const char *what) {
  fprintf(stderr, "fake-runner[%d]: %s: %s\n", getpid(), what, strerror(errno));
  _exit(1);
}

static void usage(const char *msg) {
  fprintf(stderr, "fake-runner: %s\n", msg);
  exit(2);
}

static void parse(int argc, char **argv, int first, struct options *o) {
  memset(o, 0, sizeof *o);
  o->port = -1;
  o->width = 2;
  for (int i = first; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDS_VALUE() do { if (!next) usage("missing value after option"); i++; } while (0)
    if (!strcmp(a, "--")) { o->rest = argv + i + 1; o->nrest = argc - i - 1; return; }
    else if (!strcmp(a, "--port")) { NEEDS_VALUE(); o->port = atoi(next); }
    else if (!strcmp(a, "--engines")) { NEEDS_VALUE(); o->engines = atoi(next); }
    else if (!strcmp(a, "--width")) { NEEDS_VALUE(); o->width = atoi(next); }
    else if (!strcmp(a, "--churn-ms")) { NEEDS_VALUE(); o->churn_ms = atoi(next); }
    else if (!strcmp(a, "--model")) { NEEDS_VALUE(); o->model = next; }
    else if (!strcmp(a, "--hold")) { NEEDS_VALUE(); o->hold = next; }
    else if (!strcmp(a, "--cwd")) { NEEDS_VALUE(); o->cwd = next; }
    else if (!strcmp(a, "--ready-file")) { NEEDS_VALUE(); o->ready_file = next; }
    else if (!strcmp(a, "--orphan")) o->orphan = 1;
    else if (!strcmp(a, "--crash")) o->crash = 1;
    else if (!strcmp(a, "--zombie")) o->zombie = 1;
    else if (!strcmp(a, "--ignore-term")) o->ignore_term = 1;
    else if (!strcmp(a, "--once")) o->once = 1;
    else if (a[0] != '-' && o->rest == NULL) { o->rest = argv + i; o->nrest = 1; } /* storm DEPTH */
    else { fprintf(stderr, "fake-runner: unknown option %s\n", a); exit(2); }
  }
  if (o->engines > MAX_ENGINES) usage("too many engines");
}

/* Common set-up; SIG_IGN survives exec, so always set the disposition explicitly. */
static void setup_common(const struct options *o) {
  signal(SIGTERM, o->ignore_term ? SIG_IGN : SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  if (o->cwd && chdir(o->cwd) != 0) die("chdir");
}

static void report_ready(const struct options *o, const char *extra) {
  char line[1024];
  int n = snprintf(line, sizeof line, "ready %d%s\n", getpid(), extra);
  if (!o->ready_file) {
    if (write(1, line, n) != n) die("write ready");
    return;
  }
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", o->ready_file, getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, line, n) != n || close(fd) != 0) die("write ready file");
  if (rename(tmp, o->ready_file) != 0) die("rename ready file");
}

static void sleep_forever(void) {
  for (;;) pause();
}

/* ---- engine ------------------------------------------------------------------------- */

static int run_engine(const struct options *o, int notify_fd) {
  setup_common(o);
  if (o->model) {
    int fd = open(o->model, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) die(o->model);
    if (mmap(NULL, st.st_size > 0 ? st.st_size : 1, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED) die("mmap");
    close(fd); /* the mapping alone keeps the file busy, as llama.cpp's mmap does */
  }
  if (o->hold && open(o->hold, O_RDONLY | O_CLOEXEC) < 0) die(o->hold);
  if (notify_fd >= 0) {
    char line[32];
    int n = snprintf(line, sizeof line, "%d\n", getpid());
    if (write(notify_fd, line, n) != n) die("notify");
    close(notify_fd);
  } else {
    report_ready(o, "");
  }
  sleep_forever();
  return 0;
}

/* ---- serve -------------------------------------------------------------------------- */

static void self_exe(char *out, size_t size) {
  ssize_t n = readlink("/proc/self/exe", out, size - 1);
  if (n < 0) die("readlink /proc/self/exe");
  out[n] = 0;
}

static void exec_engine(const struct options *o, int notify_fd) {
  char self[PATH_MAX], copy[PATH_MAX], engine[PATH_MAX + 32], fdarg[16];
  self_exe(self, sizeof self);
  strcpy(copy, self);
  snprintf(engine, sizeof engine, "%s/../lib/ollama/llama-server", dirname(copy));
  int has_engine = access(engine, X_OK) == 0;
  snprintf(fdarg, sizeof fdarg, "%d", notify_fd);
  char *argv[8 + 2 * 16 + 64];
  int n = 0;
  fcntl(notify_fd, F_SETFD, 0); /* the engine inherits the write end across exec */
  argv[n++] = has_engine ? "llama-server" : strrchr(self, '/') + 1;
  argv[n++] = has_engine ? "engine" : "runner";
  argv[n++] = "--notify-fd";
  argv[n++] = fdarg;
  for (int i = 0; i < o->nrest && n < (int)(sizeof argv / sizeof *argv) - 1; i++) argv[n++] = o->rest[i];
  argv[n] = NULL;
  execv(has_engine ? engine : self, argv);
  die("exec engine");
}

static pid_t spawn_engine(const struct options *o, int notify_fd) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid > 0) {
    /* the double fork's middle process is gone before we report ready (waitpid returns once
       it has exited, even with SIGCHLD ignored) */
    if (o->orphan) while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    return pid;
  }
  if (!o->orphan) exec_engine(o, notify_fd);
  setsid(); /* double fork: the engine's parent exits at once, so it is reparented */
  pid_t grandchild = fork();
  if (grandchild < 0) die("fork");
  if (grandchild == 0) exec_engine(o, notify_fd);
  _exit(0);
}

static void answer_http(int client) {
  char req[2048];
  ssize_t n = read(client, req, sizeof req - 1);
  if (n <= 0) return;
  req[n] = 0;
  char resp[512];
  int len;
  if (!strncmp(req, "GET /api/version ", 17)) {
    const char *body = "{\"version\":\"" VERSION "\"}";
    len = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
  } else {
    len = snprintf(resp, sizeof resp, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  }
  if (write(client, resp, len) < 0) { /* the client went away; nothing to do */ }
}

static int run_serve(const struct options *o) {
  setup_common(o);
  signal(SIGCHLD, o->zombie ? SIG_DFL : SIG_IGN); /* SIG_IGN: the kernel reaps our children */
  char extra[900] = "";
  int listener = -1;
  int port = o->port;
  /* Like Ollama: without --port, OLLAMA_HOST ("host:port"; always bound on loopback here) names the port. */
  const char *host = getenv("OLLAMA_HOST");
  const char *colon = host ? strrchr(host, ':') : NULL;
  if (port < 0 && colon && colon[1]) port = atoi(colon + 1);
  if (port >= 0) {
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    socklen_t alen = sizeof addr;
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) die("socket");
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0) die("bind");
    if (listen(listener, 16) != 0) die("listen");
    getsockname(listener, (struct sockaddr *)&addr, &alen);
    snprintf(extra, sizeof extra, " port=%d", ntohs(addr.sin_port));
  }
  if (o->engines > 0) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) die("pipe");
    for (int i = 0; i < o->engines; i++) {
      if (spawn_engine(o, p[1]) == 0) break;
    }
    close(p[1]);
    /* Each engine writes "pid\n" once set up; EOF means one died before that. */
    char buf[MAX_ENGINES * 16 + 1], *end = buf;
    int seen = 0;
    while (seen < o->engines && end < buf + sizeof buf - 1) {
      ssize_t n = read(p[0], end, buf + sizeof buf - 1 - end);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) usage("an engine died before it was ready");
      for (ssize_t i = 0; i < n; i++) if (end[i] == '\n') { end[i] = ','; seen++; }
      end += n;
    }
    close(p[0]);
    end[-1] = 0;
    snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " engines=%.*s", (int)(sizeof extra - 40), buf);
  }
  if (o->zombie) {
    pid_t z = fork();
    if (z < 0) die("fork");
    if (z == 0) _exit(0);
    siginfo_t info;
    waitid(P_PID, z, &info, WEXITED | WNOWAIT); /* it has exited, and stays unreaped */
    snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " zombie=%d", z);
  }
  report_ready(o, extra);
  if (o->crash) raise(SIGKILL);
  if (listener < 0) sleep_forever();
  for (;;) {
    int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0) continue;
    answer_http(client);
    close(client);
  }
}

/* ---- supervise ---------------------------------------------------------------------- */

static pid_t spawn_command(const struct options *o) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    signal(SIGTERM, SIG_DFL);
    execvp(o->rest[0], o->rest);
    die(o->rest[0]);
  }
  return pid;
}

static int run_supervise(const struct options *o) {
  setup_common(o);
  if (o->nrest < 1) usage("supervise needs a command after --");
  signal(SIGCHLD, SIG_DFL);
  pid_t child = spawn_command(o);
  char extra[64];
  snprintf(extra, sizeof extra, " child=%d", child);
  report_ready(o, extra);
  for (;;) {
    int status;
    if (waitpid(child, &status, 0) < 0) { if (errno == EINTR) continue; die("waitpid"); }
    if (o->once) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    usleep(20 * 1000);
    child = spawn_command(o);
  }
}

/* ---- storm -------------------------------------------------------------------------- */

static void storm_node(int depth, const struct options *o, int top);

static void storm_child(int depth, const struct options *o) {
  pid_t pid = fork();
  if (pid == 0) storm_node(depth, o, 0);
  /* pid < 0 (out of pids): keep the tree we have */
}

static void storm_node(int depth, const struct options *o, int top) {
  if (depth <= 0) {
    if (o->churn_ms <= 0) sleep_forever();
    srand(getpid());
    usleep((o->churn_ms / 2 + rand() % (o->churn_ms + 1)) * 1000);
    _exit(0);
  }
  for (int i = 0; i < o->width; i++) storm_child(depth - 1, o);
  if (top) report_ready(o, "");
  for (;;) { /* refill: whichever child dies is replaced */
    if (wait(NULL) > 0) storm_child(depth - 1, o);
    else if (errno != EINTR) usleep(10 * 1000);
  }
}

static int run_storm(const struct options *o) {
  setup_common(o);
  signal(SIGCHLD, SIG_DFL);
  storm_node(o->nrest > 0 ? atoi(o->rest[0]) : 3, o, 1);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) usage("usage: fake-runner --version | serve | engine | runner | supervise | storm ...");
  const char *role = argv[1];
  struct options o;
  if (!strcmp(role, "--version") || !strcmp(role, "-v")) {
    printf("ollama version is %s\n", VERSION);
    return 0;
  }
  if (!strcmp(role, "engine") || !strcmp(role, "runner")) {
    int notify_fd = -1;
    int first = 2;
    if (argc > 3 && !strcmp(argv[2], "--notify-fd")) { notify_fd = atoi(argv[3]); first = 4; }
    parse(argc, argv, first, &o);
    return run_engine(&o, notify_fd);
  }
  parse(argc, argv, 2, &o);
  if (!strcmp(role, "serve")) return run_serve(&o);
  if (!strcmp(role, "supervise")) return run_supervise(&o);
  if (!strcmp(role, "storm")) return run_storm(&o);
  usage("unknown role (serve, engine, runner, supervise, storm, --version)");
  return 2;
}
