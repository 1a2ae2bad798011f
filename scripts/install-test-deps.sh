#!/usr/bin/env bash
# Installs the real clients the end-to-end tests drive (Debian): litmus and curl (WebDAV), OpenSSH sftp and lftp
# with sshpass (SFTP). Run as root (or through sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends litmus openssh-client sshpass curl ca-certificates lftp >/dev/null
echo "test clients installed: $(command -v litmus) $(command -v sftp) $(command -v sshpass) $(command -v curl) $(command -v lftp)"
