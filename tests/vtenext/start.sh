#!/usr/bin/env bash
# Starts the real vtenext CE 20.04.3 (../shared/vtenext, unmodified) on loopback for
# tests/real_crm.rs, and prints the path of its crm.env.
#
#   bash tests/vtenext/start.sh [DIR] [PORT]     DIR default /tmp/vtenext-crm, PORT 18091
#
# The shared setup.sh runs from a working copy under DIR, with what this machine needs:
#  - VTENEXT_DEBIAN_URL is set from the machine's deb822 sources (setup.sh greps a
#    /etc/apt/sources.list that Debian 12 images no longer have, and under `set -e -o pipefail`
#    the failed grep ends the script);
#  - the Debian 11 sources it writes for PHP 7.4 get the mirror substituted (its heredoc is
#    quoted, so apt read the literal `${DEBIAN_MIRROR}` and refused the file).
# Nothing of the CRM itself is changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-/tmp/vtenext-crm}
port=${2:-18091}
shared=${CRMGATE_SHARED:-}
for candidate in "$shared" "$here/../../../shared/vtenext" /work/shared/vtenext; do
	if [ -n "$candidate" ] && [ -f "$candidate/setup.sh" ]; then shared=$(cd "$candidate" && pwd); break; fi
done
[ -f "$shared/setup.sh" ] || { echo "start.sh: no shared/vtenext/setup.sh found (set CRMGATE_SHARED)" >&2; exit 1; }

mkdir -p "$dir/setup-copy"
copy=$dir/setup-copy
ln -sf "$shared/vtenext-ce-20.04.3.tar.xz" "$copy/"
ln -sf "$shared/seed-users.php" "$copy/"
sed -e "s|cat > \"\$A/sources.d/bullseye.sources\" <<-'EOF'|cat > \"\$A/sources.d/bullseye.sources\" <<-EOF|" \
	"$shared/setup.sh" > "$copy/setup.sh"
chmod 755 "$copy" "$dir"

if [ -z "${VTENEXT_DEBIAN_URL:-}" ]; then
	mirror=$(grep -rhoE '^URIs: *https?://[^ ]+/debian$' /etc/apt/sources.list.d 2>/dev/null | head -1 | sed 's/^URIs: *//' || true)
	export VTENEXT_DEBIAN_URL=${mirror:-http://deb.debian.org/debian}
fi
bash "$copy/setup.sh" start "$dir" "$port" >&2
echo "$dir/run/crm.env"
