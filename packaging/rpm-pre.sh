getent group solarcam-bridge >/dev/null || groupadd --system solarcam-bridge
getent passwd solarcam-bridge >/dev/null || useradd --system --gid solarcam-bridge \
    --no-create-home --home-dir /var/lib/solarcam-bridge --shell /sbin/nologin \
    --comment "solarcam-bridge service" solarcam-bridge
exit 0
