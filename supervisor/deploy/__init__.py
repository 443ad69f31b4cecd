"""``python -m supervisor deploy systemd|container|kubernetes``: the files that let the
engines operators already run place and restart a site's supervisors (pure: each
module renders text from the site's config; :mod:`supervisor.cli_deploy` writes it).

- :mod:`~supervisor.deploy.systemd`: a unit per host (``Type=notify``, a watchdog fed
  by the supervisor's loop, restart limits, hardening);
- :mod:`~supervisor.deploy.container`: one image file for every host, the host chosen
  by argument, nothing fetched at run time;
- :mod:`~supervisor.deploy.kubernetes`: a StatefulSet and a Service per host, the site's
  config with the hosts' Service names as addresses, the keys as a Secret.
"""
