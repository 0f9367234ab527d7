# Runs a command in a pseudo-terminal (stdin, stdout and stderr all a TTY), answers the first
# "[y/N]" question with argv[2] (or never, when argv[2] is "-"), and prints one JSON line:
# {"output": everything the terminal showed, "code": exit code, "asked": whether it was asked}.
import json, os, pty, select, sys, time

args = json.loads(sys.argv[1])
answer = sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(args[0], args)
out = b''
asked = False
deadline = time.time() + float(os.environ.get('PTY_TIMEOUT', '60'))
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.2)
    if fd not in ready:
        continue
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out += data
    if not asked and b'[y/N]' in out:
        asked = True
        if answer != '-':
            os.write(fd, (answer + '\n').encode())
else:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
print(json.dumps({'output': out.decode('utf8', 'replace'), 'code': os.waitstatus_to_exitcode(status), 'asked': asked}))
