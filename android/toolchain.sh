# Sourced by scripts/test-jvm.sh and scripts/build-apk.sh: installs, once, the JVM and Android build tools they use.
# Every step is skipped when its result is already there, so a warm run costs nothing.
#
#   ensure_debs PKG...      Debian packages of this machine's release (apt-get update at most once per run)
#   ensure_android_sdk      android.jar (API 23) and dx, from Debian bullseye's libandroid-23-java and dalvik-exchange:
#                           the two .debs, pinned by SHA-256, fetched with apt's own downloader (apt-helper) from the
#                           Debian mirror of this machine's apt configuration (or from FACECHECK_ANDROID_DEBS, a
#                           directory holding them), and unpacked under $FACECHECK_ANDROID_TOOLS; the system's apt
#                           sources are not touched. Sets ANDROID_JAR and DX_JAR.

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

# Debian bullseye's android.jar (API 23) and dx, pinned: the pool path and the SHA-256 that bullseye's signed
# package index lists for them (bullseye main, libandroid-23-java 6.0.1+r72-6, dalvik-exchange 10.0.0+r36-1). A
# mirror, a proxy or an archive copy cannot substitute another file: apt-helper checks the digest while fetching.
_FC_BULLSEYE_DEBS=(
  "pool/main/a/android-framework-23/libandroid-23-java_6.0.1+r72-6_all.deb 8af1b6df556971dda0a6da3536ea526a838e0c363afcdd454213d8bce94793e3"
  "pool/main/a/android-platform-dalvik/dalvik-exchange_10.0.0+r36-1_all.deb 8fc128db7c27253d963eb9b33de79b197162a4749d2ba69019b2fd0664cbd7fe"
)

# The Debian mirror this machine's apt uses: the URI of its `main` component for the release it runs (from apt's
# own configuration, `apt-get indextargets`), so no host name is written here. FACECHECK_DEBIAN_MIRROR overrides it.
_fc_debian_mirror() {
  if [ -n "${FACECHECK_DEBIAN_MIRROR:-}" ]; then
    echo "${FACECHECK_DEBIAN_MIRROR%/}"
    return 0
  fi
  local codename
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  apt-get indextargets --no-release-info --format '$(TARGET_OF) $(REPO_URI) $(RELEASE) $(COMPONENT)' 2>/dev/null |
    awk -v release="$codename" '$1 == "deb" && $3 == release && $4 == "main" { sub("/$", "", $2); print $2; exit }'
}

ensure_android_sdk() {
  local root="$FACECHECK_ANDROID_TOOLS/bullseye"
  ANDROID_JAR="$root/usr/share/java/com.android.android-23.jar"
  DX_JAR="$root/usr/share/java/com.android.dx-10.0.0.jar"
  if [ -s "$ANDROID_JAR" ] && [ -s "$DX_JAR" ]; then
    return 0
  fi
  local debs="$FACECHECK_ANDROID_TOOLS/debs"
  mkdir -p "$debs" "$root"
  local mirror
  mirror=$(_fc_debian_mirror)
  if [ -z "$mirror" ]; then
    echo "error: no Debian mirror for this release's main component in apt's configuration;" \
      "set FACECHECK_DEBIAN_MIRROR (a Debian mirror URL) or FACECHECK_ANDROID_DEBS (a directory with the .debs)" >&2
    return 1
  fi
  # Where bullseye's pool is: the mirror itself while it carries bullseye, then (bullseye left long-term support
  # in 2026 and moves to Debian's archive) the archive that deb.debian.org and many mirrors serve beside it, at
  # `debian-archive/debian`. Both are reached through apt (its proxies and authentication).
  local bases=("$mirror")
  case "$mirror" in */debian) bases+=("${mirror%/debian}/debian-archive/debian") ;; esac
  echo "fetching android.jar (API 23) and dx (Debian bullseye) into $FACECHECK_ANDROID_TOOLS" >&2
  local entry path sha file base ok
  for entry in "${_FC_BULLSEYE_DEBS[@]}"; do
    path=${entry% *}
    sha=${entry#* }
    file="$debs/${path##*/}"
    if [ -n "${FACECHECK_ANDROID_DEBS:-}" ] && [ -f "$FACECHECK_ANDROID_DEBS/${path##*/}" ]; then
      cp "$FACECHECK_ANDROID_DEBS/${path##*/}" "$file"
    fi
    if ! { [ -f "$file" ] && echo "$sha  $file" | sha256sum --check --status; }; then
      rm -f "$file"
      ok=0
      for base in "${bases[@]}"; do
        if /usr/lib/apt/apt-helper download-file "$base/$path" "$file" "SHA256:$sha" >/dev/null 2>&1; then
          ok=1
          break
        fi
        echo "note: $base/$path: not available" >&2
      done
      if [ "$ok" -eq 0 ]; then
        echo "error: ${path##*/} (sha256 $sha) is on none of: ${bases[*]};" \
          "put it in a directory named by FACECHECK_ANDROID_DEBS" >&2
        return 1
      fi
    fi
    # apt-helper checked the digest; check it again for files that came from FACECHECK_ANDROID_DEBS or a cache.
    echo "$sha  $file" | sha256sum --check --status || { echo "error: $file: sha256 mismatch" >&2; return 1; }
    dpkg-deb -x "$file" "$root"
  done
  [ -s "$ANDROID_JAR" ] && [ -s "$DX_JAR" ]
}
