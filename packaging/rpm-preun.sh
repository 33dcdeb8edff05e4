if [ "$1" -eq 0 ]; then
    # Removal, not upgrade.
    systemctl disable --now solarcam-bridge.service >/dev/null 2>&1 || true
fi
exit 0
