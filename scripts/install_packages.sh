# Sourced by scripts/setup.sh and scripts/fuzz.sh: install_packages PKG... installs those of the
# Debian packages that are missing, with --no-install-recommends (as on a minimal Debian 12 root:
# a package that is only recommended by another is not there), through sudo when not root.
install_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}
