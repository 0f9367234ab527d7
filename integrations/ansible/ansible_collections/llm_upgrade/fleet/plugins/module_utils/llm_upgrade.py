# -*- coding: utf-8 -*-
# Copyright: llm-upgrade contributors
# MIT License (see the collection's galaxy.yml)
"""Shared helpers of the llm_upgrade.fleet modules.

Every module runs the ``llm-upgrade`` executable on the managed host with ``--json`` and maps
its one JSON document; nothing of the upgrade itself is reimplemented here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

# Options every module shares: where the upgrader is and what the install is.
SCOPE_ARGUMENT_SPEC = dict(
    install_dir=dict(type='list', elements='path', aliases=['install_dirs']),
    profile=dict(type='str'),
    upgrader=dict(type='path'),
)

_DURATION = re.compile(r'^\d+(\.\d+)?(ms|s|m|h)?$')


def duration(module, name):
    """An upgrader duration (``500ms``, ``5s``, ``2m``) from a str or int parameter; bare numbers are seconds."""
    value = module.params.get(name)
    if value is None:
        return None
    text = str(value).strip()
    if not _DURATION.match(text):
        module.fail_json(msg="%s must be a duration such as 500ms, 5s or 2m (a bare number is seconds), got %r" % (name, value))
    if text[-1].isdigit():
        text += 's'
    return text


def find_upgrader(module):
    """The llm-upgrade executable on the host: the ``upgrader`` parameter, else ``llm-upgrade`` on PATH."""
    upgrader = module.params.get('upgrader')
    if upgrader:
        if not os.path.exists(upgrader):
            module.fail_json(
                msg="the upgrader %s does not exist on this host" % upgrader,
                hint="Distribute it first (the llm_upgrade.fleet.rollout role copies it) or set upgrader to its path.",
            )
        if not os.access(upgrader, os.X_OK):
            module.fail_json(msg="the upgrader %s is not executable" % upgrader, hint="chmod 0755 it (the rollout role copies it with mode 0755).")
        return upgrader
    found = module.get_bin_path('llm-upgrade')
    if not found:
        module.fail_json(
            msg="llm-upgrade was not found on PATH on this host",
            hint="Install it, or set upgrader to the path of the llm-upgrade executable.",
        )
    return found


def scope_args(module):
    """``--install-dir PATH`` (repeatable) and ``--profile NAME|FILE`` from the module's parameters."""
    args = []
    for d in module.params.get('install_dir') or []:
        args += ['--install-dir', d]
    if module.params.get('profile'):
        args += ['--profile', module.params['profile']]
    return args


def run_upgrader(module, args):
    """Runs ``upgrader args... --json`` and returns (rc, document or None, stdout, stderr, cmd)."""
    cmd = [find_upgrader(module)] + list(args) + ['--json']
    rc, out, err = module.run_command(cmd, check_rc=False, environ_update={'NO_COLOR': '1'})
    doc = None
    text = (out or '').strip()
    if text:
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
    return rc, doc, out, err, cmd


def fail_from_upgrader(module, rc, doc, out, err, cmd, **extra):
    """A task failure carrying the upgrader's error code, message and hint (its JSON ``error`` object)."""
    error = doc.get('error') if isinstance(doc, dict) and isinstance(doc.get('error'), dict) else {}
    code = error.get('code')
    message = error.get('message')
    hint = error.get('hint')
    if not message:
        if doc is None:
            message = "llm-upgrade exited %s without a JSON document on stdout" % rc
        else:
            message = "llm-upgrade exited %s" % rc
        tail = (err or '').strip().splitlines()
        if tail:
            message += ": " + tail[-1]
    msg = "%s: %s" % (code, message) if code else message
    if hint:
        msg += " (hint: %s)" % hint
    details = error.get('details') if isinstance(error.get('details'), dict) else {}
    result = dict(
        msg=msg,
        rc=rc,
        error_code=code,
        error_message=message,
        hint=hint,
        phase=error.get('phase'),
        changed=bool(error.get('changed', False)),
        rolled_back=bool(details.get('rolledBack', False)),
        details=details,
        upgrader_result=doc,
        cmd=cmd,
        stdout=out,
        stderr=err,
    )
    result.update(extra)
    module.fail_json(**result)
