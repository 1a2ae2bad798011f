#!/usr/bin/env bash
# Installs the real clients the end-to-end tests drive (Debian): litmus and curl (WebDAV), OpenSSH sftp and lftp
# with sshpass (SFTP), and fuse3 + libfuse3-dev (the FUSE binding that npm ci builds, and the kernel
# mount tests). Run as root (or through sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends litmus openssh-client sshpass curl ca-certificates lftp fuse3 libfuse3-dev pkg-config libnfs-utils >/dev/null
echo "test clients installed: $(command -v litmus) $(command -v sftp) $(command -v sshpass) $(command -v curl) $(command -v lftp)"
