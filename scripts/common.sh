# Shared by run.sh and test.sh: sourced, not run.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { printf '%s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "error: '$*' needs root; run as root or install sudo" >&2; return 1; fi
}

# The SDK named in global.json (10.0): Ubuntu serves it as dotnet-sdk-10.0; elsewhere it must be installed first.
ensure_dotnet() {
  if command -v dotnet >/dev/null && dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then return 0; fi
  say "platform: installing the .NET 10 SDK from the OS packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dotnet-sdk-10.0 >/dev/null; then
    say "error: the .NET 10 SDK is not installed and the OS packages do not have it." >&2
    say "       Install it (https://learn.microsoft.com/dotnet/core/install/linux), then run this command again." >&2
    return 1
  fi
}

# Node.js and npm run the official JavaScript SignalR client in the end-to-end tests.
ensure_node() {
  if command -v node >/dev/null && command -v npm >/dev/null; then return 0; fi
  say "platform: installing Node.js and npm from the OS packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
}

# The web app's build (Vite 8) needs Node.js 20.19+ (or 22.12+); Debian 12 and Ubuntu 24.04 package Node 18.
node_builds_web_app() {
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null
}

# Headless Chromium runs the browser call test (two pages placing a WebRTC call through the Gateway) and the web app's
# browser tests; an emoji font, so reactions in their screenshot (docs/web-app.png) are not empty boxes.
ensure_chromium() {
  if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
    [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || ! command -v apt-get >/dev/null \
      || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-noto-color-emoji >/dev/null 2>&1 || true
    return 0
  fi
  say "platform: installing Chromium from the OS packages (for the browser tests)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-noto-color-emoji >/dev/null
}

# tests/Deploy.Tests renders deploy/k8s with kustomize: a kustomize binary, or the one built into kubectl (1.27+ ships
# kustomize v5). The Debian-based images this project runs on carry kubectl; elsewhere it comes from the apt
# repository that provides it (pkgs.k8s.io or the Google Cloud SDK one), if configured.
ensure_kustomize() {
  if command -v kustomize >/dev/null || command -v kubectl >/dev/null; then return 0; fi
  say "platform: installing kubectl (for kustomize) from the OS packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kubectl >/dev/null 2>&1; then
    say "error: neither kustomize nor kubectl is installed, and no configured apt repository has kubectl." >&2
    say "       Install kubectl 1.27+ or kustomize 5 (https://kubectl.docs.kubernetes.io/installation/), then run this again." >&2
    return 1
  fi
}

# ffmpeg gives Media video posters, durations and voice-note waveforms (about 50 MB, 10-20 s to install);
# Media works without it, but its video and audio tests need it.
ensure_ffmpeg() {
  if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then return 0; fi
  say "platform: installing ffmpeg from the OS packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
}
