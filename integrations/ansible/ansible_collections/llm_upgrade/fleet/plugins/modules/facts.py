#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: llm-upgrade contributors
# MIT License (see the collection's galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: facts
short_description: Inventory of an LLM runner install - version, processes, orphans, holders, GPU memory
version_added: "1.0.0"
description:
  - Runs C(llm-upgrade status --json) on the managed host and returns what it reports as
    C(llm_upgrade), and the same as the fact C(ansible_facts.llm_upgrade).
  - Read-only, so it runs the same in check mode. Use it before a rollout for a per-host
    inventory (the "fleet dry-run inventory") and after it to verify the version.
author:
  - llm-upgrade contributors
requirements:
  - The C(llm-upgrade) executable on the managed host.
options:
  install_dir:
    description:
      - The install's roots (C(--install-dir), repeatable); a string is one root (a
        comma-separated string is split into several).
      - Without I(install_dir) and I(profile) the upgrader's default applies (the built-in
        C(ollama) profile and its default install locations).
    type: list
    elements: path
    aliases: [install_dirs]
  profile:
    description: A built-in profile name (C(ollama)) or the path of a profile JSON file on the host (C(--profile)).
    type: str
  upgrader:
    description: Path of the C(llm-upgrade) executable on the managed host. Default - C(llm-upgrade) on PATH.
    type: path
notes:
  - Supports check mode (it changes nothing either way).
seealso:
  - module: llm_upgrade.fleet.upgrade
  - module: llm_upgrade.fleet.sweep
'''

EXAMPLES = r'''
- name: Inventory every host's install before touching anything
  llm_upgrade.fleet.facts:
    install_dir: /opt/ollama
    upgrader: /usr/local/bin/llm-upgrade

- name: Hosts with orphaned engines
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: {{ ansible_facts.llm_upgrade.version }}, {{ ansible_facts.llm_upgrade.orphans | length }} orphan(s)"
'''

RETURN = r'''
llm_upgrade:
  description: The install as C(llm-upgrade status --json) reports it (also set as C(ansible_facts.llm_upgrade)).
  returned: always
  type: dict
  contains:
    version:
      description: The installed version (from llm-upgrade's installed state, else the profile's version command); null when unknown.
      returned: always
      type: str
      sample: 0.12.3
    processes:
      description: The install's running processes (pid, ppid, name, exe, cmdline, startTime, role, inScope, orphan).
      returned: always
      type: list
      elements: dict
    orphans:
      description: The in-scope processes whose parent is gone (they hold VRAM; M(llm_upgrade.fleet.sweep) ends them).
      returned: always
      type: list
      elements: dict
    holders:
      description: Every process holding a file under the install (pid, name, exe, path, kind, inScope); C(inScope=false) are foreign.
      returned: always
      type: list
      elements: dict
    foreign_holders:
      description:
        - The holders that are not part of the install. One holding a file (C(kind) exe, fd or map)
          makes an upgrade fail with ERR_FILES_HELD; one tied only by its working directory is a warning.
      returned: always
      type: list
      elements: dict
    gpu:
      description: GPU memory held by the install's processes (where nvidia-smi exists).
      returned: always
      type: list
      elements: dict
    complete:
      description: Whether the holder scan could read every process (false means a holder may be missing, never "clean" by accident).
      returned: always
      type: bool
    clean:
      description: No holder was found.
      returned: always
      type: bool
    roots:
      description: The install's roots.
      returned: always
      type: list
      elements: str
    profile:
      description: The profile's name.
      returned: always
      type: str
    installed:
      description: llm-upgrade's installed state (name, version, platform, root), null when llm-upgrade did not install it.
      returned: always
      type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llm_upgrade.fleet.plugins.module_utils.llm_upgrade import (
    SCOPE_ARGUMENT_SPEC,
    fail_from_upgrader,
    run_upgrader,
    scope_args,
)


def as_list(value):
    return value if isinstance(value, list) else []


def main():
    module = AnsibleModule(argument_spec=dict(SCOPE_ARGUMENT_SPEC), supports_check_mode=True)
    rc, doc, out, err, cmd = run_upgrader(module, ['status'] + scope_args(module))
    if rc != 0 or not isinstance(doc, dict) or doc.get('ok') is False:
        fail_from_upgrader(module, rc, doc, out, err, cmd)

    holders = doc.get('holders')
    # status reports holders as {clean, complete, holders: [...], unknown: [...]}; take a bare list too.
    if isinstance(holders, dict):
        holder_list = as_list(holders.get('holders'))
        complete = holders.get('complete')
        clean = holders.get('clean')
    else:
        holder_list = as_list(holders)
        complete = None
        clean = None
    if isinstance(doc.get('complete'), bool):
        complete = doc['complete']
    facts = dict(
        version=doc.get('version'),
        processes=as_list(doc.get('processes')),
        orphans=as_list(doc.get('orphans')),
        holders=holder_list,
        foreign_holders=[h for h in holder_list if isinstance(h, dict) and h.get('inScope') is False],
        gpu=as_list(doc.get('gpu')),
        complete=complete,
        clean=clean if isinstance(clean, bool) else not holder_list,
        roots=as_list(doc.get('roots')),
        profile=doc.get('profile'),
        installed=doc.get('installed'),
    )
    module.exit_json(changed=False, llm_upgrade=facts, ansible_facts=dict(llm_upgrade=facts), cmd=cmd)


if __name__ == '__main__':
    main()
