"""The compose proxy's nginx configuration (config/nginx/casefile.conf.template), filled in as
nginx's image fills it in, for a real nginx run by a test or a benchmark on loopback."""

from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "config" / "nginx" / "casefile.conf.template"


def nginx_config(folder: Path, *, port: int, upstream_port: int, max_body_size: str) -> Path:
    """Write nginx.conf (and the server block it includes) into `folder`: nginx listens on
    127.0.0.1:`port` and proxies to 127.0.0.1:`upstream_port`. Returns the nginx.conf path,
    for `nginx -p folder -c path`."""
    server = (
        TEMPLATE.read_text()
        .replace("${PROXY_MAX_BODY_SIZE}", max_body_size)
        .replace("server web:8000;", f"server 127.0.0.1:{upstream_port};")
        .replace("listen 8080;", f"listen 127.0.0.1:{port};")
    )
    (folder / "casefile.conf").write_text(server)
    folder.chmod(0o777)
    config = folder / "nginx.conf"
    config.write_text(
        f"daemon off;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
        "events {}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {folder}/body;\n"
        f"  proxy_temp_path {folder}/proxy;\n  include {folder}/casefile.conf;\n}}\n"
    )
    return config
