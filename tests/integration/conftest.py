from tests.integration.servers import java, servers_venv  # noqa: F401 (fixtures)
