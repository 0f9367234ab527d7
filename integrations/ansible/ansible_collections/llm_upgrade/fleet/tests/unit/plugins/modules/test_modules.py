# -*- coding: utf-8 -*-
# Copyright: llm-upgrade contributors
# MIT License (see the collection's galaxy.yml)
"""Unit tests of the modules' mapping of llm-upgrade's JSON, against a fake upgrader.

Standard library only (unittest), so they run wherever ansible-core does:
    python3 tests/unit/plugins/modules/test_modules.py -v
The fake upgrader prints the JSON document and exits with the code it is given, and records
its argv, so every test sees exactly what the module would run and what it makes of the answer
(including answers with fields missing: the CLI keeps changing, the modules must not break).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import json
import os
import shutil
import stat
import sys
import tempfile
import threading
import unittest

try:
    from http.server import BaseHTTPRequestHandler, HTTPServer
except ImportError:  # pragma: no cover - Python 2
    BaseHTTPRequestHandler = HTTPServer = None

# <repo>/integrations/ansible holds ansible_collections/: make the collection importable.
HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS_ROOT = os.path.abspath(os.path.join(HERE, *(['..'] * 7)))
if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.common.text.converters import to_bytes  # noqa: E402

from ansible_collections.llm_upgrade.fleet.plugins.modules import facts, sweep, upgrade  # noqa: E402

# One temp root for the run. AnsibleModule removes its own temp dirs at exit; atexit runs
# handlers last-in first-out, so this one (registered first) removes the root after them.
TMP_ROOT = tempfile.mkdtemp(prefix='llm-upgrade-fleet-unit-')
atexit.register(shutil.rmtree, TMP_ROOT, True)

FAKE = """#!/usr/bin/python3
import json, os, sys
with open(os.environ['FAKE_ARGV'], 'w') as f:
    json.dump(sys.argv[1:], f)
