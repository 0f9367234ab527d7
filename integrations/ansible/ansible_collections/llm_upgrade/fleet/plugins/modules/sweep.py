#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: llm-upgrade contributors
# MIT License (see the collection's galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: sweep
short_description: End an LLM runner install's orphaned engines ("free my VRAM")
version_added: "1.0.0"
description:
  - Runs C(llm-upgrade sweep --json) on the managed host - it ends the install's orphaned
    engines (in-scope processes whose frontend is gone) and leaves a healthy server running.
  - In check mode it runs C(llm-upgrade sweep --dry-run --json) and lists the orphans it would
    end as C(orphans), ending nothing.
  - Survivors after the timeout (upgrader exit 3) fail the task, naming them.
author:
  - llm-upgrade contributors
requirements:
  - The C(llm-upgrade) executable on the managed host.
options:
  install_dir:
    description:
      - The install's roots (C(--install-dir), repeatable); a string is one root (a
        comma-separated string is split into several).
      - At least one of I(install_dir) and I(profile) is required.
    type: list
    elements: path
    aliases: [install_dirs]
  profile:
    description: A built-in profile name (C(ollama)) or the path of a profile JSON file on the host (C(--profile)).
    type: str
  timeout:
    description: How long the orphans may take to go (C(--timeout)); C(500ms), C(30s), C(2m) or a bare number of seconds.
    type: str
  grace:
    description: How long they get after the polite request before they are forced (C(--grace)).
    type: str
  upgrader:
    description: Path of the C(llm-upgrade) executable on the managed host. Default - C(llm-upgrade) on PATH.
    type: path
notes:
  - Supports check mode (C(--dry-run)).
seealso:
  - module: llm_upgrade.fleet.facts
'''

EXAMPLES = r'''
- name: List the orphans a sweep would end (run with --check)
  llm_upgrade.fleet.sweep:
    install_dir: /opt/ollama
  check_mode: true
  register: would_sweep

- name: End orphaned engines everywhere
  llm_upgrade.fleet.sweep:
    profile: ollama
    grace: 2s
'''

RETURN = r'''
orphans:
  description: The orphans found (in check mode, the ones a real run would end).
  returned: always
  type: list
  elements: dict
stopped:
  description: The processes the sweep ended, each with C(how) (exited, terminated, killed); empty in check mode.
  returned: always
  type: list
  elements: dict
survivors:
  description: In-scope processes still alive after the timeout.
  returned: always
  type: list
  elements: dict
duration_ms:
  description: How long the sweep took (the upgrader's C(durationMs)); null when not reported.
  returned: always
  type: int
upgrader_result:
  description: The upgrader's whole JSON document.
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llm_upgrade.fleet.plugins.module_utils.llm_upgrade import (
    SCOPE_ARGUMENT_SPEC,
    duration,
    fail_from_upgrader,
    run_upgrader,
    scope_args,
)


def describe(p):
    return "pid %s %s (%s)" % (p.get('pid'), p.get('name'), p.get('exe'))


def main():
    argument_spec = dict(timeout=dict(type='str'), grace=dict(type='str'))
    argument_spec.update(SCOPE_ARGUMENT_SPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_one_of=[('install_dir', 'profile')],
        supports_check_mode=True,
    )
    args = ['sweep'] + scope_args(module)
    for name in ('timeout', 'grace'):
        value = duration(module, name)
        if value:
            args += ['--' + name, value]
    if module.check_mode:
        args.append('--dry-run')
    rc, doc, out, err, cmd = run_upgrader(module, args)

    def lst(key):
        value = doc.get(key) if isinstance(doc, dict) else None
        return value if isinstance(value, list) else []

    stopped, survivors, plan = lst('stopped'), lst('survivors'), lst('plan')
    if rc != 0 or not isinstance(doc, dict) or doc.get('ok') is False:
        extra = dict(stopped=stopped, survivors=survivors, orphans=plan, changed=bool(stopped))
        if isinstance(doc, dict) and not isinstance(doc.get('error'), dict) and survivors:
            extra['msg'] = "llm-upgrade sweep exited %s: still running after the timeout: %s" % (rc, ', '.join(describe(p) for p in survivors))
        fail_from_upgrader(module, rc, doc, out, err, cmd, **extra)

    # The plan is what the sweep set out to end (the dry run's list); older upgraders without
    # it: the stopped processes (real run).
    orphans = plan or [p for p in stopped if p.get('orphan', True)]
    changed = bool(orphans) if module.check_mode else bool(stopped)
    duration_ms = doc.get('durationMs')
    module.exit_json(
        changed=changed,
        orphans=orphans,
        stopped=[] if module.check_mode else stopped,
        survivors=survivors,
        duration_ms=duration_ms if isinstance(duration_ms, (int, float)) else None,
        dry_run=bool(module.check_mode),
        upgrader_result=doc,
        cmd=cmd,
    )


if __name__ == '__main__':
    main()
