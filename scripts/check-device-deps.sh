#!/usr/bin/env bash
# The device-side crates (facecheck, facecheck-jni, facecheck-attest) stay network-free (issue 9): their normal
# dependency trees, for the host and for Android, hold no HTTP, socket, TLS or async-runtime crate. Only
# facecheck-fleet may touch the network.
#
# As a control that the check can fail, the same scan must find tokio in facecheck-fleet's tree when that crate is in
# the workspace (a scan that silently read nothing would otherwise pass).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/facecheck-target}"

device=(-p facecheck -p facecheck-jni -p facecheck-attest)
targets=("$(rustc -vV | sed -n 's/^host: //p')" aarch64-linux-android)

# Exact names, then name prefixes (families such as tokio-util, hyper-util, sqlx-core, tokio-rustls).
forbidden='^(tokio|hyper|reqwest|ureq|axum|sqlx|async-std|async-io|async-net|async-executor|async-global-executor|smol|mio|socket2|h2|h3|quinn|rustls|native-tls|openssl|curl|isahc|surf|attohttpc|minreq|http|http-body|httparse|tower|tungstenite|warp|actix|tonic|hickory|trust-dns|libp2p|polling|postgres|tokio-postgres|rusqlite|libsqlite3-sys|websocket|zmq)$'
forbidden_prefix='^(tokio-|hyper-|sqlx-|rustls-|tower-|actix-|quinn-|hickory-|trust-dns-|async-std-|tungstenite-|h3-|http-body-|tonic-|libp2p-|native-tls-)'

# Crate names (no version) of the normal-edge tree of the given packages for one target.
tree_names() {
  local target="$1"
  shift
  cargo tree "$@" -e normal --target "$target" --prefix none -f '{p}' --quiet | awk 'NF {print $1}' | sort -u
}

status=0
for target in "${targets[@]}"; do
  names="$(tree_names "$target" "${device[@]}")"
  count="$(wc -l <<<"$names")"
  # The tree must really have been read: the device crates and their crypto are in it.
  for must in facecheck facecheck-attest facecheck-jni ring; do
    if ! grep -qx "$must" <<<"$names"; then
      echo "check-device-deps: $target: $must missing from the tree; cannot trust the scan" >&2
      exit 1
    fi
  done
  bad="$( (grep -E "$forbidden" <<<"$names" || true; grep -E "$forbidden_prefix" <<<"$names" || true) | sort -u)"
  if [ -n "$bad" ]; then
    status=1
    echo "check-device-deps: $target: network/async crates in the device-side tree:" >&2
    for crate in $bad; do
      echo "  $crate, pulled in by:" >&2
      cargo tree "${device[@]}" -e normal --target "$target" -i "$crate" --quiet 2>&1 | sed 's/^/    /' >&2 || true
    done
  else
    echo "check-device-deps: $target: $count crates, none of them network, socket, TLS or async-runtime"
  fi
done

# Control: the fleet service's own tree must be flagged by the same scan.
if cargo metadata --no-deps --format-version 1 --quiet | grep -q '"name":"facecheck-fleet"'; then
  fleet="$(tree_names "${targets[0]}" -p facecheck-fleet)"
  if ! grep -qx tokio <<<"$fleet" || [ -z "$(grep -E "$forbidden" <<<"$fleet")" ]; then
    echo "check-device-deps: control failed: the scan does not see tokio in facecheck-fleet's tree" >&2
    exit 1
  fi
  echo "check-device-deps: control: the scan flags facecheck-fleet ($(grep -cE "$forbidden|$forbidden_prefix" <<<"$fleet") crates)"
fi
exit "$status"
