#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: llm-upgrade contributors
# MIT License (see the collection's galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: upgrade
short_description: Upgrade a local LLM runner install (Ollama and the like) with llm-upgrade
version_added: "1.0.0"
description:
  - Runs C(llm-upgrade apply --json --yes) on the managed host. The upgrader verifies and stages
    the new version while the old one keeps running, stops everything that belongs to the
    install (orphaned engines included), swaps the files as one journaled transaction,
    post-checks and health-checks the new version and rolls back on any failure.
  - Idempotent. When the target version is already installed the upgrader does nothing and the
    task reports C(changed=false).
  - In check mode the upgrader runs with C(--dry-run) - it verifies the package and reports
    the plan, but writes and stops nothing - and the task reports whether a real run would
    change the install.
  - Any non-zero exit of the upgrader fails the task with the upgrader's error code, message
    and hint (the C(error) object of its JSON document) and its exit code as C(rc).
author:
  - llm-upgrade contributors
requirements:
  - The C(llm-upgrade) executable on the managed host (the compiled single executable, or
    C(npx llm-upgrade)); the M(llm_upgrade.fleet.rollout) role distributes it.
options:
  install_dir:
    description:
      - The install's roots (C(--install-dir), repeatable). The package is installed into the
        first one; all of them are stopped.
      - A string is one root (a comma-separated string is split into several).
      - At least one of I(install_dir) and I(profile) is required.
    type: list
    elements: path
    aliases: [install_dirs]
  profile:
    description:
      - A built-in profile name (C(ollama)) or the path of a profile JSON file on the host
        (C(--profile)). It names the services, process roles, start command and health URL.
        With I(install_dir) the roots come from I(install_dir) and the rest from the profile.
    type: str
  package:
    description:
      - The package to install - a path on the managed host (C(.tar.gz), C(.tgz), C(.zip) or a
        directory) or an C(http(s)://) URL, which the module downloads on the host into a
        temporary directory first (keeping the file name) and removes afterwards.
      - Exactly one of I(package) and I(feed) is required.
    type: str
  feed:
    description:
      - A release feed - an C(http(s)://) URL of a C(feed.json), or C(github:OWNER/REPO)
        (C(--feed)). The newest release for the host's platform is installed.
      - C(github:OWNER/REPO) needs an upgrader that supports GitHub feeds.
    type: str
  checksums:
    description:
      - A C(sha256sum)-format file or URL the package must match (C(--checksums)). Needs an
        upgrader that supports C(--checksums); older ones fail with a usage error (rc 2).
    type: str
  allow_downgrade:
    description: Install an older version than the installed one (C(--allow-downgrade)).
    type: bool
    default: false
  timeout:
    description:
      - How long the stop and the health check may take (C(--timeout)); C(500ms), C(30s), C(2m),
        or a bare number of seconds. The upgrader's default is 30s.
    type: str
  grace:
    description:
      - How long processes get to exit after the polite request before they are forced
        (C(--grace)); same format as I(timeout). The upgrader's default is 5s.
    type: str
  public_key:
    description: Ed25519 public key (file on the host, or base64) the package's signature must verify against (C(--public-key)).
    type: str
  adopt:
    description: Take over a directory llm-upgrade did not install although it holds other files (C(--adopt)); they move to the backup.
    type: bool
    default: false
  restart:
    description: Start what was running before once the new version is in place (C(false) passes C(--no-restart)).
    type: bool
    default: true
  log_file:
    description: Also append the upgrader's events as JSON lines to this file on the host (C(--log-file)).
    type: path
  upgrader:
    description:
      - Path of the C(llm-upgrade) executable on the managed host. Default - C(llm-upgrade) on PATH.
    type: path
notes:
  - Always non-interactive (C(--yes)).
  - Supports check mode (C(--dry-run)) and diff mode (the installed version before and after).
seealso:
  - module: llm_upgrade.fleet.facts
  - module: llm_upgrade.fleet.sweep
'''

EXAMPLES = r'''
- name: Upgrade Ollama in /opt/ollama from a package on the host
  llm_upgrade.fleet.upgrade:
    install_dir: /opt/ollama
    package: /var/tmp/ollama-0.12.3-linux-x64.tar.gz
    upgrader: /usr/local/bin/llm-upgrade

- name: Upgrade the default Ollama install from a release feed, allowing 1 minute for the stop
  llm_upgrade.fleet.upgrade:
    profile: ollama
    feed: https://releases.example.com/ollama/feed.json
    timeout: 1m
    grace: 10s
  register: upgrade

- name: Show what changed
  ansible.builtin.debug:
    msg: "{{ upgrade.from }} -> {{ upgrade.to }}, {{ upgrade.stopped | length }} processes stopped, {{ upgrade.downtime_ms }} ms down"
'''

RETURN = r'''
from:
  description: The version installed before (null when the upgrader found none).
  returned: always
  type: str
  sample: 0.12.2
to:
  description: The version the package or feed holds (the installed version after a successful run).
  returned: always
  type: str
  sample: 0.12.3
stopped:
  description:
    - The processes the upgrade stopped (pid, ppid, name, exe, role, orphan, how), as the upgrader reports them.
    - In check mode, the processes a real run would stop (the dry run's plan).
  returned: always
  type: list
  elements: dict
downtime_ms:
  description: Milliseconds from the start of the stop until the new version was healthy (the upgrader's C(downtimeMs)); 0 for a no-op, null when the upgrader did not report it.
  returned: always
  type: int
  sample: 121
rolled_back:
  description: Whether the upgrader rolled the install back (only on failure; the task then fails).
  returned: always
  type: bool
noop:
  description: The target version was already installed.
  returned: always
  type: bool
healthy:
  description: The new version answered the profile's health URL (null when there is none or nothing was restarted).
  returned: success
  type: bool
restarted:
  description: How the upgrader restarted what ran before (C(command), C(service)) or null.
  returned: success
  type: str
root:
  description: The root the package was installed into.
  returned: success
  type: str
plan:
  description: In check mode, the files the upgrade would add, replace and remove, and the processes it would stop.
  returned: check mode, when the upgrader knows it
  type: dict
warnings_upgrader:
  description: The upgrader's own warnings (also shown as task warnings).
  returned: always
  type: list
  elements: str
upgrader_result:
  description: The upgrader's whole JSON document, for anything not mapped above.
  returned: always
  type: dict
error_code:
  description: On failure, the upgrader's error code (C(ERR_FILES_HELD), C(ERR_DOWNGRADE), ...).
  returned: failure
  type: str
  sample: ERR_FILES_HELD
error_message:
  description: On failure, the upgrader's error message.
  returned: failure
  type: str
hint:
  description: On failure, the upgrader's one-line hint.
  returned: failure
  type: str
rc:
  description: On failure, the upgrader's exit code (1 internal, 2 bad input, 3 held, 4 rolled back, 5 locked).
  returned: failure
  type: int
'''

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url
from ansible.module_utils.six.moves.urllib.parse import urlparse

from ansible_collections.llm_upgrade.fleet.plugins.module_utils.llm_upgrade import (
    SCOPE_ARGUMENT_SPEC,
    duration,
    fail_from_upgrader,
    run_upgrader,
    scope_args,
)

_URL = re.compile(r'^https?://', re.IGNORECASE)


def download_package(module, url):
    """Downloads an http(s) package into the module's temp dir (removed when the module exits), keeping its file name."""
    name = os.path.basename(urlparse(url).path) or 'package.tar.gz'
    resp, info = fetch_url(module, url, timeout=60)
    if info.get('status') != 200 or resp is None:
        module.fail_json(msg="could not download the package %s: HTTP %s %s" % (url, info.get('status'), info.get('msg')), error_code='ERR_FETCH')
    target_dir = os.path.join(module.tmpdir, 'package')
    os.mkdir(target_dir)
    target = os.path.join(target_dir, name)
    with open(target, 'wb') as f:
        while True:
            chunk = resp.read(1 << 20)
            if not chunk:
                break
            f.write(chunk)
    return target


def main():
    argument_spec = dict(
        package=dict(type='str'),
        feed=dict(type='str'),
        checksums=dict(type='str'),
        allow_downgrade=dict(type='bool', default=False),
        timeout=dict(type='str'),
        grace=dict(type='str'),
        public_key=dict(type='str', no_log=False),
        adopt=dict(type='bool', default=False),
        restart=dict(type='bool', default=True),
        log_file=dict(type='path'),
    )
    argument_spec.update(SCOPE_ARGUMENT_SPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[('package', 'feed')],
        required_one_of=[('package', 'feed'), ('install_dir', 'profile')],
        supports_check_mode=True,
    )
    p = module.params

    args = ['apply']
    if p['package']:
        source = p['package']
        if _URL.match(source):
            source = download_package(module, source)
        args.append(source)
    else:
        args += ['--feed', p['feed']]
    args += scope_args(module)
    if p['checksums']:
        args += ['--checksums', p['checksums']]
    for name in ('timeout', 'grace'):
        value = duration(module, name)
        if value:
            args += ['--' + name, value]
    if p['allow_downgrade']:
        args.append('--allow-downgrade')
    if p['public_key']:
        args += ['--public-key', p['public_key']]
    if p['adopt']:
        args.append('--adopt')
    if not p['restart']:
        args.append('--no-restart')
    if p['log_file']:
        args += ['--log-file', p['log_file']]
    if module.check_mode:
        args.append('--dry-run')
    args.append('--yes')

    rc, doc, out, err, cmd = run_upgrader(module, args)
    if rc != 0 or not isinstance(doc, dict) or doc.get('ok') is False:
        fail_from_upgrader(module, rc, doc, out, err, cmd)

    warnings = [w for w in (doc.get('warnings') or []) if isinstance(w, str)]
    before, after = doc.get('from'), doc.get('to')
    noop = bool(doc.get('noop')) or (before is not None and before == after and not doc.get('changed'))

    if doc.get('relaunched'):
        # The upgrader was started from inside the install (unusual under Ansible): it goes on
        # detached, so this task cannot know the outcome.
        module.exit_json(
            changed=True, noop=False, relaunched=True, pid=doc.get('pid'), waiting_for=doc.get('waitingFor'),
            **{'from': None, 'to': None, 'stopped': [], 'downtime_ms': None, 'rolled_back': False,
               'warnings_upgrader': warnings, 'upgrader_result': doc, 'cmd': cmd,
               'warnings': ['the upgrader relaunched itself detached (pid %s); check the result with llm_upgrade.fleet.facts' % doc.get('pid')]}
        )

    if module.check_mode:
        plan = doc.get('plan') if isinstance(doc.get('plan'), dict) else None
        changed = not noop
        stopped = (plan or {}).get('processes') or []
    else:
        plan = None
        changed = bool(doc.get('changed')) and not noop
        stopped = doc.get('stopped') or []

    downtime = doc.get('downtimeMs')
    result = dict(
        changed=changed,
        noop=noop,
        stopped=stopped,
        downtime_ms=downtime if isinstance(downtime, (int, float)) else None,
        rolled_back=bool(doc.get('rolledBack', False)),
        healthy=doc.get('healthy'),
        restarted=doc.get('restarted'),
        root=doc.get('root'),
        source=doc.get('source'),
        dry_run=bool(module.check_mode),
        warnings_upgrader=warnings,
        upgrader_result=doc,
        cmd=cmd,
        stderr=err,
    )
    result['from'] = before
    result['to'] = after
    if plan is not None:
        result['plan'] = plan
    if module._diff:
        result['diff'] = dict(before='version: %s\n' % before, after='version: %s\n' % (after if changed else before))
    for w in warnings:
        if not noop:
            module.warn(w)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
