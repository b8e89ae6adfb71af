"""Session-wide checks of the end-to-end run (see secret_scan.py)."""

import pytest

from secret_scan import leaks


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    logs, found = leaks(factory.getbasetemp())
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if found:
        if reporter:
            reporter.write_line("SECRETS IN LOGS:\n  " + "\n  ".join(sorted(set(found))[:50]), red=True)
        session.exitstatus = 1
    elif reporter:
        reporter.write_line(f"secret scan: {len(logs)} log files, no key material or API key in them")
