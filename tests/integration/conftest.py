from tests.integration.servers import java, servers_venv, strace  # noqa: F401 (fixtures)
