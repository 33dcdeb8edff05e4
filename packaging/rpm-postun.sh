systemctl daemon-reload >/dev/null 2>&1 || true
if [ "$1" -eq 0 ]; then
    rm -rf /var/lib/solarcam-bridge
fi
exit 0
