# Sourced by scripts/test-jvm.sh and scripts/build-apk.sh: installs, once, the JVM and Android build tools they use.
# Every step is skipped when its result is already there, so a warm run costs nothing.
#
#   ensure_debs PKG...      Debian packages of this machine's release (apt-get update at most once per run)
#   ensure_android_sdk      android.jar (API 23) and dx, from Debian bullseye's libandroid-23-java and dalvik-exchange:
#                           downloaded with a private apt configuration (its own sources list, state and cache under
#                           $FACECHECK_ANDROID_TOOLS) and unpacked there; the system's apt sources are not touched.
#                           Sets ANDROID_JAR and DX_JAR.

FACECHECK_ANDROID_TOOLS="${FACECHECK_ANDROID_TOOLS:-$HOME/.cache/facecheck-android}"
_fc_apt_updated=0

_fc_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_debs() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing ${missing[*]}" >&2
  if [ "$_fc_apt_updated" -eq 0 ]; then
    _fc_as_root apt-get update -qq
    _fc_apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive _fc_as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null 2> >(grep -v 'apt-utils is not installed' >&2)
}

ensure_android_sdk() {
  local root="$FACECHECK_ANDROID_TOOLS/bullseye"
  ANDROID_JAR="$root/usr/share/java/com.android.android-23.jar"
  DX_JAR="$root/usr/share/java/com.android.dx-10.0.0.jar"
  if [ -s "$ANDROID_JAR" ] && [ -s "$DX_JAR" ]; then
    return 0
  fi
  echo "fetching android.jar (API 23) and dx from Debian bullseye into $FACECHECK_ANDROID_TOOLS" >&2
  local apt="$FACECHECK_ANDROID_TOOLS/apt"
  mkdir -p "$apt/sources.list.d" "$apt/state/lists/partial" "$apt/cache/archives/partial" "$apt/debs" "$root"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main" \
    >"$apt/sources.list"
  touch "$apt/state/status"
  local opts=(
    -o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=$apt/sources.list.d"
    -o "Dir::State=$apt/state" -o "Dir::State::status=$apt/state/status" -o "Dir::Cache=$apt/cache"
    -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1" -o "Acquire::Languages=none"
  )
  local target # only the package lists: no AppStream metadata or icons
  for target in DEP-11 DEP-11-icons DEP-11-icons-small DEP-11-icons-large DEP-11-icons-hidpi DEP-11-icons-large-hidpi; do
    opts+=(-o "Acquire::IndexTargets::deb::$target::DefaultEnabled=false")
  done
  apt-get "${opts[@]}" update -qq
  (cd "$apt/debs" && apt-get "${opts[@]}" download -qq libandroid-23-java dalvik-exchange)
  local deb
  for deb in "$apt"/debs/*.deb; do
    dpkg-deb -x "$deb" "$root"
  done
  [ -s "$ANDROID_JAR" ] && [ -s "$DX_JAR" ]
}
