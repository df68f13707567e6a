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

# Headless Chromium runs the browser call test (two pages placing a WebRTC call through the Gateway).
ensure_chromium() {
  if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then return 0; fi
  say "platform: installing Chromium from the OS packages (for the browser call test)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
}
