#!/usr/bin/env bash
# The Debian package as an operator installs it: build it with cargo-deb, install it with dpkg,
# check what landed (binary, user, /etc/crmgate ownership, the unit and its sandboxing), run the
# service's own commands as the service user (the pre-start check, then serve: healthz answers,
# SIGTERM stops it cleanly), and remove it again. Needs root (or sudo); run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/../.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

command -v cargo-deb >/dev/null 2>&1 || cargo install --locked cargo-deb@3.8.0
cargo deb
deb=$(ls -t target/debian/crmgate_*.deb | head -1)
$SUDO dpkg -i "$deb"

fail() { echo "package check: $*" >&2; exit 1; }
/usr/bin/crmgate --version | grep -q crmgate || fail "no crmgate binary"
getent passwd crmgate >/dev/null || fail "no crmgate user"
[ "$(stat -c %U:%a /etc/crmgate)" = "crmgate:750" ] || fail "/etc/crmgate: $(stat -c %U:%a /etc/crmgate)"
[ "$(stat -c %U:%a /etc/crmgate/apps.toml)" = "crmgate:640" ] || fail "apps.toml: $(stat -c %U:%a /etc/crmgate/apps.toml)"
unit=/lib/systemd/system/crmgate.service
[ -f "$unit" ] || unit=/usr/lib/systemd/system/crmgate.service
[ -f "$unit" ] || fail "no systemd unit"
for setting in "User=crmgate" "ProtectSystem=strict" "NoNewPrivileges=yes" "StateDirectory=crmgate" \
    "ExecStartPre=/usr/bin/crmgate check --config /etc/crmgate/crmgate.toml"; do
  grep -qx "$setting" "$unit" || fail "the unit lacks $setting"
done
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify "$unit" 2>&1 | grep -v "^$" | grep -iv "not booted\|Failed to connect" || true
fi
grep -q "/etc/crmgate/apps.toml" /var/lib/dpkg/info/crmgate.conffiles || fail "configs are not conffiles"

# What the unit runs, as the unit's user (systemd itself may not run here).
$SUDO mkdir -p /var/lib/crmgate && $SUDO chown crmgate:crmgate /var/lib/crmgate && $SUDO chmod 0700 /var/lib/crmgate
as_crmgate() { $SUDO runuser -u crmgate -- "$@"; }
as_crmgate /usr/bin/crmgate check --config /etc/crmgate/crmgate.toml
log=$(mktemp)
as_crmgate /usr/bin/crmgate serve --config /etc/crmgate/crmgate.toml >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS http://127.0.0.1:8080/gateway/healthz >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS http://127.0.0.1:8080/gateway/healthz | grep -q '"ok"' || { cat "$log"; fail "healthz"; }
[ -f /var/lib/crmgate/gateway.key ] || fail "no key in the state directory"
$SUDO kill -TERM "$(pgrep -u crmgate -f 'crmgate serve')"
wait "$pid" || { cat "$log"; fail "serve did not exit cleanly on SIGTERM"; }

$SUDO dpkg -r crmgate
[ ! -e /usr/bin/crmgate ] || fail "the binary stayed after dpkg -r"
$SUDO dpkg -P crmgate >/dev/null
echo "package check: ok ($deb)"
