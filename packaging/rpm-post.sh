chown root:solarcam-bridge /etc/solarcam-bridge /etc/solarcam-bridge/config.yaml
chmod 0750 /etc/solarcam-bridge
chmod 0640 /etc/solarcam-bridge/config.yaml
if [ "$1" -eq 1 ]; then
    # First install: enabled, not started until the configuration is edited.
    systemctl enable solarcam-bridge.service >/dev/null 2>&1 || true
    echo "solarcam-bridge is installed and enabled, but not started: edit /etc/solarcam-bridge/config.yaml,"
    echo "check it with 'solarcam-bridge check-config --config /etc/solarcam-bridge/config.yaml',"
    echo "then: systemctl start solarcam-bridge"
else
    systemctl daemon-reload >/dev/null 2>&1 || true
    systemctl try-restart solarcam-bridge.service >/dev/null 2>&1 || true
fi
exit 0