sys.stdout.write(os.environ.get('FAKE_STDOUT', ''))
sys.stderr.write(os.environ.get('FAKE_STDERR', ''))
sys.exit(int(os.environ.get('FAKE_RC', '0')))
"""


class ModuleExit(Exception):
    def __init__(self, failed, result):
        Exception.__init__(self, result.get('msg'))
        self.failed = failed
        self.result = result


def exit_json(self, **kwargs):
    kwargs.setdefault('changed', False)
    raise ModuleExit(False, kwargs)


def fail_json(self, msg, **kwargs):
    kwargs['msg'] = msg
    kwargs['failed'] = True
    raise ModuleExit(True, kwargs)


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=TMP_ROOT)
        self.upgrader = os.path.join(self.dir, 'llm-upgrade')
        with open(self.upgrader, 'w') as f:
            f.write(FAKE)
        os.chmod(self.upgrader, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        self.argv_file = os.path.join(self.dir, 'argv.json')
        self.env = dict(os.environ)
        os.environ['FAKE_ARGV'] = self.argv_file
        self.patches = [(basic.AnsibleModule, 'exit_json', basic.AnsibleModule.exit_json),
                        (basic.AnsibleModule, 'fail_json', basic.AnsibleModule.fail_json)]
        basic.AnsibleModule.exit_json = exit_json
        basic.AnsibleModule.fail_json = fail_json

    def tearDown(self):
        for obj, name, value in self.patches:
            setattr(obj, name, value)
        os.environ.clear()
        os.environ.update(self.env)

    def answer(self, doc=None, rc=0, stdout=None, stderr=''):
        os.environ['FAKE_STDOUT'] = stdout if stdout is not None else (json.dumps(doc) if doc is not None else '')
        os.environ['FAKE_RC'] = str(rc)
        os.environ['FAKE_STDERR'] = stderr

    def run_module(self, mod, args, check=False, diff=False):
        full = dict(args)
        full.update({
            '_ansible_check_mode': check,
            '_ansible_diff': diff,
            '_ansible_remote_tmp': os.path.join(self.dir, 'remote-tmp'),
            '_ansible_keep_remote_files': False,
        })
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': full}))
        with self.assertRaises(ModuleExit) as cm:
            mod.main()
        return cm.exception

    def argv(self):
        with open(self.argv_file) as f:
            return json.load(f)


APPLY_OK = {
    'ok': True, 'from': '1.0.0', 'to': '2.0.0', 'phase': 'commit', 'changed': True,
    'stopped': [{'pid': 10, 'name': 'ollama', 'role': 'server', 'how': 'terminated'}],
    'downtimeMs': 237, 'rolledBack': False, 'restarted': 'command', 'healthy': True,
    'root': '/opt/ollama', 'warnings': [],
}


class UpgradeTest(Base):
    def scope(self, **extra):
        args = {'install_dir': '/opt/ollama', 'profile': 'ollama', 'upgrader': self.upgrader}
        args.update(extra)
        return args

    def test_success_maps_the_json_and_passes_yes(self):
        self.answer(APPLY_OK)
        r = self.run_module(upgrade, self.scope(package='/tmp/pkg.tar.gz', timeout='1m', grace=3))
        self.assertFalse(r.failed)
        self.assertTrue(r.result['changed'])
        self.assertEqual((r.result['from'], r.result['to']), ('1.0.0', '2.0.0'))
        self.assertEqual(r.result['downtime_ms'], 237)
        self.assertFalse(r.result['rolled_back'])
        self.assertEqual([p['pid'] for p in r.result['stopped']], [10])
        self.assertEqual(self.argv(), ['apply', '/tmp/pkg.tar.gz', '--install-dir', '/opt/ollama', '--profile', 'ollama',
                                       '--timeout', '1m', '--grace', '3s', '--yes', '--json'])

    def test_list_of_roots_feed_and_options(self):
        self.answer(APPLY_OK)
        self.run_module(upgrade, {'install_dir': ['/a', '/b'], 'feed': 'github:ollama/ollama', 'checksums': '/tmp/sha256sum.txt',
                                  'allow_downgrade': True, 'adopt': True, 'restart': False, 'upgrader': self.upgrader})
        self.assertEqual(self.argv(), ['apply', '--feed', 'github:ollama/ollama', '--install-dir', '/a', '--install-dir', '/b',
                                       '--checksums', '/tmp/sha256sum.txt', '--allow-downgrade', '--adopt', '--no-restart',
                                       '--yes', '--json'])

    def test_check_mode_is_a_dry_run_that_reports_the_change(self):
        self.answer({'ok': True, 'from': '1.0.0', 'to': '2.0.0', 'phase': 'plan', 'changed': False, 'dryRun': True,
                     'stopped': [], 'downtimeMs': 0, 'rolledBack': False,
                     'plan': {'add': [], 'replace': ['bin/ollama'], 'remove': [], 'processes': [{'pid': 10, 'role': 'server'}]}})
        r = self.run_module(upgrade, self.scope(package='/tmp/pkg.tar.gz'), check=True, diff=True)
        self.assertIn('--dry-run', self.argv())
        self.assertTrue(r.result['changed'])
        self.assertTrue(r.result['dry_run'])
        self.assertEqual(r.result['stopped'], [{'pid': 10, 'role': 'server'}])
        self.assertEqual(r.result['plan']['replace'], ['bin/ollama'])
        self.assertEqual(r.result['diff'], {'before': 'version: 1.0.0\n', 'after': 'version: 2.0.0\n'})

    def test_already_at_the_target_is_no_change(self):
        for check in (False, True):
            self.answer({'ok': True, 'from': '2.0.0', 'to': '2.0.0', 'phase': 'resolve', 'changed': False, 'noop': True,
                         'stopped': [], 'downtimeMs': 0, 'rolledBack': False, 'warnings': ['2.0.0 is already installed; nothing to do']})
            r = self.run_module(upgrade, self.scope(package='/tmp/pkg.tar.gz'), check=check)
            self.assertFalse(r.result['changed'])
            self.assertTrue(r.result['noop'])

    def test_missing_fields_give_null_not_a_crash(self):
        self.answer({'ok': True, 'from': None, 'to': '1.0.0', 'changed': True})
        r = self.run_module(upgrade, self.scope(package='/tmp/pkg.tar.gz'))
        self.assertFalse(r.failed)
        self.assertTrue(r.result['changed'])
        self.assertIsNone(r.result['downtime_ms'])
        self.assertEqual(r.result['stopped'], [])
        self.assertFalse(r.result['rolled_back'])

    def test_upgrader_error_carries_code_message_hint_and_rc(self):
        self.answer({'ok': False, 'error': {'code': 'ERR_HEALTH', 'message': 'the new version did not answer', 'hint': 'Check the logs.',
                                            'phase': 'health', 'changed': True, 'details': {'rolledBack': True}}}, rc=4)
        r = self.run_module(upgrade, self.scope(package='/tmp/pkg.tar.gz'))
        self.assertTrue(r.failed)
        self.assertEqual(r.result['msg'], 'ERR_HEALTH: the new version did not answer (hint: Check the logs.)')
        self.assertEqual((r.result['error_code'], r.result['rc'], r.result['hint'], r.result['phase']), ('ERR_HEALTH', 4, 'Check the logs.', 'health'))
        self.assertTrue(r.result['rolled_back'])
        self.assertTrue(r.result['changed'])

    def test_exit_without_json_names_the_exit_code_and_stderr(self):
        self.answer(stdout='', rc=1, stderr='boom\nllm-upgrade is not built yet\n')
        r = self.run_module(upgrade, self.scope(package='/tmp/pkg.tar.gz'))
        self.assertTrue(r.failed)
        self.assertEqual(r.result['msg'], 'llm-upgrade exited 1 without a JSON document on stdout: llm-upgrade is not built yet')
        self.assertIsNone(r.result['error_code'])
        self.assertEqual(r.result['rc'], 1)

    def test_zero_exit_with_ok_false_is_a_failure(self):
        self.answer({'ok': False}, rc=0)
        r = self.run_module(upgrade, self.scope(package='/tmp/pkg.tar.gz'))
        self.assertTrue(r.failed)

    def test_relaunched_upgrader_is_reported(self):
        self.answer({'ok': True, 'relaunched': True, 'pid': 77, 'waitingFor': 5})
        r = self.run_module(upgrade, self.scope(package='/tmp/pkg.tar.gz'))
        self.assertTrue(r.result['changed'])
        self.assertTrue(r.result['relaunched'])
        self.assertEqual(r.result['pid'], 77)

    def test_bad_duration(self):
        r = self.run_module(upgrade, self.scope(package='/tmp/pkg.tar.gz', grace='a while'))
        self.assertTrue(r.failed)
        self.assertTrue(r.result['msg'].startswith('grace must be a duration'))

    def test_upgrader_from_path_and_missing(self):
        self.answer(APPLY_OK)
        os.environ['PATH'] = self.dir + os.pathsep + os.environ.get('PATH', '')
        r = self.run_module(upgrade, {'install_dir': '/opt/ollama', 'package': '/tmp/p.tar.gz'})
        self.assertFalse(r.failed)
        self.assertEqual(r.result['cmd'][0], self.upgrader)
        os.environ['PATH'] = os.path.join(self.dir, 'empty')
        r = self.run_module(upgrade, {'install_dir': '/opt/ollama', 'package': '/tmp/p.tar.gz'})
        self.assertTrue(r.failed)
        self.assertEqual(r.result['msg'], 'llm-upgrade was not found on PATH on this host')

    @unittest.skipIf(HTTPServer is None, 'needs http.server')
    def test_package_url_is_downloaded_keeping_its_name(self):
        body = b'package bytes'

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.endswith('/ollama-2.0.0-linux-x64.tar.gz'):
                    self.send_response(200)
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(404)
                    self.end_headers()

            def log_message(self, *args):
                pass

        server = HTTPServer(('127.0.0.1', 0), Handler)
        thread = threading.Thread(target=server.serve_forever)
        thread.daemon = True
        thread.start()
        try:
            base = 'http://127.0.0.1:%d/releases/' % server.server_address[1]
            seen = {}
            # The fake upgrader sees a local file with the URL's name; record its content too.
            with open(self.upgrader, 'w') as f:
                f.write(FAKE.replace("sys.stdout.write", "open(os.environ['FAKE_ARGV'] + '.pkg', 'wb').write(open(sys.argv[2], 'rb').read())\nsys.stdout.write"))
            self.answer(APPLY_OK)
            r = self.run_module(upgrade, self.scope(package=base + 'ollama-2.0.0-linux-x64.tar.gz'))
            self.assertFalse(r.failed, r.result.get('msg'))
            argv = self.argv()
            self.assertEqual(os.path.basename(argv[1]), 'ollama-2.0.0-linux-x64.tar.gz')
            with open(self.argv_file + '.pkg', 'rb') as f:
                seen['pkg'] = f.read()
            self.assertEqual(seen['pkg'], body)
            r = self.run_module(upgrade, self.scope(package=base + 'missing.tar.gz'))
            self.assertTrue(r.failed)
            self.assertEqual(r.result['error_code'], 'ERR_FETCH')
            self.assertIn('HTTP 404', r.result['msg'])
        finally:
            server.shutdown()
            server.server_close()


STATUS = {
    'ok': True, 'roots': ['/opt/ollama'], 'profile': 'ollama', 'installed': {'version': '2.0.0'}, 'version': '2.0.0',
    'processes': [{'pid': 1, 'role': 'server'}, {'pid': 2, 'role': 'engine', 'orphan': True}],
    'orphans': [{'pid': 2, 'role': 'engine', 'orphan': True}],
    'holders': {'clean': False, 'complete': False, 'holders': [{'pid': 1, 'inScope': True}, {'pid': 9, 'inScope': False}], 'unknown': []},
    'gpu': [{'gpu': 0, 'pid': 2, 'usedMiB': 4096}],
}


class FactsTest(Base):
    def test_status_becomes_facts(self):
        self.answer(STATUS)
        r = self.run_module(facts, {'install_dir': '/opt/ollama', 'upgrader': self.upgrader}, check=True)
        self.assertFalse(r.result['changed'])
        f = r.result['llm_upgrade']
        self.assertEqual(r.result['ansible_facts']['llm_upgrade'], f)
        self.assertEqual(f['version'], '2.0.0')
        self.assertEqual([p['pid'] for p in f['orphans']], [2])
        self.assertEqual([h['pid'] for h in f['foreign_holders']], [9])
        self.assertIs(f['complete'], False)
        self.assertEqual(f['gpu'][0]['usedMiB'], 4096)
        self.assertEqual(self.argv(), ['status', '--install-dir', '/opt/ollama', '--json'])

    def test_other_shapes(self):
        doc = dict(STATUS, holders=[{'pid': 9, 'inScope': False}], complete=True)
        del doc['gpu']
        self.answer(doc)
        f = self.run_module(facts, {'upgrader': self.upgrader}).result['llm_upgrade']
        self.assertEqual(len(f['holders']), 1)
        self.assertIs(f['complete'], True)
        self.assertEqual(f['gpu'], [])
        self.assertEqual(self.argv(), ['status', '--json'])

    def test_status_error(self):
        self.answer({'ok': False, 'error': {'code': 'ERR_USAGE', 'message': 'no install of ollama found', 'hint': 'Name the install.'}}, rc=2)
        r = self.run_module(facts, {'upgrader': self.upgrader})
        self.assertTrue(r.failed)
        self.assertEqual(r.result['msg'], 'ERR_USAGE: no install of ollama found (hint: Name the install.)')


class SweepTest(Base):
    def test_check_mode_lists_orphans(self):
        self.answer({'ok': True, 'stopped': [], 'survivors': [], 'plan': [{'pid': 2, 'orphan': True}], 'dryRun': True, 'durationMs': 20})
        r = self.run_module(sweep, {'install_dir': '/opt/ollama', 'upgrader': self.upgrader}, check=True)
        self.assertIn('--dry-run', self.argv())
        self.assertTrue(r.result['changed'])
        self.assertEqual(r.result['orphans'], [{'pid': 2, 'orphan': True}])
        self.assertEqual(r.result['stopped'], [])

    def test_real_sweep_and_nothing_to_do(self):
        self.answer({'ok': True, 'stopped': [{'pid': 2, 'how': 'terminated', 'orphan': True}], 'survivors': [], 'plan': [{'pid': 2}]})
        r = self.run_module(sweep, {'install_dir': '/opt/ollama', 'upgrader': self.upgrader, 'grace': '1s'})
        self.assertEqual(self.argv(), ['sweep', '--install-dir', '/opt/ollama', '--grace', '1s', '--json'])
        self.assertTrue(r.result['changed'])
        self.assertIsNone(r.result['duration_ms'])
        self.answer({'ok': True, 'stopped': [], 'survivors': [], 'plan': []})
        self.assertFalse(self.run_module(sweep, {'install_dir': '/opt/ollama', 'upgrader': self.upgrader}).result['changed'])

    def test_survivors_without_error_object(self):
        self.answer({'ok': False, 'stopped': [], 'survivors': [{'pid': 2, 'name': 'llama-server', 'exe': '/opt/ollama/llama-server'}]}, rc=3)
        r = self.run_module(sweep, {'install_dir': '/opt/ollama', 'upgrader': self.upgrader})
        self.assertTrue(r.failed)
        self.assertEqual(r.result['rc'], 3)
        self.assertEqual(r.result['msg'], 'llm-upgrade sweep exited 3: still running after the timeout: pid 2 llama-server (/opt/ollama/llama-server)')

    def test_required_scope(self):
        r = self.run_module(sweep, {'upgrader': self.upgrader})
        self.assertTrue(r.failed)
        self.assertEqual(r.result['msg'], 'one of the following is required: install_dir, profile')


if __name__ == '__main__':
    unittest.main()
